"""DTLS 1.2 wire format (RFC 6347) for ``lowio.DTLSEndpoint``: records,
handshake fragments, the stateless cookie exchange, and re-packing the
handshake flights that OpenSSL produces.

Why lowio parses DTLS at all: OpenSSL's memory-BIO DTLS cannot do two
things a server on a shared UDP socket needs.  It keeps per-peer state from
the first ClientHello on (so a spoofed source address would cost memory),
and it fragments handshake messages for one fixed MTU and retransmits them
on its own wall-clock timer.  So the endpoint answers a cookie-less
ClientHello itself, with no state (``hello_verify_request``), and drives
handshake retransmission itself: each flight OpenSSL writes is decoded into
its messages (``decode_flight``) and re-fragmented for the current MTU
(``FlightPacker``) every time it is (re)sent.

Conventions: a function whose name ends in ``_untrusted`` reads bytes from
the network and raises nothing but ``MalformedPacket`` whatever they are.
The rest read what OpenSSL wrote and trust it.  Nothing here does I/O or
touches a run; ``now`` arguments are the run's clock, passed in.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

# record content types and handshake message types used here (IANA registry)
CONTENT_CHANGE_CIPHER_SPEC = 20
CONTENT_ALERT = 21
CONTENT_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1
HANDSHAKE_HELLO_VERIFY_REQUEST = 3
# the record-layer version of a HelloVerifyRequest: DTLS 1.0 whatever the
# version later negotiated (RFC 6347 4.2.1, erratum 4103)
DTLS_1_0 = b"\xfe\xff"

# record header: content type, version, epoch (2 bytes) and sequence number
# (6 bytes) read as one 64-bit number, payload length
_RECORD = struct.Struct("!B2sQH")
# handshake fragment header: type, message length (24 bits), message
# sequence, fragment offset (24 bits), fragment length (24 bits)
_FRAGMENT = struct.Struct("!B3sH3s3s")
RECORD_HEADER_SIZE = _RECORD.size
FRAGMENT_HEADER_SIZE = _FRAGMENT.size
# an epoch other than 0 (in the combined epoch+sequence number): encrypted
_EPOCH_BITS = 0xFFFF << 48

# The smallest ciphertext MTU the packer can work with: one record header,
# one fragment header and one byte of handshake body.
MIN_MTU = RECORD_HEADER_SIZE + FRAGMENT_HEADER_SIZE + 1


class MalformedPacket(Exception):
    """Bytes from the network that are not the DTLS they claim to be."""


@dataclass(frozen=True)
class Record:
    """One DTLS record: ``seq`` is the epoch and sequence number together."""

    content_type: int
    version: bytes
    seq: int
    payload: bytes

    def encode(self) -> bytes:
        return _RECORD.pack(self.content_type, self.version, self.seq, len(self.payload)) + (
            self.payload
        )


def iter_records_untrusted(packet: bytes) -> Iterator[Record]:
    """The records of one datagram, in order."""
    offset = 0
    while offset < len(packet):
        try:
            content_type, version, seq, length = _RECORD.unpack_from(packet, offset)
        except struct.error:
            raise MalformedPacket("truncated record header") from None
        offset += RECORD_HEADER_SIZE
        payload = packet[offset : offset + length]
        if len(payload) != length:
            raise MalformedPacket("record shorter than its length field")
        offset += length
        yield Record(content_type, version, seq, payload)


def in_initial_epoch(packet: bytes) -> bool:
    """Whether the datagram's first record is from epoch 0 (the cleartext
    part of the first handshake).  Never raises: a too-short packet has a
    short slice, which does not match."""
    return packet[3:5] == b"\x00\x00"


def looks_like_client_hello(packet: bytes) -> bool:
    """A cheap first filter (never raises): the first record is a handshake
    record carrying a ClientHello.  ``parse_client_hello_untrusted`` checks
    the rest."""
    return (
        len(packet) > RECORD_HEADER_SIZE
        and packet[0] == CONTENT_HANDSHAKE
        and packet[RECORD_HEADER_SIZE] == HANDSHAKE_CLIENT_HELLO
    )


@dataclass(frozen=True)
class Fragment:
    """A handshake message fragment (the payload of a handshake record)."""

    msg_type: int
    msg_len: int
    msg_seq: int
    offset: int
    body: bytes

    def encode(self) -> bytes:
        header = _FRAGMENT.pack(
            self.msg_type,
            self.msg_len.to_bytes(3, "big"),
            self.msg_seq,
            self.offset.to_bytes(3, "big"),
            len(self.body).to_bytes(3, "big"),
        )
        return header + self.body


def parse_fragment_untrusted(payload: bytes) -> Fragment:
    try:
        msg_type, msg_len, msg_seq, offset, length = _FRAGMENT.unpack_from(payload)
    except struct.error:
        raise MalformedPacket("truncated handshake fragment header") from None
    body = payload[FRAGMENT_HEADER_SIZE:]
    if len(body) != int.from_bytes(length, "big"):
        raise MalformedPacket("handshake fragment length does not match its record")
    return Fragment(
        msg_type, int.from_bytes(msg_len, "big"), msg_seq, int.from_bytes(offset, "big"), body
    )


@dataclass(frozen=True)
class ClientHello:
    """What the cookie exchange needs from a ClientHello: its record's
    sequence number, the cookie it carries (empty on a first hello), and
    the rest of the message, which a cookie is bound to (RFC 6347 4.2.1:
    a client repeats every other field when it answers a
    HelloVerifyRequest, while its record framing changes)."""

    record_seq: int
    cookie: bytes
    bound_fields: bytes


def parse_client_hello_untrusted(packet: bytes) -> ClientHello:
    """The ClientHello that starts ``packet``; ``MalformedPacket`` if there
    is none, or it is fragmented (reassembly would need per-peer state
    before the peer has proved its address)."""
    try:
        record = next(iter_records_untrusted(packet))
    except StopIteration:
        raise MalformedPacket("empty datagram") from None
    if record.content_type != CONTENT_HANDSHAKE:
        raise MalformedPacket("not a handshake record")
    fragment = parse_fragment_untrusted(record.payload)
    if fragment.msg_type != HANDSHAKE_CLIENT_HELLO:
        raise MalformedPacket("not a ClientHello")
    if fragment.offset != 0 or len(fragment.body) != fragment.msg_len:
        raise MalformedPacket("fragmented ClientHello")
    body = fragment.body
    # client_version (2), random (32), then the length-prefixed session id
    # and the length-prefixed cookie
    session_id_at = 2 + 32
    if len(body) <= session_id_at:
        raise MalformedPacket("ClientHello ends before its session id")
    cookie_len_at = session_id_at + 1 + body[session_id_at]
    if len(body) <= cookie_len_at:
        raise MalformedPacket("ClientHello ends before its cookie")
    cookie_end = cookie_len_at + 1 + body[cookie_len_at]
    if len(body) < cookie_end:
        raise MalformedPacket("ClientHello ends inside its cookie")
    return ClientHello(
        record.seq, body[cookie_len_at + 1 : cookie_end], body[:cookie_len_at] + body[cookie_end:]
    )


# ---- the cookie exchange -------------------------------------------------
#
# A cookie proves that whoever sent a ClientHello receives what is sent to
# its source address, without the server keeping anything per peer.  It is
# ``salt || HMAC(key, salt, time slot, address, ClientHello fields)``,
# truncated to COOKIE_SIZE: nobody without the endpoint's random key can
# make one, it is bound to the address and the hello, and it is accepted
# during the slot it was made in and the next one (so it lives between one
# and two COOKIE_SLOT lengths).  The salt keeps the slot boundary from
# being observable in the cookies.

COOKIE_SLOT = 30.0  # seconds
COOKIE_SIZE = 32  # DTLS 1.0's maximum; 24 bytes of MAC after the salt
_SALT_SIZE = 8
_KEY_SIZE = 32


def _length_prefixed(*parts: bytes) -> bytes:
    """An unambiguous concatenation (each part preceded by its length)."""
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


class CookieJar:
    """Makes and checks HelloVerifyRequest cookies under one random key
    (made at construction; one per endpoint)."""

    def __init__(self) -> None:
        self._key = os.urandom(_KEY_SIZE)

    def _cookie(self, salt: bytes, slot: int, address: Any, fields: bytes) -> bytes:
        address_bytes = _length_prefixed(*(str(part).encode() for part in address))
        message = _length_prefixed(salt, slot.to_bytes(8, "big"), address_bytes, fields)
        return (salt + hmac.digest(self._key, message, "sha256"))[:COOKIE_SIZE]

    def make(self, now: float, address: Any, fields: bytes) -> bytes:
        return self._cookie(os.urandom(_SALT_SIZE), int(now // COOKIE_SLOT), address, fields)

    def check(self, cookie: bytes, now: float, address: Any, fields: bytes) -> bool:
        if len(cookie) != COOKIE_SIZE:
            return False
        salt = cookie[:_SALT_SIZE]
        slot = int(now // COOKIE_SLOT)
        current = self._cookie(salt, slot, address, fields)
        previous = self._cookie(salt, max(slot - 1, 0), address, fields)
        # both comparisons always run ("|", not "or"): constant time
        return hmac.compare_digest(cookie, current) | hmac.compare_digest(cookie, previous)


def hello_verify_request(cookie: bytes, record_seq: int) -> bytes:
    """The HelloVerifyRequest datagram carrying ``cookie``.  Its record
    takes the ClientHello's record sequence number and its message sequence
    is 0, as OpenSSL's own server does."""
    body = DTLS_1_0 + bytes([len(cookie)]) + cookie
    fragment = Fragment(HANDSHAKE_HELLO_VERIFY_REQUEST, len(body), 0, 0, body)
    return Record(CONTENT_HANDSHAKE, DTLS_1_0, record_seq, fragment.encode()).encode()


