"""trio's fake network (``trio.testing._fake_net.FakeNet``) for trio's suite
run on lowio.

``FakeNet`` is a test helper of trio's, private by its module path, that
trio's DTLS and fake-network tests use.  It is pure Python built on trio's
public socket hooks (``trio.socket.set_custom_socket_factory`` and
``set_custom_hostname_resolver``, ``trio.abc.SocketFactory`` /
``HostnameResolver``, ``trio.socket.SocketType``), so the tests using it
test lowio's public API once it loads.  ``install`` makes
``import trio.testing._fake_net`` run trio's own file, and gives the three
trio-private names that file uses a lowio counterpart with the same
contract:

* ``trio._util.NoPublicConstructor`` and ``trio._util.final``: lowio's own
  (``Cls(...)`` refused, ``Cls._create(...)`` builds; subclassing refused),
  for that file's import only;
* ``trio._socket._resolve_address_nocp``: lowio's address normalisation for
  ``bind`` / ``connect`` / ``sendto`` (``_resolve_address_nocp`` below).

Only for trio's suite: the mapping lives here, not in lowio's package.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

from lowio._core._exceptions import NoPublicConstructor, final
from lowio._socket_resolve import resolve_address

MODULE = "trio.testing._fake_net"


async def _resolve_address_nocp(
    type: int,  # trio's keyword names
    family: int,
    proto: int,
    *,
    ipv6_v6only: bool | int,
    address: Any,
    local: bool,
) -> Any:
    """trio's private ``_resolve_address_nocp`` signature over lowio's
    ``resolve_address`` (a checkpoint only if it resolves a name, through
    the custom hostname resolver if one is set)."""
    return await resolve_address(type, family, proto, bool(ipv6_v6only), address, local=local)


# (trio module, name) -> the lowio object that stands for it while trio's
# file is imported: it binds them once, at import.  Only then, so that
# trio's tests of its own ``trio._util`` (test_util, test_exports) still
# count as reading trio's internals rather than judging lowio's helpers
# against them (trio's metaclass is itself final, its __module__ "trio").
AT_IMPORT: dict[tuple[str, str], object] = {
    ("trio._util", "NoPublicConstructor"): NoPublicConstructor,
    ("trio._util", "final"): final,
}
# ... and for good: read at call time (``trio._socket._resolve_address_nocp(...)``)
MAPPED: dict[tuple[str, str], object] = {
    ("trio._socket", "_resolve_address_nocp"): _resolve_address_nocp,
}


def _bind(names: dict[tuple[str, str], object]) -> None:
    # into the stand-in's __dict__: its attribute hook (which hands out
    # placeholders for trio-private names) is not consulted then
    for (module, name), value in names.items():
        vars(importlib.import_module(module))[name] = value


class _FakeNetLoader(importlib.machinery.SourceFileLoader):
    """Runs trio's file with ``AT_IMPORT`` bound, and unbinds them after."""

    def exec_module(self, module: types.ModuleType) -> None:
        _bind(AT_IMPORT)
        try:
            super().exec_module(module)
        finally:
            for module_name, name in AT_IMPORT:
                vars(importlib.import_module(module_name)).pop(name, None)


class _FakeNetFinder(importlib.abc.MetaPathFinder):
    """Finds ``trio.testing._fake_net`` as trio's real source file."""

    def __init__(self, source: str) -> None:
        self.source = source

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != MODULE:
            return None
        loader = _FakeNetLoader(fullname, self.source)
        return importlib.util.spec_from_file_location(fullname, self.source, loader=loader)


def install(trio_dir: str) -> None:
    """After ``lowio.install_as_trio(_tests_dir=trio_dir)``: map the names
    above into trio's stand-in modules and make ``trio.testing._fake_net``
    load from ``trio_dir/testing/_fake_net.py`` (on first import).  Raises
    ``FileNotFoundError`` if trio's installed files lack it."""
    source = os.path.join(trio_dir, "testing", "_fake_net.py")
    if not os.path.isfile(source):
        raise FileNotFoundError(f"trio's fake network is not at {source}")
    _bind(MAPPED)
    if not any(isinstance(f, _FakeNetFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _FakeNetFinder(source))
