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
  they are not run (they would hang until the timeout);
* finalises what a failed test leaves in reference cycles in that test's
  own teardown (``pytest_runtest_teardown`` below).
"""

from __future__ import annotations

import gc
import signal
import sys
import traceback
import warnings
from collections.abc import Generator

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


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After a failed test's fixtures are torn down: drop the failure pytest
    keeps for post-mortem debugging, collect the garbage, and report what
    its finalizers complained about (unclosed sockets) as this teardown's.

    A failure's traceback holds the frames of the failed test and fixtures,
    and with them whatever they had not closed yet; pytest keeps that
    traceback in reference cycles (its call record, ``sys.last_traceback``
    until the next test's call).  Several of anyio's tests fail half-way
    through making a socket on a machine where "localhost" has no IPv6
    address but ``::1`` can be bound, on both backends alike; the unclosed
    socket's ResourceWarning would surface in whichever later test the next
    full collection happens to run in, trio's or lowio's, and fail that
    test.  Collected here, it is charged to the test that left it, which
    has failed already.
    """
    if not item.stash.get(_FAILED, False):
        return
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    complaints: list[str] = []

    def record(unraisable: sys.UnraisableHookArgs) -> None:
        what = unraisable.err_msg or "Exception ignored in"
        why = traceback.format_exception_only(unraisable.exc_type, unraisable.exc_value)
        complaints.append(f"{what}: {unraisable.object!r}\n{''.join(why)}")

    previous = sys.unraisablehook
    sys.unraisablehook = record
    try:
        gc.collect()
    finally:
        sys.unraisablehook = previous
    if complaints:
        warnings.warn(pytest.PytestUnraisableExceptionWarning("".join(complaints)), stacklevel=1)
