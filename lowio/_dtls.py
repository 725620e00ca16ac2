"""DTLS over UDP: ``DTLSEndpoint``, ``DTLSChannel``, ``DTLSChannelStatistics``
(trio's API).

One ``DTLSEndpoint`` owns one UDP socket and any number of associations
over it, one ``DTLSChannel`` per peer address, as client (``connect``) or
server (``serve``).  A single system task per endpoint (started on first
need) receives every datagram and routes it:

* a ClientHello goes to the stateless cookie exchange while ``serve`` runs
  (``_dtls_records.CookieJar``): without a valid cookie it is answered with
  a HelloVerifyRequest and forgotten, so a spoofed source address costs the
  server one reply and no memory; with one, a new channel is made, replaces
  any older association with that peer, and is handed to ``serve``;
* anything else goes into the buffer of the channel registered for its
  source address (or is dropped: no association; the buffer is full, which
  ``statistics()`` counts);
* a handshake datagram arriving after our handshake finished means the
  peer lost our last flight: it is re-sent at once.

The cryptography is pyOpenSSL's (``OpenSSL.SSL.Connection`` on memory
BIOs).  lowio drives the handshake: each flight OpenSSL writes is decoded,
re-fragmented for the channel's MTU and sent; if no answer arrives within
the retransmit timeout it is sent again with the timeout doubled (up to 60
s), and after two losses in a row the MTU falls to the protocol's minimum.
OpenSSL's own wall-clock retransmissions are recognised and dropped.

pyOpenSSL is imported on first use (constructing an endpoint), so lowio
imports without it.  The receive task holds the endpoint only weakly: an
endpoint dropped unclosed is closed (with a ``ResourceWarning``) and its
task ends.  Everything runs in the run's thread.
"""

from __future__ import annotations

import contextlib
import errno
import math
import warnings
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from socket import AF_INET, AF_INET6, SOCK_DGRAM
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._abc import Channel
from ._channel import MemoryReceiveChannel, MemorySendChannel, _NoPublicConstructorABC
from ._channel import open_memory_channel as _open_memory_channel
from ._core import (
    TASK_STATUS_IGNORED,
    BrokenResourceError,
    BusyResourceError,
    ClosedResourceError,
    EndOfChannel,
    TaskStatus,
    WouldBlock,
    current_time,
    current_token,
    open_nursery,
    spawn_system_task,
)
from ._core._exceptions import final
from ._core._traps import checkpoint
from ._dtls_records import (
    MIN_MTU,
    CookieJar,
    FlightItem,
    FlightPacker,
    MalformedPacket,
    decode_flight,
    hello_verify_request,
    in_initial_epoch,
    is_alert,
    looks_like_client_hello,
    parse_client_hello_untrusted,
    same_flight,
)
from ._ssl import NeedHandshakeError
from ._sync import Lock
from ._timeouts import move_on_after

if TYPE_CHECKING:
    from OpenSSL import SSL
    from typing_extensions import Self

__all__ = ["DTLSChannel", "DTLSChannelStatistics", "DTLSEndpoint"]

T = TypeVar("T")

# the largest UDP payload over IPv4 (65535 - 8 bytes UDP - 20 bytes IP)
_MAX_DATAGRAM = 65527
_MAX_RETRANSMIT_TIMEOUT = 60.0  # seconds, as OpenSSL and the DTLS 1.3 draft
_TLS_RECORD_MAX = 16384  # the most plaintext one read can return


def _openssl() -> ModuleType:
    """``OpenSSL.SSL``, imported on first use; an ``ImportError`` naming the
    package to install if it is missing."""
    try:
        from OpenSSL import SSL as ssl_module
    except ImportError as exc:
        raise ImportError(
            "lowio's DTLS support (DTLSEndpoint) needs pyOpenSSL, which is not installed: "
            "pip install pyopenssl"
        ) from exc
    return ssl_module


def _ip_overhead(family: int) -> int:
    """Bytes of IP and UDP header in front of each datagram."""
    return 28 if family == AF_INET else 48