# ---- handshake flights -----------------------------------------------------


@dataclass
class HandshakeMessage:
    """A whole handshake message, reassembled, to be fragmented anew."""

    version: bytes
    msg_type: int
    msg_seq: int
    body: bytearray


@dataclass(frozen=True)
class WholeRecord:
    """A record sent as it is, never fragmented: a ChangeCipherSpec or an
    alert (renumbered when sent, ``keep_seq`` false), or an encrypted
    handshake record (the Finished message, small), whose MAC covers its
    sequence number (``keep_seq`` true)."""

    record: Record
    keep_seq: bool


FlightItem = HandshakeMessage | WholeRecord


def decode_flight(data: bytes) -> list[FlightItem]:
    """The messages of one flight as OpenSSL wrote it to its memory BIO
    (trusted input)."""
    items: list[FlightItem] = []
    by_seq: dict[int, HandshakeMessage] = {}
    for record in iter_records_untrusted(data):
        if record.seq & _EPOCH_BITS:
            items.append(WholeRecord(record, keep_seq=True))
        elif record.content_type != CONTENT_HANDSHAKE:
            items.append(WholeRecord(record, keep_seq=False))
        else:
            fragment = parse_fragment_untrusted(record.payload)
            message = by_seq.get(fragment.msg_seq)
            if message is None:
                message = HandshakeMessage(
                    record.version, fragment.msg_type, fragment.msg_seq, bytearray(fragment.msg_len)
                )
                by_seq[fragment.msg_seq] = message
                items.append(message)
            message.body[fragment.offset : fragment.offset + len(fragment.body)] = fragment.body
    return items


