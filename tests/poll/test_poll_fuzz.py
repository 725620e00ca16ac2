"""Fuzzing every public entry point of ``lowio.poll`` with ill-formed
arguments (``_poll_fuzz.py`` holds the body): wrong types, huge and negative
ints, objects whose ``fileno()`` raises or returns garbage, crafted
selectors, closed sockets, Polls and Wakers, a second thread polling.  The
body runs in a child process, so that a crash fails this test instead of
ending the run; inside it every error must be a documented exception type
(TypeError, ValueError, OSError, RuntimeError, or the source's own
exception from ``fileno()``) with a message.

``LOWIO_FUZZ_EXAMPLES`` sets the examples (default 150); e.g.
``LOWIO_FUZZ_EXAMPLES=20000`` for a long run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = int(os.environ.get("LOWIO_FUZZ_EXAMPLES", "150"))
BODY = Path(__file__).resolve().parent / "_poll_fuzz.py"


@pytest.mark.timeout(max(120, EXAMPLES // 10))
def test_no_entry_point_crashes_or_raises_an_undocumented_error() -> None:
    # the body imports helpers from this folder and from tests/ (conftest)
    path = os.pathsep.join([str(BODY.parent), str(BODY.parent.parent)])
    result = subprocess.run(
        [sys.executable, str(BODY), str(EXAMPLES)],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=max(110, EXAMPLES // 10 - 10),
        check=False,
    )
    assert result.returncode == 0, (
        f"the fuzz child ended with {result.returncode} (a negative code is a signal)\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    )
    summary = json.loads(result.stdout.splitlines()[-1])
    print(summary)  # the example and call counts, with -s
    assert summary["counts"]["examples"] >= EXAMPLES
    outcomes = summary["outcomes"]
    # the fuzz reached both the success and the error paths
    assert outcomes.get("ok", 0) > 0
    assert outcomes.get("TypeError", 0) > 0 and outcomes.get("ValueError", 0) > 0