def _default_mtu(family: int) -> int:
    """A ciphertext MTU for an Ethernet path (1500 bytes of IP packet)."""
    return 1500 - _ip_overhead(family)


def _minimum_mtu(family: int) -> int:
    """The ciphertext MTU every path must carry (576 bytes of IPv4 packet,
    1280 of IPv6)."""
    return (576 if family == AF_INET else 1280) - _ip_overhead(family)


def _drain(read: Callable[[int], bytes], ssl_module: ModuleType) -> bytes:
    """Everything ``read`` (a pyOpenSSL ``read`` or ``bio_read``) has now."""
    chunks = []
    while True:
        try:
            chunks.append(read(_TLS_RECORD_MAX))
        except ssl_module.WantReadError:
            return b"".join(chunks)


def _prepare_context(ssl_context: SSL.Context, ssl_module: ModuleType) -> None:
    """The options every DTLS context needs here: OpenSSL must not ask the
    memory BIO for an MTU (lowio sets it), and renegotiation is off (a new
    association does the same job)."""
    if not isinstance(ssl_context, ssl_module.Context):
        raise TypeError(
            f"ssl_context must be an OpenSSL.SSL.Context, not {type(ssl_context).__name__}"
        )
    ssl_context.set_options(ssl_module.OP_NO_QUERY_MTU | ssl_module.OP_NO_RENEGOTIATION)


def _lookup_key(family: int, address: Any) -> Any:
    """The form of ``address`` that ``recvfrom`` reports on this socket (an
    IPv6 socket reports ``(host, port, flowinfo, scope_id)``)."""
    if family == AF_INET6 and isinstance(address, tuple) and len(address) == 2:
        return (*address, 0, 0)
    return address


@dataclass(frozen=True)
class DTLSChannelStatistics:
    """A snapshot of one ``DTLSChannel`` (``DTLSChannel.statistics()``).

    ``incoming_packets_dropped_in_trio``: datagrams from this peer that
    arrived but were dropped because the channel's buffer
    (``DTLSEndpoint.incoming_packets_buffer``) was full; receive more often
    or use a larger buffer if it grows.  (trio's field name, kept so trio
    code reads it unchanged.)
    """

    incoming_packets_dropped_in_trio: int


