"""Resources that close synchronously: ``with resource:`` closes on the way
out (``ClosesOnExit``), and the async-resource form adds ``aclose()`` as
``close()`` then a checkpoint (``SyncCloseable``).  Used by the memory
channels, ``as_safe_channel``'s channel and DTLS."""

from __future__ import annotations

from abc import abstractmethod
from types import TracebackType
from typing import TYPE_CHECKING

from ._core._traps import checkpoint

if TYPE_CHECKING:
    from typing_extensions import Self


class ClosesOnExit:
    """``with obj:`` calls ``obj.close()`` on the way out, whatever ended the
    block; the block's exception, if any, propagates."""

    __slots__ = ()

    @abstractmethod
    def close(self) -> None:
        """Close at once (not a checkpoint); each subclass says what that means."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class SyncCloseable(ClosesOnExit):
    """A ``ClosesOnExit`` whose ``aclose()`` (``lowio.abc.AsyncResource``'s)
    is ``close()`` then a checkpoint."""

    __slots__ = ()

    async def aclose(self) -> None:
        """``close()``, then a checkpoint."""
        self.close()
        await checkpoint()
