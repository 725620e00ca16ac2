"""The comparison that judges anyio's own suite on lowio
(``tests/anyio_suite/run.py``): a lowio test failing where its trio twin
passed is a regression unless it passes when run once more."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

RUN_PY = Path(__file__).resolve().parent.parent / "anyio_suite" / "run.py"


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("anyio_suite_run", RUN_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_junit_id_maps_to_the_node_id_of_its_file(harness: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").touch()
    node = harness.node_id(tmp_path, "tests.test_x.TestY::test_z[lowio-ipv4]")
    assert node == "tests/test_x.py::TestY::test_z[lowio-ipv4]"
    assert (
        harness.node_id(tmp_path, "tests.test_x::test_f[lowio]") == "tests/test_x.py::test_f[lowio]"
    )
    with pytest.raises(ValueError, match=r"no test file for 'tests\.nope::t'"):
        harness.node_id(tmp_path, "tests.nope::t")


RESULTS = {
    "tests.test_x::test_a[trio]": "passed",
    "tests.test_x::test_a[lowio]": "failed",
    "tests.test_x::test_b[trio]": "passed",
    "tests.test_x::test_b[lowio]": "error",
    "tests.test_x::test_c[trio]": "failed",
    "tests.test_x::test_c[lowio]": "failed",
}


def test_only_tests_passing_on_trio_count(harness: ModuleType) -> None:
    assert harness.compare(RESULTS) == [
        ("tests.test_x::test_a[lowio]", "failed"),
        ("tests.test_x::test_b[lowio]", "error"),
    ]


@pytest.mark.parametrize(
    ("second_run", "verdict"),
    [({"a": "passed", "b": "passed"}, 0), ({"a": "passed", "b": "failed"}, 1), ({}, 1)],
)
def test_a_regression_must_fail_twice(
    harness: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    second_run: dict[str, str],
    verdict: int,
) -> None:
    asked: list[list[str]] = []

    def rerun(anyio_dir: Path, report: Path, timeout: int, test_ids: list[str]) -> dict[str, str]:
        asked.append(test_ids)
        return {f"tests.test_x::test_{k}[lowio]": v for k, v in second_run.items()}

    monkeypatch.setattr(harness, "rerun", rerun)
    assert harness.judge(Path("."), Path("r.xml"), 30, RESULTS) == verdict
    assert asked == [["tests.test_x::test_a[lowio]", "tests.test_x::test_b[lowio]"]]
    out = capsys.readouterr().out
    if second_run.get("a") == "passed":
        assert "passed on the second run" in out
    if verdict:
        assert "tests pass on trio but not on lowio" in out
