"""Runs anyio 4.16.0's own test suite on the trio backend and on lowio, and
fails if any test that passes on trio fails, errors or is skipped on lowio.

Used by ``.ci/run``; by hand::

    python tests/anyio_suite/run.py                  # fetch, install deps, run, compare
    python tests/anyio_suite/run.py --anyio-dir DIR  # an unpacked sdist already at hand
    python tests/anyio_suite/run.py -- -x tests/test_taskgroups.py   # extra pytest args

Steps: ``pip download --no-binary :all: --no-deps anyio==4.16.0`` (the sdist
holds ``tests/``), unpack it in a temporary directory, install what anyio's
tests import, then run ``pytest tests`` there with ``lowio_plugin`` (which
adds the "lowio" parametrization) loaded before anyio's plugin, selecting
the trio and lowio parametrizations, with a per-test timeout and a JUnit XML
report.  The comparison maps each lowio test id to its trio twin (the
``lowio`` parameter replaced by ``trio``) and prints the counts.  A lowio test
that fails where its twin passed is run once more, alone: one that passes then
(a timing-sensitive test on a loaded machine) is listed, not counted as a
regression; one that fails twice is.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ANYIO_VERSION = "4.16.0"
HERE = Path(__file__).resolve().parent
# what anyio's tests import (its "test" dependency group, minus coverage and
# blockbuster, which only watches asyncio; uvloop adds the "asyncio+uvloop"
# parameters that talk to trio and lowio through portals)
TEST_DEPS = [
    "trio>=0.32",
    "hypothesis>=4.18.2",
    "psutil>=5.9",
    "pytest>=9.0",
    "pytest-mock>=3.14",
    "pytest-timeout>=2.4.0",
    "trustme>=1.0.0",
    "truststore>=0.9.1",
    "uvloop>=0.22.1",
]


def fetch_sdist(workdir: Path) -> Path:
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
            "--no-deps", "--dest", str(workdir), f"anyio=={ANYIO_VERSION}",
        ],
        check=True,
    )  # fmt: skip
    (archive,) = workdir.glob(f"anyio-{ANYIO_VERSION}.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / f"anyio-{ANYIO_VERSION}"


def load_plugin_first(anyio_dir: Path) -> None:
    """Puts ``-p lowio_plugin`` before the ``-p anyio`` of anyio's pytest
    settings, so that anyio's plugin already sees the "lowio" backend."""
    pyproject = anyio_dir / "pyproject.toml"
    text = pyproject.read_text()
    if '"lowio_plugin"' not in text:
        new = text.replace('  "-p", "anyio",', '  "-p", "lowio_plugin",\n  "-p", "anyio",', 1)
        if new == text:
            raise SystemExit("anyio's pyproject.toml has no '-p anyio' in addopts")
        pyproject.write_text(new)


def run_suite(anyio_dir: Path, report: Path, timeout: int, extra: list[str]) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
        "-k", "trio or lowio", f"--timeout={timeout}", "--timeout-method=signal",
        f"--junitxml={report}", "-q", "-o", "junit_family=xunit1",
    ]  # fmt: skip
    cmd += extra or ["tests"]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=anyio_dir, env=env).returncode


def outcomes(report: Path) -> dict[str, str]:
    results: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        status = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                status = "failed" if child.tag == "failure" else "error"
                break
            if child.tag == "skipped":
                status = "skipped"  # includes xfail
        if results.get(test_id, "passed") != "passed":
            continue  # a test's teardown error is a second entry: keep the worst
        results[test_id] = status
    return results


_PARAMS = re.compile(r"\[(.*)\]$")


def trio_twin(test_id: str) -> str | None:
    """The trio test id for a lowio one (None if it has no lowio parameter)."""
    match = _PARAMS.search(test_id)
    if match is None:
        return None
    parts = match.group(1).split("-")
    if "lowio" not in parts:
        return None
    parts = ["trio" if part == "lowio" else part for part in parts]
    return f"{test_id[: match.start()]}[{'-'.join(parts)}]"


