"""lowio's warning category for deprecated behaviour."""

from __future__ import annotations


class LowioDeprecationWarning(FutureWarning):
    """Something of lowio's public API is deprecated and will go away.

    A ``FutureWarning``, so it is shown by default (the end users of a
    program are not the ones who can fix it, but its developers run it too).
    trio code knows it as ``TrioDeprecationWarning``, which is this class.
    """


TrioDeprecationWarning = LowioDeprecationWarning

__all__ = ["LowioDeprecationWarning", "TrioDeprecationWarning"]
