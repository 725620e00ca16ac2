"""``lowio.anyio.register()``: the explicit way to make anyio's
``backend="lowio"`` available (normally the installed ``lowio_anyio.pth``
does it at start-up).  Importing this module does not import anyio."""

from __future__ import annotations


def register() -> None:
    """Makes ``anyio.run(..., backend="lowio")`` and
    ``anyio_backend = "lowio"`` work in this interpreter.  Idempotent."""
    import lowio_anyio_hook

    lowio_anyio_hook.install()
