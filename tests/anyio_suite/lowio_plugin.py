"""pytest plugin for running anyio's own test suite with a "lowio"
parametrization next to the built-in backends (see ``run.py``).

Loaded with ``-p lowio_plugin`` before anyio's plugin and anyio's
``tests/conftest.py``, which builds its backend parameters from
``anyio.get_all_backends()``.  It:

* makes ``get_all_backends()`` also return "lowio" (in this process only:
  lowio never adds itself to anyio's ``BACKENDS`` by default);
* registers the backend (``lowio.anyio.register()``: the installed
  ``lowio_anyio.pth`` normally has done it already);
* restores Python's default SIGINT handler, which a job started in the
  background inherits as "ignored" (tests of KeyboardInterrupt need it);
* marks the lowio twins of the tests anyio itself marks as expected to fail
  on trio because of trio semantics lowio shares (``XFAIL_AS_ON_TRIO``);
  they are not run (they would hang until the timeout).
"""

from __future__ import annotations

import signal

import anyio._core._eventloop as _eventloop
import pytest

import lowio.anyio


def _install() -> None:
    lowio.anyio.register()
    if "lowio" not in _eventloop.BACKENDS:
        _eventloop.BACKENDS = (*_eventloop.BACKENDS, "lowio")
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)


_install()  # at import: before anyio's plugin and conftest read the backends


def pytest_configure(config: pytest.Config) -> None:
    _install()


# test id -> why it fails on lowio exactly as anyio expects it to on trio
XFAIL_AS_ON_TRIO = {
    "tests/test_from_thread.py::TestBlockingPortal::test_from_async[lowio-lowio]": (
        "as for trio-trio (anyio's 'known bug (#525)'): a blocking portal call "
        "from inside a run is refused (trio's from_thread rule), then the "
        "portal's exit waits forever"
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = XFAIL_AS_ON_TRIO.get(item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, run=False))
