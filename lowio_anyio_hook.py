"""Lets ``anyio.run(main, backend="lowio")`` find lowio's anyio backend with
no import by the user.

``lowio_anyio.pth`` (and, for Python 3.15+, the PEP 829 ``lowio_anyio.start``)
call :func:`install` at interpreter start-up.  It adds one ``sys.meta_path``
finder that answers only for ``anyio._backends._lowio``; nothing else is
imported until anyio asks for that module.  It also installs
``lowio_compat`` (unless ``LOWIO_NO_COMPAT=1``): the adaptations that let
anyio libraries which check the async library's name (httpcore, under
httpx) run on lowio; they too wait until those libraries are imported.

``LOWIO_AS_TRIO=1`` in the environment (any value but "" and "0") also
calls ``lowio.install_as_trio()`` at start-up, before anything can import
trio: ``import trio`` then gives lowio in that interpreter, so
``LOWIO_AS_TRIO=1 pytest`` runs pytest-trio's tests (and the trio
libraries they use) on lowio.  Unset, lowio is not even imported.  If
installing fails (say another start-up file imported the real trio first),
one line on stderr says why and the interpreter starts as usual.
This module must stay tiny and never raise.

PYTEST_DONT_REWRITE: this module is imported at interpreter start-up, before
pytest could rewrite it (pytest would warn that it cannot, as lowio's
distribution has a pytest plugin).
"""

from __future__ import annotations

import os
import sys
from typing import Any

MODULE = "anyio._backends._lowio"
TARGET = "anyio_backend"
AS_TRIO = "LOWIO_AS_TRIO"


class _Loader:
    """Makes ``anyio._backends._lowio`` a small module that forwards to the
    ``anyio_backend`` package (one copy of the backend's classes)."""

    @staticmethod
    def create_module(spec: Any) -> None:
        return None  # the default module object

    @staticmethod
    def exec_module(module: Any) -> None:
        import importlib

        target = importlib.import_module(TARGET)
        module.backend_class = target.backend_class
        module.__getattr__ = lambda name: getattr(target, name)


class LowioBackendFinder:
    """A ``sys.meta_path`` finder for ``anyio._backends._lowio`` only."""

    @staticmethod
    def find_spec(fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != MODULE:
            return None
        try:
            import importlib.util

            if importlib.util.find_spec(TARGET) is None:
                return None
            return importlib.util.spec_from_loader(fullname, _Loader())  # type: ignore[arg-type]
        except Exception:
            return None


def install() -> None:
    """Adds the finder once, installs ``lowio_compat``, and lowio as trio
    when ``LOWIO_AS_TRIO`` asks for it (idempotent; never raises)."""
    try:
        if not any(isinstance(f, LowioBackendFinder) for f in sys.meta_path):
            sys.meta_path.append(LowioBackendFinder())
        import lowio_compat

        lowio_compat.install()
    except Exception:
        pass
    install_as_trio_if_asked()


def install_as_trio_if_asked() -> None:
    """Calls ``lowio.install_as_trio()`` if ``LOWIO_AS_TRIO`` is set to
    anything but "" or "0"; a failure is one line on stderr (never raises)."""
    if os.environ.get(AS_TRIO, "") in ("", "0"):
        return
    try:
        import lowio

        lowio.install_as_trio()
    except Exception as exc:
        sys.stderr.write(f"lowio: {AS_TRIO} is set, but lowio.install_as_trio() failed: {exc}\n")
