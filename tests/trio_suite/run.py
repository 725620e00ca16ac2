"""Runs trio's own test suite on trio and on lowio, and fails if a test that
passes on trio and uses only trio's public API fails, errors or is skipped
on lowio.

Used by ``.ci/run``; by hand::

    python tests/trio_suite/run.py                    # both runs, compare
    python tests/trio_suite/run.py -- trio._tests.test_channel   # some modules

trio's wheel ships its tests (``trio/_tests``, ``trio/_core/_tests``), so
the installed trio (pinned below) is the source of the tests.  The trio run
is plain ``pytest --pyargs``.  The lowio run adds ``-p lowio_trio_plugin``
(this folder), which calls ``lowio.install_as_trio()`` before anything
imports trio: ``import trio`` then gives lowio, trio's private module paths
give lowio's public object of the same name, and only the test packages are
trio's real files.

A test that fails on lowio because it reads a name that is private in trio
too (an ``AttributeError`` / ``ImportError`` carrying
``lowio._trio_alias.PRIVATE_MARK`` for a name trio does not export, e.g.
``trio._core._run.Runner``) cannot pass on any other implementation: it is
counted and listed as "private internals", with the name it reached for.
A few tests depend on trio's own files or module names instead, and fail on
lowio before they reach a private name (so without the mark): they are
listed in ``TRIO_OWN_FILES`` with what they depend on, and counted with the
private-internals ones.
Everything else that passes on trio must pass on lowio, except the public-API
tests listed in ``known_gaps.txt`` with the reason lowio does not pass them
yet (what is still to build); the run fails on any other, and says which
listed ones pass now.  Such a test is run once more on lowio first: one that
passes then (a timing-sensitive test on a loaded machine) is listed, not
counted.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

from lowio._trio_alias import PRIVATE_MARK

TRIO_VERSION = "0.35.0"
HERE = Path(__file__).resolve().parent
PACKAGES = ["trio._tests", "trio._core._tests"]
# what trio's tests import beyond pytest (its test requirements that apply here)
TEST_DEPS = [
    f"trio=={TRIO_VERSION}",
    "pytest-timeout>=2.2",
    "trustme>=1.1",
    "pyOpenSSL>=24",
    "async_generator>=1.9",
    "jedi>=0.19",
    "pylint>=3",
]
_MARKED = re.compile(re.escape(PRIVATE_MARK) + r" ([\w.]+)")
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_IMPORTING = re.compile(r"while importing test module '([^']+\.py)'")
# Tests not run on lowio because, lacking a trio-private helper, they kill the
# test process itself: test function name -> the private name it needs.
PROCESS_KILLERS = {
    # drains the SIGILL/SIGFPE it raised with trio._signals.get_pending_signal_count;
    # without it the pending SIGILL is redelivered when the receiver closes
    "test_open_signal_receiver_no_starvation": "trio._signals.get_pending_signal_count",
}

# Tests that depend on trio's own files or module names rather than on its
# public API, and fail on lowio before reaching a private name (so the
# failure carries no mark): test id (a trailing "*": any id starting so) ->
# what the test depends on, as the report names it.
_EXPORTS = "trio/_tests/test_exports.py::test_static_tool_sees_all_symbols"
TRIO_OWN_FILES = {
    # jedi.Script("import trio; trio.") finds trio's package on sys.path
    # and parses it: it sees the installed trio's names, never lowio's
    f"{_EXPORTS}[jedi-*": (
        "the installed trio's own source files (jedi reads them for `import trio`)"
    ),
    # trio parametrizes by the __name__ of its submodules (trio.abc, ...);
    # lowio's keep their names (lowio.abc, ...), so these ids are not
    # collected on lowio.  tests/runtime/test_static_exports.py runs the
    # same pylint (and jedi) check on lowio's modules.
    f"{_EXPORTS}[pylint-trio.*": "trio's submodules by their own module names (trio.abc, ...)",
    # loader.get_source("trio._file_io"), then compares that text with the
    # private _FILE_ASYNC_METHODS / _FILE_SYNC_ATTRS lists
    "trio/_tests/test_file_io.py::test_type_stubs_match_lists": (
        "trio._file_io's own source text (read through its module loader)"
    ),
    # fails first constructing SocketType subclasses without arguments (trio's
    # SocketType is an abstract base; lowio's takes the socket), then needs
    # the private helper
    "trio/_tests/test_highlevel_open_tcp_stream.py::test_close_all": (
        "trio._highlevel_open_tcp_stream.close_all"
    ),
    # range(DEADLINE_HEAP_MIN_PRUNE_THRESHOLD * 2): arithmetic on the private
    # constant raises TypeError before the mark shows; lowio's own check that
    # moved deadlines leave no stale timers is tests/runtime/test_cancel_fast_paths.py
    "trio/_core/_tests/test_run.py::test_cancel_scope_deadline_duplicates": (
        "trio._core._run.DEADLINE_HEAP_MIN_PRUNE_THRESHOLD"
    ),
    # current_statistics() through the public API, but the expected counts are
    # trio's own machinery: "2 system tasks + us" (its run_sync_soon task) and
    # one reader more than the test's (its wakeup socket); lowio's run has
    # neither, and its counts of the test's own tasks and readers are checked
    # in tests/runtime/test_statistics.py and test_io_waits.py
    "trio/_core/_tests/test_run.py::test_current_statistics": (
        "trio's own run_sync_soon task, counted among the living tasks"
    ),
    "trio/_core/_tests/test_io.py::test_io_manager_statistics": (
        "trio's own wakeup socket, counted among the readers"
    ),
}


def trio_own_files(test_id: str) -> str | None:
    """What a test listed in ``TRIO_OWN_FILES`` depends on (None if unlisted)."""
    for pattern, what in TRIO_OWN_FILES.items():
        if test_id == pattern or (pattern.endswith("*") and test_id.startswith(pattern[:-1])):
            return what
    return None


def run_suite(report: Path, timeout: int, on_lowio: bool, targets: list[str]) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    # Other installed pytest plugins stay out of both runs: lowio's own would
    # lend its clock fixtures to trio's tests, and pytest-trio (a test
    # dependency of lowio's) patches trio's scheduler internals as it loads.
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    cmd += ["-p", "no:anyio", "-p", "no:lowio", "-p", "no:trio"]
    if on_lowio:
        cmd += ["-p", "lowio_trio_plugin", "-k", " and ".join(f"not {t}" for t in PROCESS_KILLERS)]
    cmd += [
        "-p", "trio._tests.pytest_plugin", "--pyargs", *targets,
        f"--timeout={timeout}", "--continue-on-collection-errors", "-q", "-rN",
        f"--junitxml={report}", "-o", "junit_family=xunit1",
    ]  # fmt: skip
    print("+", " ".join(cmd), flush=True)
    with tempfile.TemporaryDirectory() as cwd:  # no conftest or ini file of ours
        return subprocess.run(cmd, cwd=cwd, env=env).returncode


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """test id (``FILE::NAME``, FILE relative to trio's package) -> (status,
    failure text).  A module that could not be imported appears once, as
    ``FILE::`` with status "error"."""
    results: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        file = case.get("file") or ""
        file = file[file.rfind("trio/") :] if "trio/" in file else file
        name = case.get("name") or ""
        status, text = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                status = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                text = f"{child.get('message', '')}\n{child.text or ''}"
                break
        if not case.get("classname") and status == "error":  # the module did not import
            # named relative to a test package; a module given as the target
            # (``-- trio._tests.test_util``) has no name: its path is in the text
            path = _IMPORTING.search(text) if not name else None
            if path is not None:
                test_id = path.group(1)[path.group(1).rfind("trio/") :] + "::"
            else:
                test_id = f"{name.replace('.', '/')}.py::"
        else:
            test_id = f"{file}::{name}"
        if results.get(test_id, ("passed", ""))[0] != "passed":
            continue  # keep the first bad entry (a teardown error is a second one)
        results[test_id] = (status, text)
    return results


def trio_public_names() -> set[str]:
    """Every public name of trio's public namespaces (this process imports
    the real trio; the lowio run is another process)."""
    import trio
    import trio.abc
    import trio.from_thread
    import trio.lowlevel
    import trio.socket
    import trio.testing
    import trio.to_thread

    names: set[str] = set()
    for module in (trio, trio.lowlevel, trio.testing, trio.abc, trio.socket):
        names.update(n for n in dir(module) if not n.startswith("_"))
    for prefix, module in (("to_thread", trio.to_thread), ("from_thread", trio.from_thread)):
        public = [n for n in dir(module) if not n.startswith("_")]
        names.update(public)
        names.update(f"{prefix}_{n}" for n in public)
    return names


def private_name(text: str, public: set[str]) -> str | None:
    """The trio-private name a failure reached for, or None if it is a real
    failure (including a public trio name that lowio lacks)."""
    for match in _MARKED.finditer(text):
        name = match.group(1)
        if name.rsplit(".", 1)[-1] not in public:
            return name
    match = _CANNOT_IMPORT.search(text)
    if match and match.group(2).startswith("trio") and match.group(1) not in public:
        return f"{match.group(2)}.{match.group(1)}"
    return None


def module_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


KNOWN_GAPS = HERE / "known_gaps.txt"


def known_gaps() -> dict[str, str]:
    """test id -> why lowio does not pass it yet (``known_gaps.txt``: one test
    id per line, ``  # reason`` after it; blank lines and ``#`` lines ignored).
    These are public-API tests lowio still fails: listed, with the reason, so
    that CI catches every new one; the list only ever shrinks."""
    gaps: dict[str, str] = {}
    if KNOWN_GAPS.exists():
        for line in KNOWN_GAPS.read_text().splitlines():
            test_id, _, reason = line.partition("  # ")
            if test_id.strip() and not test_id.startswith("#"):
                gaps[test_id.strip()] = reason.strip()
    return gaps


def suspects(trio: dict[str, tuple[str, str]], lowio: dict[str, tuple[str, str]]) -> list[str]:
    """The tests that would count as regressions: they passed on trio, ran
    on lowio and did not pass, and reached for no private name."""
    public = trio_public_names()
    gaps = known_gaps()
    return [
        test_id
        for test_id, (status, _) in sorted(trio.items())
        if status == "passed"
        and lowio.get(test_id, ("missing", ""))[0] in ("failed", "error", "skipped")
        and private_name(lowio[test_id][1], public) is None
        and trio_own_files(test_id) is None
        and test_id not in gaps
    ]


def pyarg(test_id: str) -> str:
    """``trio/_tests/test_x.py::name`` as a ``--pyargs`` target."""
    file, name = test_id.split("::", 1)
    return f"{file.removesuffix('.py').replace('/', '.')}::{name}"


def rerun_suspects(
    trio: dict[str, tuple[str, str]], lowio: dict[str, tuple[str, str]], folder: Path, timeout: int
) -> None:
    """Runs the suspects once more on lowio; those that pass now count as
    passing (and are listed)."""
    again_ids = suspects(trio, lowio)
    if not again_ids:
        return
    print(f"\n{len(again_ids)} tests failed on lowio where trio passed; running them again")
    report = folder / "trio-suite-on-lowio.rerun.xml"
    report.unlink(missing_ok=True)
    run_suite(report, timeout, True, [pyarg(t) for t in again_ids])
    again = outcomes(report) if report.exists() else {}
    flaky = [t for t in again_ids if again.get(t, ("missing",))[0] == "passed"]
    for test_id in flaky:
        lowio[test_id] = again[test_id]
    if flaky:
        print(f"  {len(flaky)} passed on the second run (timing on a loaded machine):")
        for test_id in flaky:
            print(f"    {test_id}")


def compare(trio: dict[str, tuple[str, str]], lowio: dict[str, tuple[str, str]]) -> int:
    public = trio_public_names()
    gaps = known_gaps()
    # a module that lowio could not import has one entry (its collection error)
    uncollected = {
        test_id[:-2]: text for test_id, (status, text) in lowio.items() if test_id.endswith("::")
    }
    collection_errors = {
        module_of(test_id): uncollected[tail]
        for test_id in trio
        for tail in uncollected
        if module_of(test_id) == tail or module_of(test_id).endswith("/" + tail)
    }
    print(f"\ntrio {TRIO_VERSION} test suite")
    for name, group in (("trio", trio), ("lowio", lowio)):
        counts = Counter(status for status, _ in group.values())
        print(
            f"  {name:5}: {len(group)} entries: {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['error']} errors, {counts['skipped']} skipped"
        )
    private: dict[str, list[str]] = defaultdict(list)
    regressions: list[tuple[str, str, str]] = []
    passed_both = 0
    for test_id, (status, _) in sorted(trio.items()):
        if status != "passed":
            continue
        if module_of(test_id) in collection_errors:
            text = collection_errors[module_of(test_id)]
            outcome = "not collected"
        else:
            outcome, text = lowio.get(test_id, ("missing", ""))
        if outcome == "passed":
            passed_both += 1
            continue
        name = test_id.rsplit("::", 1)[-1].split("[", 1)[0]
        reached = PROCESS_KILLERS.get(name) if outcome == "missing" else private_name(text, public)
        if reached is None:
            reached = trio_own_files(test_id)
        if reached is not None:
            private[reached].append(test_id)
        else:
            first = next((ln for ln in text.splitlines() if ln.strip()), "")[:160]
            regressions.append((outcome, test_id, first))
    n_private = sum(len(ids) for ids in private.values())
    print(f"  passing on trio and on lowio: {passed_both}")
    print(f"  reading trio's private internals (cannot pass elsewhere): {n_private}")
    for name, ids in sorted(private.items(), key=lambda kv: -len(kv[1])):
        print(f"    {len(ids):4}  {name}")
    listed = [r for r in regressions if r[1] in gaps]
    regressions = [r for r in regressions if r[1] not in gaps]
    if listed:
        print(
            f"  known gaps (public-API tests lowio does not pass yet, {KNOWN_GAPS.name}): "
            f"{len(listed)}"
        )
        for reason, count in Counter(gaps[t] for _, t, _ in listed).most_common():
            print(f"    {count:4}  {reason}")
    fixed = sorted(t for t in gaps if t in trio and lowio.get(t, ("",))[0] == "passed")
    if fixed:
        print(f"  {len(fixed)} known gaps now pass on lowio: remove them from {KNOWN_GAPS.name}")
        for test_id in fixed:
            print(f"    {test_id}")
    if regressions:
        print(f"\n{len(regressions)} tests pass on trio but not on lowio, by module:")
        for module, count in Counter(module_of(t) for _, t, _ in regressions).most_common():
            print(f"  {count:4}  {module}")
        print()
        for outcome, test_id, first in regressions:
            print(f"  {outcome:13} {test_id}\n                {first}")
        return 1
    print(
        "  no regressions: every public-API test that passes on trio passes on lowio"
        + (" (but for the known gaps listed above)" if listed else "")
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--no-install", action="store_true", help="do not pip install deps")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per test")
    parser.add_argument("--keep", type=Path, help="write the two JUnit reports into this folder")
    parser.add_argument("targets", nargs="*", help=f"after --: test modules (default {PACKAGES})")
    args = parser.parse_args()
    if not args.no_install:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *TEST_DEPS], check=True)
    with tempfile.TemporaryDirectory(prefix="trio-suite-") as tmp:
        folder = (args.keep or Path(tmp)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        reports = {}
        for name in ("trio", "lowio"):
            reports[name] = folder / f"trio-suite-on-{name}.xml"
            reports[name].unlink(missing_ok=True)  # a run that dies must not leave an old one
            run_suite(reports[name], args.timeout, name == "lowio", args.targets or PACKAGES)
            if not reports[name].exists():
                print(f"pytest wrote no report for the {name} run", file=sys.stderr)
                return 1
        trio_outcomes = outcomes(reports["trio"])
        if not trio_outcomes:  # a misspelt target must not pass as "no regressions"
            print(f"no trio tests were collected from {args.targets or PACKAGES}", file=sys.stderr)
            return 1
        lowio_outcomes = outcomes(reports["lowio"])
        rerun_suspects(trio_outcomes, lowio_outcomes, folder, args.timeout)
        return compare(trio_outcomes, lowio_outcomes)


if __name__ == "__main__":
    sys.exit(main())
