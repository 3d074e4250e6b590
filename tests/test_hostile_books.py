"""Hostile order-book ids: a live `futures.obu` book against the scripted server.

Connection 1 acks the obu subscribe and sends a full snapshot (u=100), then hostile pushes.
A push the book cannot follow (a gap, U > u, an overlap, a crossed or malformed level) clears
it, is counted in the book's statistics and reported (BOOK_RESYNC), and the book resubscribes
that stream: the script answers the unsubscribe and the new subscribe with a fresh snapshot
(u=1000) and one delta (u=1001), where the book must be ready and exactly right. A push the
book is already past (a duplicate, a regression) is skipped and counted, with no resync.
Bounded in virtual time; nothing leaves `open_client` but a GateTrioError.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Final

import attrs
import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import BookStatistics, ClientEvent, ClientEventKind

from .hostile_run import hostile_config
from .scripted import Await, Reply, Script, Send, Step, Upgrade, ack_for, open_scripted_server, text

STREAM: Final = "ob.BTC_USDT.50"
FINAL: Final = 1001


def obu(
    u: object,
    U: object = None,
    *,
    full: bool = False,
    b: list[list[object]] | None = None,
    a: list[list[object]] | None = None,
    stream: str = STREAM,
) -> bytes:
    result: dict[str, object] = {"t": 1786540580000, "s": stream, "u": u}
    if full:
        result["full"] = True
    if U is not None:
        result["U"] = U
    if b is not None:
        result["b"] = b
    if a is not None:
        result["a"] = a
    frame = {
        "time_ms": 1786540580001,
        "channel": "futures.obu",
        "event": "update",
        "result": result,
    }
    return text(json.dumps(frame))


SNAPSHOT: Final = obu(100, full=True, b=[["100", "5"], ["99", "3"]], a=[["101", "4"], ["102", "2"]])
RESYNCED: Final = obu(1000, full=True, b=[["200", "1"]], a=[["201", "1"]]) + obu(
    FINAL, 1001, b=[["199", "7"]], a=[["201", "0"], ["202", "9"]]
)


def resubscribe() -> tuple[Step, ...]:
    """Answer the book's resync: ack its unsubscribe and its new subscribe, send a snapshot."""
    return (
        Await("futures.obu", "unsubscribe"),
        Reply(ack_for),
        Await("futures.obu", "subscribe"),
        Reply(ack_for),
        Send(RESYNCED),
    )


def book_script(*hostile: bytes, resync: bool) -> Script:
    steps: list[Step] = [
        Upgrade(),
        Await("futures.obu", "subscribe"),
        Reply(ack_for),
        Send(SNAPSHOT),
    ]
    steps.extend(Send(h) for h in hostile)
    if resync:
        steps.extend(resubscribe())
    else:  # the book follows on: bring it to FINAL in order
        steps.append(Send(obu(FINAL, 101, b=[["98", "7"]])))
    return Script(tuple(steps))


@attrs.define
class BookOutcome:
    error: gatetrio.GateTrioError | None = None
    stats: BookStatistics | None = None
    best: tuple[Decimal | None, Decimal | None] = (None, None)
    events: list[ClientEvent] = attrs.field(factory=list)
    ended_at: float = 0.0


async def run_book(script: Script, *, limit: float = 120.0) -> BookOutcome:
    outcome = BookOutcome()
    with trio.fail_after(limit):
        async with open_scripted_server([script]) as server:
            try:
                async with (
                    gatetrio.open_client(
                        connector=server.connector, config=hostile_config()
                    ) as client,
                    client.events(buffer=1024) as events,
                    client.order_book("BTC_USDT", depth=50, method="obu") as live,
                ):
                    while not (live.ready and live.statistics().update_id == FINAL):
                        await live.wait_update()
                    outcome.stats = live.statistics()
                    bid, ask = live.book.best_bid(), live.book.best_ask()
                    outcome.best = (bid[0] if bid else None, ask[0] if ask else None)
                    while True:
                        try:
                            outcome.events.append(events.receive_nowait())
                        except trio.WouldBlock:
                            break
            except gatetrio.GateTrioError as exc:
                outcome.error = exc
            outcome.ended_at = trio.current_time()
    return outcome


