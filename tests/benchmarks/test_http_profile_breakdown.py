"""``benchmarks.http_profile``: lowio's profiled time by module and the
calls the server's own code makes into lowio (its entry points)."""

from __future__ import annotations

import shutil

import pytest

from benchmarks import http_profile

LOWIO = "/x/src/lowio"
DIRS = {LOWIO: http_profile.LOWIO_BUCKETS[0]}
SEND_ALL = (f"{LOWIO}/_socket_stream.py", 116, "send_all")
SEND = (f"{LOWIO}/_socket.py", 275, "send")
CANCEL = (f"{LOWIO}/_core/_cancel.py", 331, "__enter__")
SERVER = ("/v/lib/python3.11/site-packages/hypercorn/trio/tcp_server.py", 82, "protocol_send")
SYSCALL = ("~", 0, "<method 'send' of '_socket.socket' objects>")
STATS = {
    SERVER: (1, 1, 2.0, 10.0, {}),
    # send_all (own 1.0) calls send (own 1.0), which makes the system call (3.0)
    SEND_ALL: (4, 4, 1.0, 5.0, {SERVER: (4, 4, 1.0, 5.0)}),
    SEND: (4, 4, 1.0, 4.0, {SEND_ALL: (4, 4, 1.0, 4.0)}),
    SYSCALL: (4, 4, 3.0, 3.0, {SEND: (4, 4, 3.0, 3.0)}),
    CANCEL: (2, 2, 1.0, 1.0, {SERVER: (2, 2, 1.0, 1.0)}),
    ("/v/lib/python3.11/site-packages/h11/_connection.py", 5, "send"): (1, 1, 2.0, 2.0, {}),
}


def test_lowio_time_by_module_counts_the_c_calls_made_from_it() -> None:
    assert http_profile.lowio_modules(STATS, DIRS) == [
        (4.0 / 10.0, "lowio/_socket.py"),
        (1.0 / 10.0, "lowio/_socket_stream.py"),
        (1.0 / 10.0, "lowio/_core/_cancel.py"),
    ]


def test_entries_are_the_calls_from_outside_lowio_with_what_they_cost() -> None:
    entries = http_profile.lowio_entries(STATS, DIRS, requests=2, count=5)
    assert entries == [
        (5.0 / 10.0, 2.0, "_socket_stream.py:116(send_all)", "tcp_server.py:82(protocol_send)"),
        (1.0 / 10.0, 1.0, "_cancel.py:331(__enter__)", "tcp_server.py:82(protocol_send)"),
    ]
    assert http_profile.lowio_entries(STATS, DIRS, requests=2, count=1) == entries[:1]
    assert http_profile.lowio_entries({}, DIRS, requests=2, count=5) == []


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_the_script_lists_modules_and_entries(capsys: pytest.CaptureFixture[str]) -> None:
    assert http_profile.main(["--seconds", "1", "--top", "3", "--entries", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    modules = out.index("lowio by module (own time and its C calls, share of the profiled CPU):")
    entries = out.index(
        "calls into lowio (share of the profiled CPU in and below them, calls/request):"
    )
    assert entries - modules == 4  # --top 3 modules
    listed = out[entries + 1 : entries + 5]
    assert len(listed) == 4 and all("/req  " in line and "  <- " in line for line in listed)
