"""Hostile WebSocket framing and close frames, against the parser and the whole client.

First the parser alone (`_frames.FrameParser`), for memory: whatever the fragmentation, a
message costs about its size (issue 17.4: an 8 MiB message in 2-byte fragments took 350 MB,
and empty fragments did not count toward the limit). Memory is measured with tracemalloc's
peak, never time.

Then the client against the scripted server (tests/scripted.py), in memory on the virtual
clock: after the subscribe ack, connection 1 sends one hostile thing; each case says what must
follow. A violation ends that connection with the right close code (the server records it), is
reported (a DISCONNECTED event whose reason says what the server did, counted in `reconnects`),
and the client is back to normal on connection 2 (the MARK_ID trade reaches the subscriber);
a frame that is odd but allowed changes nothing. Every case also bounds the virtual time and
the traced memory of the run.
"""

from __future__ import annotations

import collections
import tracemalloc
from typing import Final

import attrs
import pytest
import trio
import trio.testing

from gatetrio import ClientEventKind
from gatetrio._shell._transport._frames import FrameParser

from .hostile_run import Outcome, drive, loopback_config
from .scripted import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    Await,
    Eof,
    Repeat,
    Reply,
    Script,
    Send,
    Sleep,
    Step,
    Trickle,
    Upgrade,
    ack_for,
    close_payload,
    fragments,
    frame,
    text,
    trade_json,
    trade_text,
)

MiB: Final = 1 << 20


# ------------------------------------------------------------------ the parser's memory (17.4)


def _peak_while_parsing(stream: bytes, limit: int, chunk: int = 65536) -> tuple[int, FrameParser]:
    """tracemalloc's peak while `stream` is fed in `chunk`-byte pieces (the stream itself,
    built before, is not counted)."""
    messages: collections.deque[str | bytes] = collections.deque()
    parser = FrameParser(messages, max_message_size=limit)
    view = memoryview(stream)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for start in range(0, len(stream), chunk):
            parser.feed(bytes(view[start : start + chunk]))
            if parser.ended is not None:
                break
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, parser


def _uniform_fragments(opcode: int, size: int, piece: bytes) -> bytes:
    """A `size`-byte message of repeated `piece` in fragments of len(piece) bytes (built with
    byte arithmetic: a million frame() calls would be the slowest part of the test)."""
    count = size // len(piece)
    head = bytes((opcode, len(piece))) + piece
    middle = bytes((CONTINUATION, len(piece))) + piece
    tail = bytes((0x80, len(piece))) + piece
    return head + middle * (count - 2) + tail


# (tracemalloc makes a small allocation cost ~30 us: 64 KiB in 2-byte fragments, 32k frames,
# is the most the quick suite can afford; the slow test below does 1 MiB)
@pytest.mark.parametrize(
    ("piece", "opcode"),
    [
        (b"ab", TEXT),  # the issue's case: 2-byte fragments
        (b"xy", BINARY),
        (b"\xe2\x82\xac", TEXT),  # one "€" per fragment
        (b"a\xc3\xa9b\xe2\x82\xac" * 9, TEXT),  # 63 bytes: characters cut between fragments
        (b"q" * 125, TEXT),
    ],
)
def test_fragmented_message_costs_about_its_size(piece: bytes, opcode: int) -> None:
    size = 64 * 1024 - 64 * 1024 % len(piece)
    stream = _uniform_fragments(opcode, size, piece)
    peak, parser = _peak_while_parsing(stream, limit=MiB)
    assert parser.ended is None
    (message,) = parser.messages
    assert len(message.encode() if isinstance(message, str) else message) == size
    # the buffer (and its copy while it grows), the message made from it, one chunk: the old
    # list of per-fragment objects cost ~90 bytes a fragment, 45x the message here
    assert peak < 4 * size + 128 * 1024, peak


