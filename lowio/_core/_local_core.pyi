"""Per-thread attributes in C (``_local_core.c``)."""

class PerThread:
    """An object whose attributes are per thread, like ``threading.local``'s."""
