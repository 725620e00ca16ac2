"""The README's example must run as printed."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_udp_echo_example_runs() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- udp-echo[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "the UDP echo example is missing from README.md"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(match.group(1), "README.md", "exec"), {})
    assert out.getvalue().strip() == "[b'one', b'three', b'two']"


def test_trio_style_example_runs() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- trio-style[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "the trio-style example is missing from README.md"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(match.group(1), "README.md", "exec"), {})
    assert out.getvalue().strip() == "b'HELLO'"


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("tcp-echo", "b'ping'"),
        ("to-thread", hashlib.sha256(b"lowio").hexdigest()[:16]),
    ],
)
def test_runtime_examples_run(marker: str, expected: str) -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker}[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, f"the {marker} example is missing from README.md"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(match.group(1), "README.md", "exec"), {})
    assert out.getvalue().strip() == expected


def test_readme_names_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert 'pip install -e ".[bench]" && python -m benchmarks --quick' in text
    assert 'pip install -e ".[test]" && python -m pytest' in text
