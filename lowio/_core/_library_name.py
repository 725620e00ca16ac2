"""The name sniffio reports for code lowio runs: ``"lowio"``, or ``"trio"``
once ``lowio.install_as_trio()`` has put lowio under trio's names (see
``lowio/_trio_alias.py`` for why)."""

from __future__ import annotations

_name = "lowio"


def library_name() -> str:
    """What ``sniffio.current_async_library()`` returns inside lowio's runs
    and in the tasks and callbacks they run.  Any thread may call it."""
    return _name


def set_library_name(name: str) -> None:
    """Change it for the runs started from now on (``install_as_trio``)."""
    global _name
    _name = name