RESYNC_CASES: Final = {
    "gap": (obu(105, 103), "gaps"),
    "U > u": (obu(110, 120), "malformed"),
    "overlap past the book": (obu(105, 99), "gaps"),
    "crossed": (obu(101, 101, b=[["150", "1"]]), "crossed"),
    "price not a number": (obu(101, 101, b=[["abc", "1"]]), "malformed"),
    "negative size": (obu(101, 101, b=[["100", "-1"]]), "malformed"),
    "NaN size": (obu(101, 101, a=[["101", "NaN"]]), "malformed"),
    "snapshot older than the book, then a delta": (
        obu(50, full=True, b=[["90", "1"]], a=[["91", "1"]]) + obu(102, 102),
        "gaps",
    ),
}
SKIP_CASES: Final = {
    "exact duplicate of the snapshot": obu(100, full=False, U=100),
    "regression": obu(90, 80),
    "id-only delta": obu(100, 100),
    "negative ids": obu(-5, -6),
    "ids past int64": obu(2**63 + 5, 2**63),  # refused by the decoder: a malformed frame
    "another stream's name": obu(101, 101, stream="ob.ETH_USDT.50"),  # nobody's: unrouted
    "a stream name that is no stream": obu(101, 101, stream="."),
    "level of one element": obu(101, 101, b=[["100"]]),  # refused by the decoder
}


@pytest.mark.parametrize("name", list(RESYNC_CASES))
async def test_a_push_the_book_cannot_follow_resyncs_it(
    name: str, autojump_clock: trio.testing.MockClock
) -> None:
    hostile, counter = RESYNC_CASES[name]
    outcome = await run_book(book_script(hostile, resync=True))
    assert outcome.error is None, outcome.error
    stats = outcome.stats
    assert stats is not None
    assert stats.ready
    assert stats.resyncs >= 1
    if counter:
        assert getattr(stats, counter) >= 1, stats
    assert outcome.best == (Decimal(200), Decimal(202))  # the resynced book, exactly
    assert [e for e in outcome.events if e.kind is ClientEventKind.BOOK_RESYNC]
    assert outcome.ended_at < 30


@pytest.mark.parametrize("name", list(SKIP_CASES))
async def test_a_push_the_book_is_past_is_skipped(
    name: str, autojump_clock: trio.testing.MockClock
) -> None:
    outcome = await run_book(book_script(SKIP_CASES[name], resync=False))
    assert outcome.error is None, outcome.error
    stats = outcome.stats
    assert stats is not None
    assert stats.resyncs == 0
    assert stats.duplicates_skipped + stats.deltas_dropped <= 1
    assert outcome.best == (Decimal(100), Decimal(101))


async def test_deltas_before_any_snapshot_are_dropped_and_counted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    early = obu(50, 41) + obu(60, 51)
    script = Script(
        (
            Upgrade(),
            Await("futures.obu", "subscribe"),
            Send(early),
            Reply(ack_for),
            Send(SNAPSHOT),
            Send(obu(FINAL, 101)),
        )
    )
    outcome = await run_book(script)
    assert outcome.error is None
    assert outcome.stats is not None
    assert outcome.stats.deltas_dropped == 2
    assert outcome.stats.resyncs == 0


async def test_a_book_that_never_gets_a_snapshot_waits_visibly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # acked, then deltas only: never ready, and `waiting` says why; the block ends by the caller
    script = Script(
        (Upgrade(), Await("futures.obu", "subscribe"), Reply(ack_for), Send(obu(5, 1) * 3))
    )
    async with (
        open_scripted_server([script]) as server,
        gatetrio.open_client(connector=server.connector, config=hostile_config()) as client,
        client.order_book("BTC_USDT", depth=50, method="obu") as live,
    ):
        with trio.move_on_after(10):
            await live.wait_ready()
        stats = live.statistics()
    assert not stats.ready
    assert stats.waiting
    assert stats.deltas_dropped == 3
