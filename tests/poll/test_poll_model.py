"""A stateful proof of ``Poll`` against a model of the kernel, on both
selectors.

Hypothesis drives registrations (register / reregister / deregister, in
every mode), the sources (AF_UNIX stream sockets and pipes: the peer writes
or shuts down, the watched end reads until EAGAIN or is closed without
deregistering) and the poller (polls with timeout 0, closed and replaced).
After each poll the model checks every event and every silence:

* LEVEL: reported exactly while the source is ready for what it asked;
* ONESHOT: reported exactly while ready and not yet reported since the
  last (re)register;
* EDGE: reported if a readiness bit appeared that was not reported since
  the last (re)register (the poll(2) emulation and epoll agree there),
  possibly also after anything else happened to the source since the last
  poll (epoll reports any wake-up), never otherwise;
* no event for a deregistered, closed or replaced registration (each
  registration has its own token);
* an event carries the full readiness asked for (epoll's flags, exactly).

``LOWIO_MODEL_EXAMPLES`` sets the examples per selector (default 200, about
10 s for both); e.g. ``LOWIO_MODEL_EXAMPLES=5000`` for a long run.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from lowio.poll import EDGE, LEVEL, ONESHOT, Events, Interest, Mode, Poll
from lowio.poll import flags as F

R, W = Interest.READABLE, Interest.WRITABLE
SLOTS = 3
EXAMPLES = int(os.environ.get("LOWIO_MODEL_EXAMPLES", "200"))
ALWAYS = F.ERR | F.HUP
# a long run needs more than the suite's per-test timeout
pytestmark = pytest.mark.timeout(max(60, EXAMPLES // 5))


# the arguments of the register and reregister rules
REGISTRATION = {
    "slot": st.integers(0, SLOTS - 1),
    "interest": st.sampled_from([R, W, R | W]),
    "mode": st.sampled_from([EDGE, LEVEL, ONESHOT]),
}


@dataclass
class Source:
    """One watched fd and the peer end the test drives."""

    kind: str  # "sock": a socketpair end; "pipe": a pipe's read end
    watched: int
    peer: int
    data: bool = False  # bytes wait in the watched end
    shut: bool = False  # the peer shut down writing (sock) / closed (pipe)
    # the registration, if any
    token: int | None = None
    interest: Interest = R
    mode: Mode = EDGE
    unreported: int = 0  # EDGE: bits not reported since (re)register
    fired: bool = False  # ONESHOT: reported since (re)register
    must: int = 0  # EDGE: new bits, to be reported while they are still there
    touched: bool = False  # anything happened to it since the last poll
    dead_tokens: set[int] = field(default_factory=set)

    def kernel_mask(self) -> int:
        if self.kind == "sock":
            mask = F.OUT
            if self.data or self.shut:
                mask |= F.IN
            if self.shut:
                mask |= F.RDHUP
            return mask
        mask = F.IN if self.data else 0
        return mask | (F.HUP if self.shut else 0)

    def asked(self) -> int:
        bits = ALWAYS
        if self.interest & R:
            bits |= F.IN | F.RDHUP
        if self.interest & W:
            bits |= F.OUT
        return bits

    def expected(self) -> int:
        """The flags of an event for it now (epoll's: readiness & asked)."""
        return self.kernel_mask() & self.asked()

    def new_bits(self, before: int) -> None:
        """Readiness went from ``before`` to now: an edge for new bits."""
        self.touched = True
        if self.token is not None and self.mode is EDGE:
            # (a bit that was there already was reported: see poll_and_check)
            self.must |= self.expected() & ~before & self.unreported

    def armed_afresh(self) -> None:
        self.unreported = ~0
        self.fired = False
        self.must = self.expected()
        self.touched = True


class PollModel(RuleBasedStateMachine):
    selector = "epoll"

    def __init__(self) -> None:
        super().__init__()
        self.poll = Poll(self.selector)
        self.events = Events(64)
        self.sources: list[Source | None] = [None] * SLOTS
        self.next_token = 1
        self.retired: set[int] = set()  # tokens that must never be reported

    # ---- sources ----

    @initialize(kinds=st.lists(st.sampled_from(["sock", "pipe"]), min_size=SLOTS, max_size=SLOTS))
    def start(self, kinds: list[str]) -> None:
        for slot, kind in enumerate(kinds):
            self.make(slot, kind)

    def make(self, slot: int, kind: str) -> None:
        if kind == "sock":
            a, b = socket.socketpair()
            a.setblocking(False)
            b.setblocking(False)
            watched, peer = a.detach(), b.detach()
        else:
            watched, peer = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.sources[slot] = Source(kind, watched, peer)

    @rule(slot=st.integers(0, SLOTS - 1), kind=st.sampled_from(["sock", "pipe"]))
    def create(self, slot: int, kind: str) -> None:
        if self.sources[slot] is None:
            self.make(slot, kind)

    def get(self, slot: int) -> Source | None:
        return self.sources[slot]

    @rule(slot=st.integers(0, SLOTS - 1))
    def peer_writes(self, slot: int) -> None:
        src = self.get(slot)
        if src is None or src.shut:
            return
        before = src.expected()
        os.write(src.peer, b"x")
        src.data = True
        src.new_bits(before)

    @rule(slot=st.integers(0, SLOTS - 1))
    def watched_reads(self, slot: int) -> None:
        src = self.get(slot)
        if src is None:
            return
        while True:
            try:
                chunk = os.read(src.watched, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
        src.data = False
        src.touched = True

    @rule(slot=st.integers(0, SLOTS - 1))
    def peer_shuts_down(self, slot: int) -> None:
        src = self.get(slot)
        if src is None or src.shut:
            return
        before = src.expected()
        if src.kind == "sock":
            with socket.socket(fileno=src.peer) as peer:
                peer.shutdown(socket.SHUT_WR)
                src.peer = peer.detach()
        else:
            os.close(src.peer)
            src.peer = -1
        src.shut = True
        src.new_bits(before)

    @rule(slot=st.integers(0, SLOTS - 1), reopen=st.sampled_from(["sock", "pipe", None]))
    def close_without_deregister(self, slot: int, reopen: str | None) -> None:
        """Closes a source, registered or not; ``reopen`` makes a new one at
        once, which likely gets the same fd numbers."""
        src = self.get(slot)
        if src is None:
            return
        self.retire(src)
        os.close(src.watched)
        if src.peer >= 0:
            os.close(src.peer)
        self.sources[slot] = None
        if reopen is not None:
            self.make(slot, reopen)

    # ---- registrations ----

    def retire(self, src: Source) -> None:
        if src.token is not None:
            self.retired.add(src.token)
            src.token = None

    def new_token(self) -> int:
        self.next_token += 1
        return self.next_token

    @rule(**REGISTRATION)
    def register(self, slot: int, interest: Interest, mode: Mode) -> None:
        src = self.get(slot)
        if src is None:
            return
        token = self.new_token()
        if src.token is not None:
            with pytest.raises(FileExistsError):
                self.poll.registry.register(src.watched, token, interest, mode=mode)
            return
        self.poll.registry.register(src.watched, token, interest, mode=mode)
        src.token, src.interest, src.mode = token, interest, mode
        src.armed_afresh()

    @rule(**REGISTRATION)
    def reregister(self, slot: int, interest: Interest, mode: Mode) -> None:
        src = self.get(slot)
        if src is None:
            return
        token = self.new_token()
        if src.token is None:
            with pytest.raises(FileNotFoundError):
                self.poll.registry.reregister(src.watched, token, interest, mode=mode)
            return
        self.poll.registry.reregister(src.watched, token, interest, mode=mode)
        self.retire(src)
        src.token, src.interest, src.mode = token, interest, mode
        src.armed_afresh()

    @rule(slot=st.integers(0, SLOTS - 1))
    def deregister(self, slot: int) -> None:
        src = self.get(slot)
        if src is None:
            return
        if src.token is None:
            with pytest.raises(FileNotFoundError):
                self.poll.registry.deregister(src.watched)
            return
        self.poll.registry.deregister(src.watched)
        self.retire(src)

    @rule(now=st.integers(0, 3))
    def replace_the_poll(self, now: int) -> None:
        if now:  # (a quarter as often as the other rules: it forgets everything)
            return
        self.poll.close()
        for src in self.sources:
            if src is not None:
                self.retire(src)
        self.poll = Poll(self.selector)

    # ---- the check ----

    @rule()
    def poll_and_check(self) -> None:
        n = self.poll.poll(self.events, 0)
        got: dict[int, int] = {}
        for packed in self.events.packed():
            token, flags = packed >> F.FLAG_BITS, packed & F.FLAG_MASK
            assert token not in got, f"token {token} reported twice in one poll"
            got[token] = flags
        assert len(got) == n
        live = {src.token: src for src in self.sources if src is not None and src.token}
        stale = set(got) - set(live)
        assert not stale, f"reported a retired registration: {stale} ({self.retired & stale})"
        for token, src in live.items():
            expected = src.expected()
            if src.mode is LEVEL:
                should, may = bool(expected), bool(expected)
            elif src.mode is ONESHOT:
                should = may = bool(expected) and not src.fired
            else:
                # (epoll drops a queued edge whose bits are gone by the poll)
                should = bool(src.must & expected)
                may = should or src.touched
            if token in got:
                assert may, f"{src.mode.name} {src.kind} token {token} reported without cause"
                assert got[token] == expected, (
                    f"{src.kind} token {token}: flags {got[token]:#x}, readiness {expected:#x}"
                )
                src.unreported &= ~got[token]
                src.fired = True
            else:
                assert not should, f"{src.mode.name} {src.kind} token {token} was not reported"
            src.must = 0
        for src in self.sources:
            if src is not None:
                src.touched = False

    @invariant()
    def peers_are_open(self) -> None:
        for src in self.sources:
            if src is not None and src.peer >= 0:
                # the model's own bookkeeping: fds it thinks open are open
                try:
                    os.fstat(src.peer)
                except OSError as exc:  # pragma: no cover - a model bug
                    message = f"peer fd {src.peer}: {errno.errorcode[exc.errno]}"
                    raise AssertionError(message) from None

    def teardown(self) -> None:
        self.poll.close()
        for src in self.sources:
            if src is not None:
                os.close(src.watched)
                if src.peer >= 0:
                    os.close(src.peer)


MODEL_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class EpollModel(PollModel):
    selector = "epoll"


class PollSelectorModel(PollModel):
    selector = "poll"


TestEpollAgainstTheModel = EpollModel.TestCase
TestEpollAgainstTheModel.settings = MODEL_SETTINGS
TestPollSelectorAgainstTheModel = PollSelectorModel.TestCase
TestPollSelectorAgainstTheModel.settings = MODEL_SETTINGS
