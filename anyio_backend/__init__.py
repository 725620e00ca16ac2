"""lowio's anyio backend: ``anyio.run(main, backend="lowio")``.

anyio imports this package as ``anyio._backends._lowio`` (the start-up hook
``lowio_anyio_hook`` maps that name here) and uses ``backend_class``.  The
backend interface is private to anyio, so only the anyio versions in
``SUPPORTED_ANYIO`` are accepted; importing this package with another one
raises ``RuntimeError`` naming the supported range.

Layout: ``_backend`` (the ``AsyncBackend`` subclass), ``_cancel_scope``,
``_task_group``, ``_sync`` (Event, Lock, Semaphore, CapacityLimiter),
``_threads`` (worker threads, ``from_thread``), ``_testing`` (the pytest
runner), ``_tasks`` (``TaskInfo``), ``_signals``, and the networking and
process parts in ``_sockets`` and ``_process``.
"""

from __future__ import annotations

SUPPORTED_ANYIO = ">=4.16,<4.17"
_SUPPORTED_MINOR = (4, 16)


def _installed_anyio_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anyio")
    except PackageNotFoundError:
        return "(not installed)"


def check_anyio_version(installed: str) -> None:
    """Raises ``RuntimeError`` unless ``installed`` (an anyio version
    string) is in ``SUPPORTED_ANYIO``."""
    parts = installed.split(".")
    try:
        major_minor = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        major_minor = (-1, -1)
    if major_minor != _SUPPORTED_MINOR:
        raise RuntimeError(
            f"lowio's anyio backend supports anyio{SUPPORTED_ANYIO}, but anyio "
            f"{installed} is installed (anyio's backend interface is private and "
            f"changes between releases); install a supported version with: "
            f"pip install 'anyio{SUPPORTED_ANYIO}'  (or: pip install 'lowio[anyio]')"
        )


check_anyio_version(_installed_anyio_version())

from ._backend import LowioBackend  # noqa: E402  (after the version check)

backend_class = LowioBackend

__all__ = ["SUPPORTED_ANYIO", "LowioBackend", "backend_class", "check_anyio_version"]
