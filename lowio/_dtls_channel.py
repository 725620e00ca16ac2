"""``DTLSChannel`` and ``DTLSChannelStatistics``: one DTLS association of a
``DTLSEndpoint`` (``_dtls.py``), and how lowio drives its handshake.

The cryptography is pyOpenSSL's (``OpenSSL.SSL.Connection`` on memory
BIOs).  lowio drives the handshake: each flight OpenSSL writes is decoded,
re-fragmented for the channel's MTU and sent (``_dtls_records``); if no
answer arrives within the retransmit timeout it is sent again with the
timeout doubled (up to 60 s), and after two losses in a row the MTU falls
to the protocol's minimum.  OpenSSL's own wall-clock retransmissions are
recognised and dropped.  If OpenSSL gives up (a certificate that does not
verify, a fatal alert from the peer), its alert is sent and its error
raised.  The endpoint's receive task feeds each channel's buffer
(``_deliver``); everything runs in the run's thread.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from socket import AF_INET
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._abc import Channel
from ._channel import _NoPublicConstructorABC
from ._channel import open_memory_channel as _open_memory_channel
from ._closing import SyncCloseable
from ._core import (
    BrokenResourceError,
    ClosedResourceError,
    EndOfChannel,
    WouldBlock,
)
from ._core._exceptions import final
from ._core._traps import checkpoint
from ._dtls_records import (
    MIN_MTU,
    FlightItem,
    FlightPacker,
    decode_flight,
    is_alert,
    same_flight,
)
from ._ssl import NeedHandshakeError
from ._sync import Lock
from ._timeouts import move_on_after

if TYPE_CHECKING:
    from OpenSSL import SSL

    from ._dtls import DTLSEndpoint

__all__ = ["DTLSChannel", "DTLSChannelStatistics"]

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
class DTLSChannel(SyncCloseable, Channel[bytes], metaclass=_NoPublicConstructorABC):
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
        # our flight in the air during the handshake (kept across a
        # cancelled do_handshake, so that a new call resumes), then our last
        self._flight: list[FlightItem] = []
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
        if not self._flight:
            # The first flight: a client's ClientHello, or a server's answer
            # to the hello that serve() already fed in.
            await self._step_or_fail()
            self._flight = self._read_flight([])
            if not self._flight:
                raise self._ssl_module.Error("OpenSSL produced no handshake message to send")
        # else a cancelled do_handshake left this flight unanswered: resend it
        flight = self._flight
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
                    flight = self._flight = answer
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