def node_id(anyio_dir: Path, test_id: str) -> str:
    """pytest's node id (``tests/test_x.py::Class::name``) for a JUnit test
    id (``tests.test_x.Class::name``)."""
    dotted, name = test_id.split("::", 1)
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        path = "/".join(parts[:cut]) + ".py"
        if (anyio_dir / path).is_file():
            return "::".join([path, *parts[cut:], name])
    raise ValueError(f"no test file for {test_id!r} under {anyio_dir}")


def compare(results: dict[str, str]) -> list[tuple[str, str]]:
    """Prints the counts; returns the regressions: (lowio test id, status)
    for each lowio test that did not pass where its trio twin passed."""
    lowio: dict[str, str] = {}
    twins: dict[str, list[str]] = {}
    for test_id, status in results.items():
        twin = trio_twin(test_id)
        if twin is not None:
            lowio[test_id] = status
            twins.setdefault(twin, []).append(test_id)
    trio = {t: s for t, s in results.items() if t not in lowio and "trio" in t}
    print(f"\nanyio {ANYIO_VERSION} test suite")
    for name, group in (("trio", trio), ("lowio", lowio)):
        counts = Counter(group.values())
        print(
            f"  {name:5}: {len(group)} tests: {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['error']} errors, {counts['skipped']} skipped"
        )
    regressions = sorted(
        (lowio_id, lowio[lowio_id])
        for trio_id, status in trio.items()
        if status == "passed"
        for lowio_id in twins.get(trio_id, ())
        if lowio[lowio_id] != "passed"
    )
    better = sorted(
        lowio_id
        for trio_id, status in trio.items()
        if status in ("failed", "error")
        for lowio_id in twins.get(trio_id, ())
        if lowio[lowio_id] == "passed"
    )
    if better:
        print(f"  {len(better)} tests fail on trio but pass on lowio")
    return regressions


def rerun(anyio_dir: Path, report: Path, timeout: int, test_ids: list[str]) -> dict[str, str]:
    """Runs ``test_ids`` once more in one pytest run; their outcomes."""
    report.unlink(missing_ok=True)
    run_suite(anyio_dir, report, timeout, [node_id(anyio_dir, t) for t in test_ids])
    return outcomes(report) if report.exists() else {}


def judge(anyio_dir: Path, report: Path, timeout: int, results: dict[str, str]) -> int:
    regressions = compare(results)
    if regressions:
        print(f"\n{len(regressions)} lowio tests failed where trio passed; running them again")
        again = rerun(
            anyio_dir, report.with_suffix(".rerun.xml"), timeout, [t for t, _ in regressions]
        )
        flaky = [t for t, _ in regressions if again.get(t) == "passed"]
        regressions = [(t, s) for t, s in regressions if again.get(t) != "passed"]
        if flaky:
            print(f"  {len(flaky)} passed on the second run (timing on a loaded machine):")
            for test_id in flaky:
                print(f"    {test_id}")
    if regressions:
        print(f"\n{len(regressions)} tests pass on trio but not on lowio:")
        for lowio_id, status in regressions:
            print(f"  {status:7} {lowio_id}")
        return 1
    print("  no regressions: every test that passes on trio passes on lowio")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--anyio-dir", type=Path, help="an unpacked anyio sdist to use")
    parser.add_argument("--no-install", action="store_true", help="do not pip install deps")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per test")
    parser.add_argument("--report", type=Path, help="where to write the JUnit XML")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest args (default: tests)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="anyio-suite-") as tmp:
        workdir = Path(tmp)
        anyio_dir = args.anyio_dir.resolve() if args.anyio_dir else fetch_sdist(workdir)
        if not args.no_install:
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", *TEST_DEPS], check=True
            )
        load_plugin_first(anyio_dir)
        report = (args.report or workdir / "anyio-suite.xml").resolve()
        status = run_suite(anyio_dir, report, args.timeout, args.pytest_args)
        if not report.exists():
            print(f"pytest wrote no report (exit {status})", file=sys.stderr)
            return 1
        return judge(anyio_dir, report, args.timeout, outcomes(report))


if __name__ == "__main__":
    sys.exit(main())
