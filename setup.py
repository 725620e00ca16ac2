# The C extensions: lowio._sys._native, built by cffi (API mode), and eight
# small ones written against the CPython API, for the calls that cost too
# much through cffi or as Python code (see their header comments):
# lowio.poll._registry_core and lowio.poll._events_core (the poll layer's),
# lowio._core._io_core (the I/O manager's event hand-out),
# lowio._core._step_core (the run loop's usual task steps),
# lowio._core._cancel_core (a cancel scope's usual entry and exit),
# lowio._core._local_core (the run context's per-thread attributes),
# lowio._sys._sockio (a socket's non-blocking recv and send) and
# lowio._owned_ops (the owned fast path's socket recv and send).
# Everything else is in
# pyproject.toml, except the start-up files that register the anyio backend
# (lowio_anyio.pth, and lowio_anyio.start for Python 3.15+, PEP 829): they
# belong at the top of site-packages, which package data cannot reach, in
# regular and in editable installs alike.
from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
STARTUP_FILES = ("lowio_anyio.pth", "lowio_anyio.start")


class BuildPyWithStartupFiles(build_py):
    def run(self) -> None:
        super().run()
        for name in STARTUP_FILES:
            self.copy_file(str(HERE / name), str(Path(self.build_lib) / name))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        return outputs + [str(Path(self.build_lib) / name) for name in STARTUP_FILES]


class _WithStartupFiles:
    """Wraps setuptools' editable-install strategy: also puts the start-up
    files into the editable wheel."""

    def __init__(self, strategy: Any) -> None:
        self._strategy = strategy

    def __enter__(self) -> _WithStartupFiles:
        self._strategy.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        return self._strategy.__exit__(*exc_info)

    def __call__(self, wheel: Any, files: Any, mapping: Any) -> None:
        self._strategy(wheel, files, mapping)
        for name in STARTUP_FILES:
            wheel.writestr(name, (HERE / name).read_bytes())


cmdclass: dict[str, Any] = {"build_py": BuildPyWithStartupFiles}
try:
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # an old setuptools: editable installs lack the hook
    pass
else:

    class EditableWheelWithStartupFiles(editable_wheel):  # type: ignore[misc]
        def _select_strategy(self, *args: Any, **kwargs: Any) -> Any:
            return _WithStartupFiles(super()._select_strategy(*args, **kwargs))

    cmdclass["editable_wheel"] = EditableWheelWithStartupFiles


def c_extension(name: str, **kwargs: Any) -> Extension:
    """One of the small CPython-API extensions: lowio.a.b from lowio/a/b.c."""
    return Extension(
        name,
        sources=[name.replace(".", "/") + ".c"],
        extra_compile_args=["-O2", "-std=gnu11"],
        **kwargs,
    )


EXTENSIONS = [
    c_extension(
        "lowio.poll._registry_core",
        include_dirs=["lowio/_sys"],  # _epoll_ctl.h: epoll_ctl is the platform layer's
        depends=["lowio/_sys/_epoll_ctl.h"],
    ),
    c_extension("lowio.poll._events_core"),
    c_extension("lowio._core._io_core", depends=["lowio/_core/_slots.h"]),
    c_extension("lowio._core._step_core", depends=["lowio/_core/_slots.h"]),
    c_extension("lowio._core._cancel_core", depends=["lowio/_core/_slots.h"]),
    c_extension("lowio._core._local_core"),
    c_extension("lowio._sys._sockio", depends=["lowio/_sys/_sockio_api.h"]),
    c_extension("lowio._owned_ops", depends=["lowio/_owned_slots.h", "lowio/_sys/_sockio_api.h"]),
]

setup(
    cffi_modules=["lowio/_sys/_build.py:ffibuilder"],
    ext_modules=EXTENSIONS,
    cmdclass=cmdclass,
)
