"""The source distribution carries everything a build from it needs: the C
sources and header, and the anyio start-up files that setup.py installs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEEDED = [
    "setup.py",
    "pyproject.toml",
    "lowio_anyio.pth",
    "lowio_anyio.start",
    "lowio_anyio_hook.py",
    "lowio_compat.py",
    "lowio/_sys/_build.py",
    "lowio/_sys/_native.c",
    "lowio/_sys/_epoll_ctl.h",
    "lowio/poll/_events_core.c",
    "lowio/poll/_events_core.pyi",
    "lowio/poll/_registry_core.c",
    "lowio/poll/_registry_core.pyi",
    "lowio/py.typed",
]


def test_sdist_has_the_c_sources_and_the_start_up_files(tmp_path: Path) -> None:
    # from a copy without build products: setuptools would otherwise also
    # list the files an earlier build's egg-info names
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".*", "*.egg-info", "build", "dist", "__pycache__", "*.so", "benchmark-results"
        ),
    )
    build = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", build, str(tmp_path)],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    )
    archive = tmp_path / done.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert [name for name in NEEDED if name not in names] == []