def is_alert(flight: list[FlightItem]) -> bool:
    first = flight[0] if flight else None
    return isinstance(first, WholeRecord) and first.record.content_type == CONTENT_ALERT


def same_flight(a: list[FlightItem], b: list[FlightItem]) -> bool:
    """Whether ``b`` is OpenSSL re-sending flight ``a`` (its own retransmit
    timer fired): both start with the same handshake message."""
    return (
        bool(a)
        and bool(b)
        and isinstance(a[0], HandshakeMessage)
        and isinstance(b[0], HandshakeMessage)
        and a[0].msg_seq == b[0].msg_seq
    )


class FlightPacker:
    """Packs flights into datagrams of at most ``mtu`` bytes, numbering the
    epoch-0 records it writes (one counter per channel: every datagram,
    retransmissions included, gets fresh record numbers)."""

    def __init__(self) -> None:
        self.next_seq = 0

    def _take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def pack(self, flight: Iterable[FlightItem], mtu: int) -> list[bytes]:
        datagrams: list[bytes] = []
        current = bytearray()

        def room_for(size: int) -> None:
            nonlocal current
            if current and len(current) + size > mtu:
                datagrams.append(bytes(current))
                current = bytearray()

        for item in flight:
            if isinstance(item, WholeRecord):
                record = item.record
                if not item.keep_seq:
                    record = Record(
                        record.content_type, record.version, self._take_seq(), record.payload
                    )
                encoded = record.encode()
                room_for(len(encoded))
                current += encoded
                continue
            # a handshake message: as many fragments as it takes (an empty
            # body still needs one)
            offset = 0
            while True:
                overhead = RECORD_HEADER_SIZE + FRAGMENT_HEADER_SIZE
                if len(current) + overhead >= mtu:
                    room_for(mtu)  # no byte of body fits: start a new datagram
                chunk = bytes(item.body[offset : offset + mtu - len(current) - overhead])
                fragment = Fragment(item.msg_type, len(item.body), item.msg_seq, offset, chunk)
                current += Record(
                    CONTENT_HANDSHAKE, item.version, self._take_seq(), fragment.encode()
                ).encode()
                offset += len(chunk)
                if offset >= len(item.body):
                    break
        if current:
            datagrams.append(bytes(current))
        return datagrams
