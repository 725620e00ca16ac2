"""Shared by the scripts here: each runs in a fresh interpreter, installs
lowio as trio before anything imports trio (``import _on_lowio`` first),
and checks that its file descriptors are back to their baseline at the end."""

from __future__ import annotations

import gc
import os
import time

import lowio

lowio.install_as_trio()

import trio  # noqa: E402  (lowio under trio's name from here on)

assert trio.run is lowio.run, "trio is not lowio"


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def assert_fds_back(before: set[int]) -> None:
    """Fails if an fd opened since ``before`` is still open after 2 s."""
    deadline = time.monotonic() + 2.0
    while True:
        gc.collect()
        leaked = open_fds() - before
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"leaked fds: {sorted(leaked)}"
