"""TLS over any lowio stream: ``SSLStream`` and ``SSLListener``.

How it works.  The stdlib's ``ssl.SSLObject`` does the cryptography against
two in-memory buffers (``ssl.MemoryBIO``): it reads the peer's ciphertext
from ``incoming`` and appends what must go to the peer to ``outgoing``.  Each
of its four operations (``do_handshake``, ``read``, ``write``, ``unwrap``)
either completes or raises ``SSLWantReadError``, meaning "feed me more
ciphertext, then call me again with the same arguments".  Any of them may
also leave bytes in ``outgoing``: a handshake message, a TLS record, a
close_notify, or a renegotiation reply to a read.

``SSLStream._drive`` is the one loop that turns such an operation into an
``await``: call it; move whatever it left in ``outgoing`` onto the transport;
if it asked for more input and nothing was sent, receive one chunk into
``incoming``; repeat until it completes.  Sending takes priority over
receiving because the bytes in ``outgoing`` must reach the wire in the order
OpenSSL produced them, and one blocking transport call per turn keeps the
loop's knowledge fresh (while this task waited, another may already have fed
``incoming``).

Two user tasks may use one ``SSLStream`` at once, one sending and one
receiving (full duplex).  Because a renegotiation can make a read send and a
write receive, both tasks may need the same transport direction; each
direction therefore has its own turnstile (``_TransportSide``).  The send
side is strictly first come first served (the order of TLS records is the
order of ``outgoing``).  The receive side counts the chunks received: a task
that was queued behind another receiver re-runs its operation instead of
receiving again, because the chunk it waited for may already be in
``incoming`` (receiving again could wait forever on a quiet peer).

Fast path: an uncontended turnstile is entered without a checkpoint of its
own (the transport call inside it is one), so an ``SSLStream`` operation
costs the transport's checkpoints and no more.
"""

from __future__ import annotations

import contextlib
import enum
import operator
import ssl as _stdlib_ssl
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ._abc import Listener, Stream
from ._conflict import ConflictDetector
from ._core import (
    BrokenResourceError,
    BusyResourceError,
    ClosedResourceError,
    ParkingLot,
)
from ._core._exceptions import final
from ._core._traps import cancel_shielded_checkpoint, checkpoint, checkpoint_if_cancelled
from ._socket_resolve import encode_hostname
from ._stapled_stream import aclose_forcefully
from ._sync import Event

T_Stream = TypeVar("T_Stream", bound=Stream)
_T = TypeVar("_T")

# The first receive asks the transport for this much; later ones for the
# largest chunk seen so far (a TLS record is at most 16 KiB of plaintext).
STARTING_RECEIVE_SIZE = 16384


class NeedHandshakeError(Exception):
    """An ``SSLStream`` attribute that only means something once the
    handshake is done (``getpeercert``, ``cipher``, ``version``, ...) was read
    before it finished.  Call ``do_handshake()`` first."""


class _State(enum.Enum):
    OPEN = "open"
    BROKEN = "broken"  # a TLS or transport failure: every later call raises
    CLOSED = "closed"


