"""Name resolution for ``lowio.socket``: ``getaddrinfo`` / ``getnameinfo``
in worker threads (never blocking the loop), with trio's fast path for
numeric addresses, the address normalisation of ``bind``/``connect``, and
trio's per-run overrides (``set_custom_hostname_resolver``,
``set_custom_socket_factory``)."""

from __future__ import annotations

import os
import socket as _stdlib_socket
from typing import Any

from ._core._ki import await_unprotected
from ._core._local import GLOBAL_RUN_CONTEXT, no_run_error
from ._core._runvar import RunVar
from ._core._traps import cancel_shielded_checkpoint, checkpoint_if_cancelled

_NUMERIC_ONLY = _stdlib_socket.AI_NUMERICHOST | _stdlib_socket.AI_NUMERICSERV

# ---- per-run overrides (RunVars: each lasts until its run ends) ----

_RESOLVER: RunVar[Any] = RunVar("hostname_resolver", default=None)
_SOCKET_FACTORY: RunVar[Any] = RunVar("socket_factory", default=None)


def _override(var: RunVar[Any]) -> Any:
    """The run's override, None outside a run."""
    if GLOBAL_RUN_CONTEXT.runner is None:
        return None
    return var.get()


def _set_override(var: RunVar[Any], value: Any, what: str) -> Any:
    if GLOBAL_RUN_CONTEXT.runner is None:
        raise no_run_error(what)
    old = var.get()
    var.set(value)
    return old


def set_custom_hostname_resolver(hostname_resolver: Any) -> Any:
    """Makes ``getaddrinfo`` / ``getnameinfo`` (and so every name lookup of
    ``lowio.socket``) call ``hostname_resolver``'s async ``getaddrinfo`` /
    ``getnameinfo`` methods for the rest of this run (``None``: the system
    resolver again).  Numeric addresses still never reach it.  Returns the
    previous resolver.  As trio's; ``RuntimeError`` outside a run."""
    return _set_override(_RESOLVER, hostname_resolver, "set_custom_hostname_resolver()")


def set_custom_socket_factory(socket_factory: Any) -> Any:
    """Makes ``lowio.socket.socket()`` (without ``fileno``) return
    ``socket_factory.socket(family, type, proto)`` for the rest of this run
    (``None``: the default again).  Returns the previous factory.  As
    trio's; ``RuntimeError`` outside a run."""
    return _set_override(_SOCKET_FACTORY, socket_factory, "set_custom_socket_factory()")


def current_socket_factory() -> Any:
    return _override(_SOCKET_FACTORY)


def encode_hostname(hostname: str) -> bytes:
    """The bytes handed to the resolver for ``hostname``: ASCII
    names unchanged, others IDNA 2008 (the ``idna`` package) when
    installed, else Python's IDNA 2003 codec."""
    try:
        return hostname.encode("ascii")
    except UnicodeEncodeError:
        try:
            import idna
        except ImportError:
            return hostname.encode("idna")
        return idna.encode(hostname, uts46=True)


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
            await cancel_shielded_checkpoint()
            raise
    except BaseException:
        # failing is a schedule point too (shielded: the error comes out, not Cancelled)
        await cancel_shielded_checkpoint()
        raise
    else:
        await cancel_shielded_checkpoint()
        return result
    name = encode_hostname(host) if isinstance(host, str) else host
    resolver = _override(_RESOLVER)
    if resolver is not None:
        # user code: not protected from Ctrl-C by lowio's frames
        return await await_unprotected(resolver.getaddrinfo, name, port, family, type, proto, flags)
    result = await _in_thread(_stdlib_socket.getaddrinfo, name, port, family, type, proto, flags)
    return result  # type: ignore[no-any-return]


async def getnameinfo(sockaddr: tuple[Any, ...], flags: int) -> tuple[str, str]:
    """Like ``socket.getnameinfo``, but async (in a worker thread)."""
    resolver = _override(_RESOLVER)
    if resolver is not None:
        return await await_unprotected(resolver.getnameinfo, sockaddr, flags)
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
    are resolved with ``getaddrinfo`` (a worker thread; the first result
    wins), numeric addresses pass unchanged.  A checkpoint if it resolves."""
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
