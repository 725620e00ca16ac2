"""DTLS over UDP, trio's API: ``DTLSEndpoint`` (here), ``DTLSChannel`` and
``DTLSChannelStatistics`` (``_dtls_channel.py``), the wire format and the
cookies (``_dtls_records.py``).

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
from socket import AF_INET6, SOCK_DGRAM
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._channel import MemoryReceiveChannel, MemorySendChannel
from ._channel import open_memory_channel as _open_memory_channel
from ._closing import ClosesOnExit
from ._core import (
    TASK_STATUS_IGNORED,
    BusyResourceError,
    ClosedResourceError,
    TaskStatus,
    current_time,
    current_token,
    open_nursery,
    spawn_system_task,
)
from ._core._exceptions import final
from ._dtls_channel import DTLSChannel, _openssl
from ._dtls_records import (
    CookieJar,
    MalformedPacket,
    hello_verify_request,
    in_initial_epoch,
    looks_like_client_hello,
    parse_client_hello_untrusted,
)
from ._socket import SocketType
from ._sync import Lock

if TYPE_CHECKING:
    from OpenSSL import SSL

__all__ = ["DTLSEndpoint"]

# the largest UDP payload over IPv4 (65535 - 8 bytes UDP - 20 bytes IP)
_MAX_DATAGRAM = 65527


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


@final
class DTLSEndpoint(ClosesOnExit):
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

    def __init__(self, socket: SocketType, *, incoming_packets_buffer: int = 10) -> None:
        self._ssl_module = _openssl()
        if not isinstance(socket, SocketType):
            raise TypeError(
                "DTLSEndpoint needs a lowio socket (lowio.socket.socket(type=SOCK_DGRAM)), "
                f"not {type(socket).__name__}"
            )
        if socket.type != SOCK_DGRAM:
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


async def _receive_loop(endpoint_ref: weakref.ref[DTLSEndpoint], sock: SocketType) -> None:
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