def test_one_frame_and_many_fragments_cost_the_same() -> None:
    size = 64 * 1024
    whole, _ = _peak_while_parsing(frame(TEXT, b"ab" * (size // 2)), limit=MiB)
    cut, _ = _peak_while_parsing(_uniform_fragments(TEXT, size, b"ab"), limit=MiB)
    assert cut < whole * 1.5 + 64 * 1024, (cut, whole)


def test_fragments_count_their_headers_toward_the_limit() -> None:
    # 64 KiB in 2-byte fragments is 128 KiB on the wire: over a 96 KiB limit, refused at
    # the header that crosses it, before its payload
    stream = _uniform_fragments(TEXT, 64 * 1024, b"ab")
    peak, parser = _peak_while_parsing(stream, limit=96 * 1024)
    assert parser.ended is not None
    assert parser.ended.code == 1009
    assert not parser.messages
    assert peak < 4 * 64 * 1024 + 128 * 1024


def test_endless_empty_fragments_end_in_1009_with_flat_memory() -> None:
    limit = 64 * 1024
    stream = frame(TEXT, b"", fin=False) + frame(CONTINUATION, b"", fin=False) * (limit // 2 + 10)
    peak, parser = _peak_while_parsing(stream, limit=limit)
    assert parser.ended is not None
    assert parser.ended.code == 1009
    assert peak < 256 * 1024  # nothing accumulates: a chunk at a time


def test_pings_between_endless_fragments_do_not_accumulate() -> None:
    # control frames between fragments do not count, but they are not kept either
    stream = (
        frame(TEXT, b"a", fin=False)
        + (frame(PING, b"p" * 125) + frame(CONTINUATION, b"", fin=False)) * 20000
    )
    messages: collections.deque[str | bytes] = collections.deque()
    parser = FrameParser(messages, max_message_size=MiB)
    most = 0
    for start in range(0, len(stream), 65536):
        parser.feed(stream[start : start + 65536])
        most = max(most, len(parser.pings))
        parser.pings.clear()  # as the transport does after each chunk
    assert parser.ended is None
    assert most <= 65536 // 127 + 1  # a chunk's worth at most


@pytest.mark.slow
def test_the_issue_case_half_a_mib_in_2_byte_fragments_at_the_real_limit() -> None:
    # the issue's 8 MiB would take minutes under tracemalloc; the cost per fragment is the same
    from gatetrio._shell._transport import MAX_MESSAGE_SIZE

    size = MiB // 2
    stream = _uniform_fragments(TEXT, size, b"ab")
    peak, parser = _peak_while_parsing(stream, limit=MAX_MESSAGE_SIZE)
    assert parser.ended is None
    assert len(parser.messages[0]) == size
    assert peak < 3 * size + 128 * 1024, peak  # was ~23 MB (350 MB for 8 MiB)


# ------------------------------------------------------------------ the client: named cases


def after_ack(*steps: Step, pong: bool = True) -> Script:
    """Connection 1: upgrade, ack the trades subscribe, then `steps`."""
    return Script(
        (Upgrade(), Await("futures.trades", "subscribe"), Reply(ack_for), *steps), pong=pong
    )


@attrs.frozen
class Case:
    name: str
    script: Script
    client_close: int | None = None  # the close code the client must send on connection 1
    reason: str = ""  # in the DISCONNECTED event's reason; "" = connection 1 must survive
    max_time: float = 10.0  # virtual seconds for the whole run
    max_peak: int = 4 * MiB  # traced bytes over the run
    max_message_size: int = MiB


def violation(name: str, data: bytes, reason: str, code: int = 1002) -> Case:
    return Case(name, after_ack(Send(data)), client_close=code, reason=reason)


def allowed(name: str, *steps: Step) -> Case:
    """Connection 1 does `steps`, then sends the MARK_ID trade: it must arrive there."""
    return Case(name, after_ack(*steps, Send(trade_text())))


GOOD_TRADE: Final = trade_text(7)  # a trade, not the mark: delivered, the run goes on

FRAMING: Final = [
    *(
        violation(f"rsv{bit}", frame(TEXT, b"{}", rsv=1 << (bit - 1)), "reserved bit")
        for bit in (1, 2, 3)
    ),
    *(violation(f"opcode {op:#x}", frame(op, b"x"), "invalid opcode") for op in (3, 7, 0xB, 0xF)),
    violation("fragmented ping", frame(PING, b"p", fin=False), "fragmented control frame"),
    violation(
        "fragmented close", frame(CLOSE, close_payload(1000), fin=False), "fragmented control"
    ),
    violation("126-byte ping", frame(PING, b"p" * 126), "control frame with a payload over 125"),
    violation("126-byte close", frame(CLOSE, close_payload(1000, b"r" * 124)), "over 125"),
    violation("continuation first", frame(CONTINUATION, b"x"), "no message to continue"),
    violation(
        "new message inside one",
        frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"),
        "new message inside",
    ),
    violation("masked frame", frame(TEXT, b"{}", mask=b"\x01\x02\x03\x04"), "masked server frame"),
    violation("2-byte length for 5", frame(TEXT, b"hello", length_form=2), "2 bytes when 1"),
    violation("8-byte length for 100", frame(TEXT, b"x" * 100, length_form=8), "8 bytes when 2"),
    violation("length 2**63", frame(TEXT, length=1 << 63, length_form=8), "top bit"),
    violation(
        "length 2**63 - 1", frame(BINARY, length=(1 << 63) - 1, length_form=8), "too big", 1009
    ),
    violation(
        "length 2**40 in a fragment",
        frame(TEXT, b"a", fin=False) + frame(CONTINUATION, length=1 << 40),
        "too big",
        1009,
    ),
    violation("text not UTF-8", text(b'{"channel":"\xff"}'), "not UTF-8", 1007),
    violation("surrogate in UTF-8", text(b'"\xed\xa0\x80"'), "not UTF-8", 1007),
    violation(
        "bad UTF-8 across fragments",
        frame(TEXT, b"ok\xe2", fin=False) + frame(CONTINUATION, b"(x"),
        "not UTF-8",
        1007,
    ),
    violation("message over the limit", frame(BINARY, b"\0" * (MiB + 1)), "too big", 1009),
    Case(
        "empty fragments forever",  # no pong can come inside a message: the heartbeat ends it
        after_ack(
            Send(frame(TEXT, b"", fin=False)),
            Repeat(frame(CONTINUATION, b"", fin=False), None, every=0.01),
            pong=False,
        ),
        reason="pong",
        max_time=15.0,
    ),
    Case(
        "empty fragments in a flood",  # as fast as the socket takes them: the limit ends it
        after_ack(
            Send(frame(TEXT, b"", fin=False)),
            Repeat(frame(CONTINUATION, b"", fin=False) * 4096, None),
            pong=False,
        ),
        client_close=1009,
        reason="too big",
        max_message_size=64 * 1024,
    ),
    allowed("ping flood", Repeat(frame(PING, b"p" * 125) * 64, 200)),
    allowed("unsolicited pongs", Repeat(frame(PONG, b"x" * 125), 100)),
    allowed(
        "pings between fragments",
        Send(fragments(TEXT, trade_json(7), 7, between=frame(PING, b"!"))),
    ),
    allowed("a frame trickled byte by byte", Trickle(GOOD_TRADE, every=0.01)),
    allowed("binary frame holding JSON", Send(frame(BINARY, trade_json(7)))),
    allowed("empty text and binary frames", Send(frame(TEXT) + frame(BINARY))),
    allowed("2-byte length form at 126", Send(frame(BINARY, b"{" * 126, length_form=2))),
    allowed("8-byte length form at 65536", Send(frame(BINARY, b" " * 65536, length_form=8))),
]


def _fragmented_mark(size: int, *, between: bytes = b"") -> Script:
    """Connection 1 sends the MARK_ID trade itself cut into `size`-byte fragments."""
    payload = trade_json()
    return Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Send(fragments(TEXT, payload, size, between=between)),
        )
    )


CLOSES: Final = [
    Case(
        "close 1000 then silence",
        after_ack(Send(frame(CLOSE, close_payload(1000, b"bye")))),
        client_close=1000,
        reason="1000 bye",
    ),
    Case(
        "close 1001 going away",
        after_ack(Send(frame(CLOSE, close_payload(1001)))),
        client_close=1001,
        reason="1001",
    ),
    Case(
        "close without a code (1005)",
        after_ack(Send(frame(CLOSE))),
        client_close=1005,
        reason="1005",
    ),
    Case(
        "close 3000 and 4999",
        after_ack(Send(frame(CLOSE, close_payload(4999, b"app")))),
        client_close=4999,
        reason="4999 app",
    ),
    Case(
        "close 1011 with a 123-byte reason",
        after_ack(Send(frame(CLOSE, close_payload(1011, b"r" * 123)))),
        client_close=1011,
        reason="1011 rrr",
    ),
    *(
        violation(f"close {code} on the wire", frame(CLOSE, close_payload(code)), f"code {code}")
        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)
    ),
    violation("close with a 1-byte payload", frame(CLOSE, b"\x03"), "1-byte payload"),
    violation(
        "close reason not UTF-8", frame(CLOSE, close_payload(1000, b"\xff")), "not UTF-8", 1007
    ),
    Case(
        "close then data",
        after_ack(
            Send(frame(CLOSE, close_payload(1000)) + trade_text(7) + frame(TEXT, b"x", rsv=1))
        ),
        client_close=1000,
        reason="1000",
    ),
    Case(
        "close and no TCP close",  # the client answers and closes the socket itself
        Script(
            (
                Upgrade(),
                Await("futures.trades", "subscribe"),
                Reply(ack_for),
                Send(frame(CLOSE, close_payload(1000))),
            ),
            close_reply=False,
        ),
        client_close=1000,
        reason="1000",
    ),
    Case("EOF mid-frame", after_ack(Send(GOOD_TRADE[:5]), Eof()), reason="1006"),
    Case("EOF with no close", after_ack(Sleep(1), Eof()), reason="1006"),
    Case(
        "a frame that never completes",  # the header promises 60 kB; a byte a second comes
        after_ack(Send(frame(TEXT, length=60_000)[:4]), Trickle(b"x" * 100, every=1.0)),
        reason="pong",  # no pong can overtake an unfinished frame: the heartbeat ends it
        max_time=15.0,
    ),
]


def _check(case: Case, outcome: Outcome) -> None:
    assert outcome.error is None, outcome.error
    assert outcome.marked, "the client did not get back to normal"
    first = outcome.connections[0]
    stats = outcome.stats
    assert stats is not None
    if case.reason:
        assert first.client_close == case.client_close, first
        assert case.reason in outcome.reasons(), outcome.reasons()
        assert stats.reconnects == 1
        assert len(outcome.kinds(ClientEventKind.DISCONNECTED)) == 1
    else:
        assert len(outcome.connections) == 1, "an allowed frame ended the connection"
        assert stats.reconnects == 0
        assert not outcome.kinds(ClientEventKind.DISCONNECTED)
    assert outcome.ended_at <= case.max_time
    assert outcome.peak <= case.max_peak + case.max_message_size * 2.5


@pytest.mark.parametrize("case", FRAMING + CLOSES, ids=lambda case: case.name)
async def test_hostile_frame(case: Case, autojump_clock: trio.testing.MockClock) -> None:
    then = None
    outcome = await drive(
        [case.script], then=then, measure=True, max_message_size=case.max_message_size
    )
    _check(case, outcome)


@pytest.mark.parametrize("size", [1, 2, 7, 100])
async def test_the_mark_itself_in_fragments(
    size: int, autojump_clock: trio.testing.MockClock
) -> None:
    outcome = await drive([_fragmented_mark(size, between=frame(PING, b"!") if size == 7 else b"")])
    assert outcome.error is None
    assert outcome.marked
    assert len(outcome.connections) == 1
    if size == 7:
        assert outcome.connections[0].ws_pong_count >= 1  # the pings were answered


async def test_a_message_in_100k_one_byte_fragments(autojump_clock: trio.testing.MockClock) -> None:
    payload = trade_json()
    padded = payload[:-1] + b" " * (100_000 - len(payload)) + payload[-1:]  # JSON allows spaces
    outcome = await drive(
        [
            Script(
                (
                    Upgrade(),
                    Await("futures.trades", "subscribe"),
                    Reply(ack_for),
                    Send(fragments(TEXT, padded, 1)),
                )
            )
        ],
        measure=True,
    )
    assert outcome.error is None
    assert outcome.marked
    assert len(outcome.connections) == 1
    assert outcome.peak < 8 * MiB  # 300 kB on the wire


async def test_ping_flood_holds_one_pending_pong(autojump_clock: trio.testing.MockClock) -> None:
    # the client answers only the latest ping (RFC 6455 5.5.3): never more pongs than pings,
    # and the last ping of a burst is the one answered
    burst = b"".join(frame(PING, f"{i:05}".encode()) for i in range(2000))
    outcome = await drive([after_ack(Send(burst), Send(trade_text()))])
    assert outcome.marked
    record = outcome.connections[0]
    assert 1 <= record.ws_pong_count < 2000
    assert record.ws_pongs[-1] == b"01999"


LOOPBACK: Final = [
    "rsv1",
    "opcode 0xb",
    "masked frame",
    "length 2**63",
    "text not UTF-8",
    "close 1000 then silence",
    "close 1006 on the wire",
    "close reason not UTF-8",
    "EOF mid-frame",
    "ping flood",
    "pings between fragments",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", [c for c in FRAMING + CLOSES if c.name in LOOPBACK], ids=lambda case: case.name
)
async def test_hostile_frame_over_loopback(case: Case) -> None:
    """The same bytes over TCP, with the default connector and trio's real clock."""
    outcome = await drive([case.script], loopback=True, config=loopback_config(), limit=20)
    assert outcome.error is None, outcome.error
    assert outcome.marked
    if case.reason:
        assert outcome.connections[0].client_close == case.client_close
        assert case.reason in outcome.reasons()
    else:
        assert len(outcome.connections) == 1


async def test_a_server_that_never_answers_our_close_costs_at_most_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from gatetrio._core._config import CLOSE_GRACE

    from .scripted import Hold, serve_trades

    mute = serve_trades(extra=(Hold(),))
    mute = Script(mute.steps, close_reply=False)
    outcome = await drive([mute])
    assert outcome.marked
    record = outcome.connections[0]
    assert record.client_close == 1000  # the client said goodbye...
    assert outcome.ended_at == CLOSE_GRACE  # ...waited its grace for the reply, then left
    assert outcome.all_closed


async def test_a_violation_on_every_connection_is_followed_at_a_bounded_rate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # a server that breaks every connection at once: the client keeps trying, paced, each
    # loss reported, and never more than one connection per min_reconnect_interval (0.5 s)
    broken = after_ack(Send(frame(TEXT, b"{}", rsv=4)))
    outcome = await drive([], then=broken, until=20.0, stop_at_mark=False)
    assert outcome.error is None
    stats = outcome.stats
    assert stats is not None
    assert 5 <= len(outcome.connections) <= 20 / 0.5 + 2
    # (the last loss may have come just before the body ended, its reconnect not yet made)
    assert len(outcome.connections) - 1 <= stats.reconnects <= len(outcome.connections)
    losses = outcome.kinds(ClientEventKind.DISCONNECTED)
    assert len(losses) == stats.reconnects
    assert all("reserved bit" in e.reason for e in losses)
    assert all(c.client_close == 1002 for c in outcome.connections)
