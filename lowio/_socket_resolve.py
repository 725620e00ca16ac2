"""Name resolution for ``lowio.socket``: ``getaddrinfo`` / ``getnameinfo``
in worker threads (never blocking the loop), with trio's fast path for
numeric addresses, and the address normalisation of ``bind``/``connect``."""

from __future__ import annotations

import os
import socket as _stdlib_socket
from typing import Any

from ._core._traps import cancel_shielded_checkpoint, checkpoint_if_cancelled

_NUMERIC_ONLY = _stdlib_socket.AI_NUMERICHOST | _stdlib_socket.AI_NUMERICSERV


async def _in_thread(fn: Any, *args: Any) -> Any:
    from . import to_thread  # the runtime's thread layer, loaded on first use

    return await to_thread.run_sync(fn, *args, abandon_on_cancel=True)


async def getaddrinfo(
    host: bytes | str | None,
    port: bytes | str | int | None,
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> list[tuple[Any, Any, int, str, Any]]:
    """Like ``socket.getaddrinfo``, but async: numeric hosts and ports are
    resolved at once, names in a worker thread (cancellable).  A checkpoint."""
    await checkpoint_if_cancelled()
    try:
        result = _stdlib_socket.getaddrinfo(host, port, family, type, proto, flags | _NUMERIC_ONLY)
    except _stdlib_socket.gaierror as exc:
        if exc.errno != _stdlib_socket.EAI_NONAME:
            raise
    else:
        await cancel_shielded_checkpoint()
        return result
    name: bytes | None
    if isinstance(host, str):
        try:
            name = host.encode("idna")
        except UnicodeError:
            name = host.encode("ascii", "surrogateescape")
    else:
        name = host
    result = await _in_thread(_stdlib_socket.getaddrinfo, name, port, family, type, proto, flags)
    return result  # type: ignore[no-any-return]


async def getnameinfo(sockaddr: tuple[Any, ...], flags: int) -> tuple[str, str]:
    """Like ``socket.getnameinfo``, but async (in a worker thread)."""
    result = await _in_thread(_stdlib_socket.getnameinfo, sockaddr, flags)
    return result  # type: ignore[no-any-return]


async def getprotobyname(name: str) -> int:
    """Like ``socket.getprotobyname``, but async (in a worker thread)."""
    result = await _in_thread(_stdlib_socket.getprotobyname, name)
    return result  # type: ignore[no-any-return]


async def resolve_address(
    type_: int, family: int, proto: int, v6only: bool, address: Any, *, local: bool
) -> Any:
    """Normalises an address for ``bind`` / ``connect`` / ``sendto``: names
    are resolved (as trio does), numeric addresses pass unchanged."""
    if family == _stdlib_socket.AF_INET:
        if not isinstance(address, tuple) or len(address) != 2:
            raise ValueError("address should be a (host, port) tuple")
    elif family == _stdlib_socket.AF_INET6:
        if not isinstance(address, tuple) or not 2 <= len(address) <= 4:
            raise ValueError("address should be a (host, port, [flowinfo, [scopeid]]) tuple")
    elif family == _stdlib_socket.AF_UNIX:
        if isinstance(address, (str, bytes, os.PathLike)):
            return os.fspath(address)
        return address
    else:
        return address
    host, port, *_ = address
    if isinstance(port, int) and host is not None:
        try:
            _stdlib_socket.inet_pton(family, host)
        except (OSError, TypeError):
            pass
        else:
            return address
    if host == "":
        host = None
    if host == "<broadcast>":
        host = "255.255.255.255"
    flags = _stdlib_socket.AI_PASSIVE if local else 0
    if family == _stdlib_socket.AF_INET6 and not v6only:
        flags |= _stdlib_socket.AI_V4MAPPED
    result = await getaddrinfo(host, port, family, type_, proto, flags)
    normed = result[0][-1]
    if family == _stdlib_socket.AF_INET6:
        parts = list(normed)
        if len(address) >= 3:
            parts[2] = address[2]
        if len(address) >= 4:
            parts[3] = address[3]
        return tuple(parts)
    return normed