def _is_eof(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the peer closing the transport without a
    close_notify (a "ragged EOF").  Python 3.10 sometimes reports it as a
    plain ``SSLError``, hence the reason-string check."""
    if isinstance(exc, _stdlib_ssl.SSLEOFError):
        return True
    return "UNEXPECTED_EOF_WHILE_READING" in str(getattr(exc, "strerror", None) or "")


class _TransportSide:
    """Exclusive use of one direction of the transport, first come first
    served.  Entering while it is free is not a checkpoint; entering while it
    is held waits in a queue (cancellable)."""

    __slots__ = ("_held", "_queue")

    def __init__(self) -> None:
        self._held = False
        self._queue = ParkingLot()

    async def enter(self) -> None:
        if self._held or self._queue:
            await self._queue.park()  # ``leave`` hands the side over to us
        else:
            self._held = True

    def leave(self) -> None:
        if self._queue:
            self._queue.unpark(count=1)  # stays held, now by the next in line
        else:
            self._held = False


def _forwarded(name: str, *, needs_handshake: bool) -> Any:
    """A property reading (and writing) ``name`` on the ``SSLObject``."""

    def get(stream: SSLStream[Any]) -> Any:
        if needs_handshake and not stream._handshake_ok:
            raise NeedHandshakeError(f"call do_handshake() before calling {name!r}")
        return getattr(stream._ssl_object, name)

    def set_(stream: SSLStream[Any], value: Any) -> None:
        setattr(stream._ssl_object, name, value)

    return property(get, set_, doc=f"``ssl.SSLObject.{name}`` of the connection.")


@final
class SSLStream(Stream, Generic[T_Stream]):
    """TLS over ``transport_stream`` (any ``lowio.abc.Stream``), itself a
    ``Stream``.

    ``ssl_context`` makes the ``ssl.SSLObject``; ``server_side`` picks the
    role; ``server_hostname`` (a client's SNI name and the name its
    certificate is checked against; ``str`` names are IDNA 2008 encoded).
    ``https_compatible=True`` behaves as HTTPS peers expect: ``aclose`` does
    not wait for the peer's close_notify, and a peer that closes the
    transport without one reads as end of file instead of
    ``BrokenResourceError``.

    The handshake runs on the first send or receive, or on ``do_handshake``.
    Every method is a checkpoint.  Errors: ``BrokenResourceError`` (with the
    ``ssl.SSLError`` or transport error as ``__cause__``) for a failed
    handshake, a bad certificate, a TLS protocol error or a transport that
    failed, after which every call raises it again; ``ClosedResourceError``
    after ``aclose`` or ``unwrap``; ``BusyResourceError`` when two tasks send
    (or two receive) at once.  One task may send while another receives.

    If a send, receive or handshake is cancelled part-way, the TLS state is
    unknown and the stream is broken: the only useful call left is
    ``aclose``.

    The ``ssl.SSLObject``'s informational attributes are forwarded
    (``context``, ``server_side``, ``server_hostname``, ``session``,
    ``session_reused``, ``getpeercert``, ``cipher``, ``shared_ciphers``,
    ``compression``, ``pending``, ``get_channel_binding``,
    ``selected_alpn_protocol``, ``selected_npn_protocol``, ``version``);
    those that depend on the handshake raise ``NeedHandshakeError`` before
    it has finished.  Called only from the run's thread.
    """

    context = _forwarded("context", needs_handshake=False)
    server_side = _forwarded("server_side", needs_handshake=False)
    server_hostname = _forwarded("server_hostname", needs_handshake=False)
    session = _forwarded("session", needs_handshake=False)
    pending = _forwarded("pending", needs_handshake=False)
    session_reused = _forwarded("session_reused", needs_handshake=True)
    getpeercert = _forwarded("getpeercert", needs_handshake=True)
    selected_npn_protocol = _forwarded("selected_npn_protocol", needs_handshake=True)
    cipher = _forwarded("cipher", needs_handshake=True)
    shared_ciphers = _forwarded("shared_ciphers", needs_handshake=True)
    compression = _forwarded("compression", needs_handshake=True)
    get_channel_binding = _forwarded("get_channel_binding", needs_handshake=True)
    selected_alpn_protocol = _forwarded("selected_alpn_protocol", needs_handshake=True)
    version = _forwarded("version", needs_handshake=True)

    def __init__(
        self,
        transport_stream: T_Stream,
        ssl_context: _stdlib_ssl.SSLContext,
        *,
        server_hostname: str | bytes | None = None,
        server_side: bool = False,
        https_compatible: bool = False,
    ) -> None:
        if isinstance(server_hostname, str):
            server_hostname = encode_hostname(server_hostname)
        if not isinstance(ssl_context, _stdlib_ssl.SSLContext):
            raise TypeError(f"ssl_context must be an ssl.SSLContext, not {ssl_context!r}")
        self.transport_stream: T_Stream = transport_stream
        self._https_compatible = https_compatible
        self._state = _State.OPEN
        self._incoming = _stdlib_ssl.MemoryBIO()
        self._outgoing = _stdlib_ssl.MemoryBIO()
        self._ssl_object = ssl_context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
        )
        # A TLS 1.3 server's session tickets, held back until the first
        # application write (see ``_drive``).
        self._held_back = b""
        self._handshake_started = False
        self._handshake_ok = False
        self._handshake_over = Event()  # set when it ends, whether it worked or not
        self._send_side = _TransportSide()
        self._receive_side = _TransportSide()
        self._chunks_received = 0
        self._receive_size = STARTING_RECEIVE_SIZE
        self._sending = ConflictDetector("another task is currently sending data on this SSLStream")
        self._receiving = ConflictDetector(
            "another task is currently receiving data on this SSLStream"
        )

    # ---- the engine ----

    def _check_open(self) -> None:
        if self._state is _State.OPEN:
            return
        if self._state is _State.BROKEN:
            raise BrokenResourceError("this SSLStream is broken (an earlier operation failed)")
        raise ClosedResourceError("this SSLStream is closed")

    async def _drive(
        self,
        operation: Callable[..., _T],
        *args: object,
        one_pass: bool = False,
        handshake: bool = False,
    ) -> _T | None:
        """Run ``operation(*args)`` on the ``SSLObject`` to completion (see
        the module docstring).  Always a checkpoint.  ``one_pass``: call it
        once, flush its output, and return even if it wanted more input (a
        close_notify send that need not wait for the peer's).

        Raises ``BrokenResourceError`` from an ``ssl`` error (and marks the
        stream broken); a transport error propagates after marking it broken.
        """
        await checkpoint_if_cancelled()
        waited = False
        while True:
            done = True
            result: _T | None = None
            try:
                result = operation(*args)
            except _stdlib_ssl.SSLWantReadError:
                done = one_pass
            except (_stdlib_ssl.SSLError, _stdlib_ssl.CertificateError) as exc:
                self._state = _State.BROKEN
                raise BrokenResourceError(f"TLS failure: {exc}") from exc
            output = self._outgoing.read()
            if (
                handshake
                and done
                and self._ssl_object.server_side
                and self._ssl_object.version() == "TLSv1.3"
            ):
                # OpenSSL's TLS 1.3 server sends its session tickets right
                # after the handshake, before the client may expect data;
                # sending them then can deadlock a client that waits for us
                # (openssl/openssl#7948).  They go out with our first write.
                self._held_back, output = output, b""
            if output:
                waited = True
                await self._send_side.enter()
                try:
                    if self._held_back:
                        output, self._held_back = self._held_back + output, b""
                    await self.transport_stream.send_all(output)
                except BaseException:
                    self._state = _State.BROKEN
                    raise
                finally:
                    self._send_side.leave()
            elif not done:
                waited = True
                seen = self._chunks_received
                await self._receive_side.enter()
                try:
                    if seen == self._chunks_received:  # nobody fed us meanwhile
                        data = await self.transport_stream.receive_some()
                        if data:
                            self._receive_size = max(self._receive_size, len(data))
                            self._incoming.write(data)
                        else:
                            self._incoming.write_eof()
                        self._chunks_received += 1
                finally:
                    self._receive_side.leave()
            if done:
                break
        if not waited:
            await cancel_shielded_checkpoint()
        return result

    async def _ensure_handshake(self, *, checkpoint_if_done: bool) -> None:
        if not self._handshake_started:
            self._handshake_started = True
            try:
                await self._drive(self._ssl_object.do_handshake, handshake=True)
            except BaseException:
                self._state = _State.BROKEN
                raise
            else:
                self._handshake_ok = True
            finally:
                self._handshake_over.set()
        elif not self._handshake_over.is_set() or checkpoint_if_done:
            await self._handshake_over.wait()
            self._check_open()  # the other task's handshake may have failed

    # ---- the public operations ----

    async def do_handshake(self) -> None:
        """Run the TLS handshake now if it has not run yet (a send or receive
        runs it otherwise); if another task is running it, wait for that.
        Always a checkpoint.  Raises ``BrokenResourceError`` if the handshake
        fails or the stream is broken, ``ClosedResourceError`` if closed.
        Cancelling it breaks the stream."""
        self._check_open()
        await self._ensure_handshake(checkpoint_if_done=True)

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Up to ``max_bytes`` decrypted bytes (``None``: the largest chunk
        the transport has given so far, at least 16 KiB), waiting until some
        arrive; ``b""`` once the peer has sent close_notify (or, with
        ``https_compatible``, closed the transport).  A checkpoint.
        ``ValueError`` for ``max_bytes < 1``."""
        with self._receiving:
            self._check_open()
            try:
                await self._ensure_handshake(checkpoint_if_done=False)
            except BrokenResourceError as exc:
                cause = exc.__cause__
                if self._https_compatible and (
                    isinstance(cause, _stdlib_ssl.SSLSyscallError) or _is_eof(cause)
                ):
                    await checkpoint()
                    return b""
                raise
            if max_bytes is None:
                max_bytes = max(self._receive_size, self._incoming.pending)
            else:
                max_bytes = operator.index(max_bytes)
                if max_bytes < 1:
                    raise ValueError("max_bytes must be >= 1")
            try:
                data = await self._drive(self._ssl_object.read, max_bytes)
            except BrokenResourceError as exc:
                if self._https_compatible and _is_eof(exc.__cause__):
                    await checkpoint()
                    return b""
                raise
            assert data is not None
            return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt ``data`` and send all of it.  A checkpoint (also for empty
        ``data``, which sends nothing)."""
        with self._sending:
            self._check_open()
            await self._ensure_handshake(checkpoint_if_done=False)
            if not data:
                await checkpoint()
                return
            await self._drive(self._ssl_object.write, data)

    async def unwrap(self) -> tuple[T_Stream, bytes | bytearray]:
        """End TLS cleanly (exchange close_notify) and hand back the
        transport: ``(transport_stream, trailing_bytes)``, where
        ``trailing_bytes`` were read past the end of TLS and belong to the
        plaintext that follows.  The ``SSLStream`` is closed afterwards (its
        ``transport_stream`` becomes ``None``).  A checkpoint; conflicts with
        a concurrent send or receive (``BusyResourceError``)."""
        with self._receiving, self._sending:
            self._check_open()
            await self._ensure_handshake(checkpoint_if_done=False)
            await self._drive(self._ssl_object.unwrap)
            transport = self.transport_stream
            self._state = _State.CLOSED
            self.transport_stream = None  # type: ignore[assignment]
            return transport, self._incoming.read()

    async def aclose(self) -> None:
        """Say goodbye and close the transport.  Without ``https_compatible``
        this sends close_notify first (failures doing so are ignored: the
        transport is closed either way); with it, or on a broken stream, the
        transport is just closed.  Idempotent; a checkpoint; the transport is
        closed even if this is cancelled."""
        if self._state is _State.CLOSED:
            await checkpoint()
            return
        if self._state is _State.BROKEN or self._https_compatible:
            self._state = _State.CLOSED
            await self.transport_stream.aclose()
            return
        try:
            await self._ensure_handshake(checkpoint_if_done=False)
            # the peer may be gone, or the transport in use: close anyway
            with contextlib.suppress(BrokenResourceError, BusyResourceError):
                await self._drive(self._ssl_object.unwrap, one_pass=True)
        except BaseException:
            await aclose_forcefully(self.transport_stream)
            raise
        else:
            await self.transport_stream.aclose()
        finally:
            self._state = _State.CLOSED

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the transport could take more data (see
        ``lowio.abc.SendStream``).  A checkpoint."""
        with self._sending:
            self._check_open()
            await self._send_side.enter()
            try:
                await self.transport_stream.wait_send_all_might_not_block()
            finally:
                self._send_side.leave()


@final
class SSLListener(Listener[SSLStream[T_Stream]]):
    """Wraps every connection ``transport_listener`` accepts in a server-side
    ``SSLStream`` (with ``ssl_context`` and ``https_compatible``).  The
    handshake runs on the stream's first use, so ``accept`` never waits on a
    slow client's handshake."""

    def __init__(
        self,
        transport_listener: Listener[T_Stream],
        ssl_context: _stdlib_ssl.SSLContext,
        *,
        https_compatible: bool = False,
    ) -> None:
        self.transport_listener = transport_listener
        self._ssl_context = ssl_context
        self._https_compatible = https_compatible

    async def accept(self) -> SSLStream[T_Stream]:
        """The next connection, as an ``SSLStream``.  A checkpoint; raises
        what the transport listener's ``accept`` raises."""
        transport = await self.transport_listener.accept()
        return SSLStream(
            transport,
            self._ssl_context,
            server_side=True,
            https_compatible=self._https_compatible,
        )

    async def aclose(self) -> None:
        """Close the transport listener."""
        await self.transport_listener.aclose()


__all__ = ["NeedHandshakeError", "SSLListener", "SSLStream"]