@final
class DTLSEndpoint:
    """A UDP socket carrying DTLS associations with any number of peers,
    as client and as server at once (trio's ``DTLSEndpoint``).

    Args:
      socket: a ``lowio.socket`` socket of type ``SOCK_DGRAM``; bind it
        before ``serve``.  The endpoint owns it from now on and closes it in
        ``close``.
      incoming_packets_buffer: how many received datagrams each channel
        holds for ``DTLSChannel.receive`` before dropping new ones.

    Both are kept as the attributes ``socket`` and
    ``incoming_packets_buffer``.  Use it as a context manager (or call
    ``close``); one dropped unclosed is closed when collected, with a
    ``ResourceWarning``.  Constructing it needs pyOpenSSL (``ImportError``
    naming it if missing) and a running lowio run (``RuntimeError``
    outside one); raises ``ValueError`` for a socket that is not
    ``SOCK_DGRAM`` or a negative buffer size.  Use it from its run's thread.
    """

    _closed = True  # until __init__ completes: __del__ has nothing to do

    def __init__(self, socket: Any, *, incoming_packets_buffer: int = 10) -> None:
        self._ssl_module = _openssl()
        kind = getattr(socket, "type", None)
        if kind is None:
            raise TypeError(f"DTLSEndpoint needs a lowio socket, not {type(socket).__name__}")
        if kind != SOCK_DGRAM:
            raise ValueError("DTLS requires a SOCK_DGRAM socket")
        if isinstance(incoming_packets_buffer, bool) or not isinstance(
            incoming_packets_buffer, int
        ):
            raise TypeError(
                "incoming_packets_buffer must be an int, "
                f"not {type(incoming_packets_buffer).__name__}"
            )
        if incoming_packets_buffer < 0:
            raise ValueError(f"incoming_packets_buffer must be >= 0, not {incoming_packets_buffer}")
        self._token = current_token()
        self.socket = socket
        self.incoming_packets_buffer = incoming_packets_buffer
        # one association per peer address; a channel nobody holds goes away
        self._channels: weakref.WeakValueDictionary[Any, DTLSChannel] = (
            weakref.WeakValueDictionary()
        )
        self._server_context: SSL.Context | None = None  # set while serve() runs
        self._cookies: CookieJar | None = None  # made when first needed
        self._new_channels: tuple[
            MemorySendChannel[DTLSChannel], MemoryReceiveChannel[DTLSChannel]
        ] = _open_memory_channel(math.inf)
        self._send_lock = Lock()  # one sender on the socket at a time
        self._receiving = False
        self._closed = False

    def __repr__(self) -> str:
        # not the socket's repr: a custom socket's may fail (and this runs in __del__)
        state = "closed" if self._closed else "open"
        return f"<lowio.DTLSEndpoint ({state}) at {id(self):#x}>"

    def __del__(self) -> None:
        if self._closed:
            return
        try:
            # closing in the run wakes the receive task, which then ends
            self._token.run_sync_soon(self.close)
        except RuntimeError:  # the run is over: only the socket is left
            self.socket.close()
        warnings.warn(
            f"unclosed DTLS endpoint {self!r}", ResourceWarning, source=self, stacklevel=1
        )

    def close(self) -> None:
        """Closes the socket and every channel of this endpoint (their
        waiting ``receive`` calls raise ``ClosedResourceError``), and makes
        ``serve`` return once its handlers are done.  Idempotent; not a
        checkpoint."""
        self._closed = True
        self.socket.close()
        for channel in list(self._channels.values()):
            channel.close()
        self._new_channels[0].close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedResourceError("this DTLS endpoint was closed")

    def _ensure_receive_loop(self) -> None:
        """Starts the receive task unless it runs already.  Lazily, at the
        first ``serve`` or handshake: a client socket may only be bound by
        its first send."""
        if not self._receiving:
            spawn_system_task(
                _receive_loop,
                weakref.ref(self),
                self.socket,
                name=f"<DTLS receiver of endpoint at {id(self):#x}>",
            )
            self._receiving = True

    def _register(self, channel: DTLSChannel) -> None:
        key = _lookup_key(self.socket.family, channel.peer_address)
        previous = self._channels.get(key)
        if previous is not None:
            previous._set_replaced()
        self._channels[key] = channel

    def _unregister(self, channel: DTLSChannel) -> None:
        key = _lookup_key(self.socket.family, channel.peer_address)
        if self._channels.get(key) is channel:
            del self._channels[key]

    async def serve(
        self,
        ssl_context: SSL.Context,
        async_fn: Callable[..., Awaitable[object]],
        *args: Any,
        task_status: TaskStatus[None] = TASK_STATUS_IGNORED,
    ) -> None:
        """Accepts DTLS associations and runs ``async_fn(channel, *args)``
        for each in a nursery of its own, closing the channel when the
        handler returns.  Runs until cancelled, or until the endpoint is
        closed and every handler has returned.  Use it with
        ``nursery.start``: it reports started once it is listening.

        A handler's channel has passed the cookie exchange (its peer
        address is real) but not the cryptographic handshake, which runs at
        the channel's first ``do_handshake``, ``send`` or ``receive`` (so
        the handler can set the MTU first, and catch handshake errors).

        Args:
          ssl_context: the ``OpenSSL.SSL.Context`` (with ``DTLS_METHOD``,
            a certificate and key) for the server side of each association.
            lowio sets options on it and its cookie verification callback
            (lowio checks cookies itself).
          async_fn: the handler.
          *args: more arguments for it.

        Raises ``ClosedResourceError`` if the endpoint is closed,
        ``BusyResourceError`` if another ``serve`` of this endpoint runs,
        ``RuntimeError`` if the socket is not bound, ``TypeError`` if
        ``ssl_context`` is not an ``OpenSSL.SSL.Context``.  A checkpoint.
        """
        self._check_open()
        if self._server_context is not None:
            raise BusyResourceError("another task is already listening")
        ssl_module = self._ssl_module
        _prepare_context(ssl_context, ssl_module)
        try:
            bound = self.socket.getsockname()
        except OSError:
            bound = None
        if not isinstance(bound, tuple) or bound[1] == 0:
            raise RuntimeError("DTLS socket must be bound before it can serve")
        self._ensure_receive_loop()
        ssl_context.set_cookie_verify_callback(lambda *_: True)
        self._server_context = ssl_context
        try:
            task_status.started()
            async with open_nursery() as nursery:
                async for channel in self._new_channels[1]:
                    nursery.start_soon(_run_handler, channel, async_fn, args)
        finally:
            self._server_context = None

    def connect(self, address: tuple[str, int], ssl_context: SSL.Context) -> DTLSChannel:
        """A new client ``DTLSChannel`` to ``address`` (``(host, port)``,
        a numeric address as the socket's ``recvfrom`` reports it).  No I/O
        happens here: the handshake runs at the channel's first
        ``do_handshake``, ``send`` or ``receive``.  An existing association
        with the same address is replaced (its operations raise
        ``BrokenResourceError``).  Not a checkpoint.

        Raises ``ClosedResourceError`` if the endpoint is closed,
        ``TypeError`` if ``ssl_context`` is not an ``OpenSSL.SSL.Context``
        or ``address`` is not a tuple.
        """
        self._check_open()
        if not isinstance(address, tuple) or len(address) < 2:
            raise TypeError(f"address must be a (host, port) tuple, not {address!r}")
        _prepare_context(ssl_context, self._ssl_module)
        channel = DTLSChannel._create(self, address, ssl_context)
        channel._ssl.set_connect_state()
        self._register(channel)
        return channel

    # ---- called by the receive task ----

    async def _route(self, packet: bytes, address: Any) -> None:
        if not packet:
            return  # no DTLS record is empty (and OpenSSL's BIO refuses b"")
        if looks_like_client_hello(packet):
            await self._answer_client_hello(packet, address)
            return
        channel = self._channels.get(address)
        if channel is None:
            return  # nobody we talk to
        if channel._handshake_done and in_initial_epoch(packet):
            await channel._resend_final_flight()
        else:
            channel._deliver(packet)

    async def _answer_client_hello(self, packet: bytes, address: Any) -> None:
        context = self._server_context
        if context is None:
            return  # not serving
        try:
            hello = parse_client_hello_untrusted(packet)
        except MalformedPacket:
            return
        if self._cookies is None:
            self._cookies = CookieJar()
        now = current_time()
        if not self._cookies.check(hello.cookie, now, address, hello.bound_fields):
            cookie = self._cookies.make(now, address, hello.bound_fields)
            with contextlib.suppress(OSError, ClosedResourceError):
                async with self._send_lock:
                    await self.socket.sendto(
                        hello_verify_request(cookie, hello.record_seq), address
                    )
            return
        identity = (hello.cookie, hello.bound_fields)
        current = self._channels.get(address)
        if current is not None and current._client_hello == identity:
            return  # a copy of the hello that made the current association
        channel = DTLSChannel._create(self, address, context)
        # our records must be numbered above the HelloVerifyRequest's (a copy
        # of the first hello's number), which the second hello's exceeds
        channel._packer.next_seq = hello.record_seq
        try:
            channel._ssl.bio_write(packet)
            channel._ssl.DTLSv1_listen()
        except self._ssl_module.Error:
            return  # OpenSSL refuses the hello after all
        if self._closed:
            return
        channel._client_hello = identity
        self._register(channel)
        self._new_channels[0].send_nowait(channel)


