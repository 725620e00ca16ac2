"""The README's examples must run as printed (the longer runtime examples are
the documentation's, run by its doctest build)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

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


def test_readme_names_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert 'pip install -e ".[bench]" && python -m benchmarks --quick' in text
    assert 'pip install -e ".[test]" && python -m pytest' in text