async def _run_handler(
    channel: DTLSChannel, async_fn: Callable[..., Awaitable[object]], args: tuple[Any, ...]
) -> None:
    with channel:
        await async_fn(channel, *args)


async def _receive_loop(endpoint_ref: weakref.ref[DTLSEndpoint], sock: Any) -> None:
    """The endpoint's receive task: holds the endpoint only while routing a
    datagram (so a dropped endpoint can be collected); ends when the socket
    is closed or the endpoint is gone."""
    try:
        while True:
            try:
                packet, address = await sock.recvfrom(_MAX_DATAGRAM)
            except OSError as exc:
                if exc.errno in (errno.EBADF, errno.ENOTSOCK):
                    return  # closed behind our back
                if exc.errno in (errno.ECONNRESET, errno.ECONNREFUSED):
                    continue  # an ICMP error for an earlier send: nothing to do
                raise
            if not await _route_with(endpoint_ref, packet, address):
                return
    except ClosedResourceError:
        return


async def _route_with(endpoint_ref: weakref.ref[DTLSEndpoint], packet: bytes, address: Any) -> bool:
    endpoint = endpoint_ref()
    if endpoint is None:
        return False
    await endpoint._route(packet, address)
    return True


@final
class DTLSChannel(Channel[bytes], metaclass=_NoPublicConstructorABC):
    """One DTLS association with one peer (trio's ``DTLSChannel``): a
    ``lowio.abc.Channel`` of datagrams, each ``send`` one encrypted
    datagram, each ``receive`` the cleartext of one.  Made by
    ``DTLSEndpoint.connect`` or handed to ``serve``'s handler; no public
    constructor.

    Attributes: ``endpoint`` (its ``DTLSEndpoint``) and ``peer_address``.

    It holds no OS resource of its own (the socket is the endpoint's);
    ``close`` stops it and wakes waiting receivers.  A newer association
    with the same peer (the peer restarted its handshake, or ``connect``
    was called again) replaces it: its operations then raise
    ``BrokenResourceError``.  Use it from its run's thread.
    """

    def __init__(self, endpoint: DTLSEndpoint, peer_address: Any, ssl_context: SSL.Context) -> None:
        self.endpoint = endpoint
        self.peer_address = peer_address
        self._ssl_module = endpoint._ssl_module
        self._ssl = self._ssl_module.Connection(ssl_context)
        self._handshake_mtu = 0
        # OpenSSL needs an MTU set before it can handshake over memory BIOs
        self.set_ciphertext_mtu(_default_mtu(endpoint.socket.family))
        self._dropped = 0
        self._client_hello: tuple[bytes, bytes] | None = None  # server side: what made it
        self._handshake_done = False
        self._replaced = False
        self._closed = False
        self._inbox, self._packets = _open_memory_channel[bytes](endpoint.incoming_packets_buffer)
        self._handshake_lock = Lock()
        self._packer = FlightPacker()
        self._final_flight: list[FlightItem] = []

    def __repr__(self) -> str:
        return f"<lowio.DTLSChannel to {self.peer_address!r}>"

    # ---- state ----

    def _set_replaced(self) -> None:
        self._replaced = True
        self._inbox.close()  # what is buffered can still be read; then EndOfChannel

    def _check_usable(self) -> None:
        if self._closed:
            raise ClosedResourceError("this DTLS channel was closed")
        if self._replaced:
            raise BrokenResourceError("peer tore down this connection to start a new one")

    def close(self) -> None:
        """Closes this channel: later calls raise ``ClosedResourceError``,
        and so do ``receive`` calls waiting now.  The endpoint and its
        other channels go on.  Idempotent; not a checkpoint.  Also a
        context manager (sync and async)."""
        if self._closed:
            return
        self._closed = True
        self.endpoint._unregister(self)
        self._packets.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def aclose(self) -> None:
        """``close``, then a checkpoint (the ``lowio.abc.Channel`` method)."""
        self.close()
        await checkpoint()

    # ---- datagrams in and out ----

    def _deliver(self, packet: bytes) -> None:
        try:
            self._inbox.send_nowait(packet)
        except WouldBlock:
            self._dropped += 1
        except (BrokenResourceError, ClosedResourceError):
            pass  # closed or replaced meanwhile

    async def _next_packet(self) -> bytes:
        try:
            return await self._packets.receive()
        except EndOfChannel:  # the endpoint closed our inbox: we were replaced
            self._check_usable()
            raise

    async def _send_datagram(self, datagram: bytes) -> None:
        async with self.endpoint._send_lock:
            await self.endpoint.socket.sendto(datagram, self.peer_address)

    async def _send_flight(self, flight: list[FlightItem]) -> None:
        for datagram in self._packer.pack(flight, self._handshake_mtu):
            await self._send_datagram(datagram)

    async def _resend_final_flight(self) -> None:
        # best effort, from the receive task: a failed send is a lost packet
        with contextlib.suppress(OSError):
            await self._send_flight(self._final_flight)

    def _read_flight(self, current: list[FlightItem]) -> list[FlightItem]:
        """What OpenSSL wrote since last asked, as a flight; empty if that
        is OpenSSL re-sending ``current`` (lowio does the retransmitting)."""
        flight = decode_flight(_drain(self._ssl.bio_read, self._ssl_module))
        return [] if same_flight(current, flight) else flight

    def _handshake_step(self) -> bool:
        """Runs OpenSSL's handshake on what it was fed: True once it is
        complete.  A datagram OpenSSL rejects is ignored (it may be a
        stray or forged one), unless OpenSSL gave up on the association: a
        second call with no new input then fails too, and that error is
        raised."""
        ssl_module = self._ssl_module
        try:
            self._ssl.do_handshake()
        except ssl_module.WantReadError:
            return False
        except ssl_module.Error as first:
            try:
                self._ssl.do_handshake()
            except ssl_module.WantReadError:
                return False
            except ssl_module.Error:
                raise first from None
        return True

    async def _step_or_fail(self) -> bool:
        """``_handshake_step``; if OpenSSL gave up, the alert it wrote for
        the peer is sent (best effort) before its error is raised."""
        try:
            return self._handshake_step()
        except self._ssl_module.Error:
            with contextlib.suppress(OSError, ClosedResourceError):
                await self._send_flight(self._read_flight([]))
            raise

    async def do_handshake(self, *, initial_retransmit_timeout: float = 1.0) -> None:
        """Runs the DTLS handshake, unless it ran already (then returns at
        once).  ``send`` and ``receive`` call it first, so calling it is
        optional; calling it lets you put a timeout on the handshake alone
        or set ``initial_retransmit_timeout``.  Several tasks may call it at
        once: one handshakes, the others wait for it.

        Args:
          initial_retransmit_timeout: seconds to wait for the peer's answer
            to a flight before sending it again (each further loss doubles
            it, up to 60 s).  About 1.5 times the round trip is ideal.

        Raises ``ClosedResourceError`` (closed), ``BrokenResourceError``
        (replaced by a newer association), ``OpenSSL.SSL.Error`` (the
        handshake failed, e.g. the certificate did not verify),
        ``ValueError`` for a timeout that is not a positive number.  A
        checkpoint.
        """
        if not (
            isinstance(initial_retransmit_timeout, (int, float))
            and 0 < initial_retransmit_timeout < math.inf
        ):
            raise ValueError(
                "initial_retransmit_timeout must be a positive number of seconds, "
                f"not {initial_retransmit_timeout!r}"
            )
        async with self._handshake_lock:
            if self._handshake_done:
                return
            self._check_usable()
            await self._handshake(float(initial_retransmit_timeout))

    async def _handshake(self, initial_timeout: float) -> None:
        # The first flight: a client's ClientHello, or a server's answer to
        # the hello that serve() already fed in.
        await self._step_or_fail()
        flight = self._read_flight([])
        if not flight:
            raise self._ssl_module.Error("OpenSSL produced no handshake message to send")
        timeout = initial_timeout
        losses = 0  # timeouts in a row for the flight in the air
        while True:
            self._check_usable()
            await self._send_flight(flight)
            self.endpoint._ensure_receive_loop()
            with move_on_after(timeout) as timer:
                while True:
                    self._ssl.bio_write(await self._next_packet())
                    if await self._step_or_fail():
                        self._handshake_done = True
                        self._final_flight = self._read_flight(flight)
                        await self._send_flight(self._final_flight)
                        return
                    answer = self._read_flight(flight)
                    if not answer:
                        continue  # the peer's flight is not complete yet
                    if is_alert(answer):
                        await self._send_flight(answer)  # once: not retransmitted
                        continue
                    # the peer's whole flight arrived and ours is next; the
                    # timer restarts from its initial value only after a
                    # flight that needed no retransmission (RFC 6347 4.2.4.1)
                    flight = answer
                    if losses == 0:
                        timeout = initial_timeout
                    losses = 0
                    break
            if timer.cancelled_caught:
                timeout = min(2 * timeout, _MAX_RETRANSMIT_TIMEOUT)
                losses += 1
                if losses == 2:  # perhaps too big for the path: the minimum MTU
                    self._handshake_mtu = min(
                        self._handshake_mtu, _minimum_mtu(self.endpoint.socket.family)
                    )

    async def send(self, data: bytes) -> None:
        """Encrypts ``data`` into one datagram and sends it to the peer
        (handshaking first if needed).  lowio does not enforce the MTU:
        see ``get_cleartext_mtu``.

        Raises ``ValueError`` for empty ``data`` (OpenSSL cannot send
        it), ``ClosedResourceError``, ``BrokenResourceError`` (replaced),
        ``OSError`` from the socket, and what ``do_handshake`` raises.  A
        checkpoint.
        """
        if self._closed:
            await checkpoint()
            raise ClosedResourceError("this DTLS channel was closed")
        if not data:
            raise ValueError("openssl doesn't support sending empty DTLS packets")
        if not self._handshake_done:
            await self.do_handshake()
        self._check_usable()
        self._ssl.write(data)
        await self._send_datagram(_drain(self._ssl.bio_read, self._ssl_module))

    async def receive(self) -> bytes:
        """The cleartext of the peer's next datagram, waiting for it if
        needed (handshaking first if needed).  Datagrams that decrypt to
        nothing (duplicates, late handshake records) are skipped.  Several
        tasks may receive at once; cancelling a receive loses no datagram.

        Raises ``ClosedResourceError`` (closed, also while waiting),
        ``BrokenResourceError`` (replaced, once what was buffered is read),
        ``OpenSSL.SSL.Error`` for a failure OpenSSL reports, and what
        ``do_handshake`` raises.  A checkpoint.
        """
        if self._closed:
            await checkpoint()
            raise ClosedResourceError("this DTLS channel was closed")
        if not self._handshake_done:
            await self.do_handshake()
        while True:
            self._ssl.bio_write(await self._next_packet())
            cleartext = _drain(self._ssl.read, self._ssl_module)
            if cleartext:
                return cleartext

    def set_ciphertext_mtu(self, new_mtu: int) -> None:
        """Sets the largest UDP payload (no IP/UDP headers: 28 bytes less
        than the IPv4 path MTU, 48 less than the IPv6 one) to use towards
        this peer.  Before the handshake, its messages are fragmented to
        fit (smaller still if losses suggest it); it also sets what
        ``get_cleartext_mtu`` returns.  lowio assumes 1472 (IPv4) or 1452
        (IPv6), an Ethernet path.  Raises ``TypeError`` for a non-int,
        ``ValueError`` below the smallest MTU a handshake can use.  Not a
        checkpoint."""
        if isinstance(new_mtu, bool) or not isinstance(new_mtu, int):
            raise TypeError(f"the MTU must be an int, not {type(new_mtu).__name__}")
        if new_mtu < MIN_MTU:
            raise ValueError(f"the ciphertext MTU must be at least {MIN_MTU} bytes, not {new_mtu}")
        self._handshake_mtu = new_mtu
        self._ssl.set_ciphertext_mtu(new_mtu)

    def get_cleartext_mtu(self) -> int:
        """The most bytes one ``send`` can take and still fit the ciphertext
        MTU (``set_ciphertext_mtu``).  Raises ``lowio.NeedHandshakeError``
        before the handshake has completed.  Not a checkpoint."""
        if not self._handshake_done:
            raise NeedHandshakeError(
                "the DTLS handshake has not completed yet: call do_handshake()"
            )
        mtu: int = self._ssl.get_cleartext_mtu()
        return mtu

    def statistics(self) -> DTLSChannelStatistics:
        """A ``DTLSChannelStatistics`` snapshot.  Not a checkpoint."""
        return DTLSChannelStatistics(self._dropped)
