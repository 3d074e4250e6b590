"""Book streams below the book: ids that went back, and a REST snapshot from the future.

A delta the book is already past is a duplicate (two connections overlapping); a run of
`MAX_DUPLICATE_RUN` of them with nothing new between is a stream whose ids went back (a server
that restarted its sequence). Skipping those for ever kept a stale book `ready` while every
real change was thrown away (found from outside: 594 deltas skipped in a minute, the book
still "ready" at the old ids). Now the book resyncs as on a gap, counted and reported. Alike, a
REST snapshot whose id the stream never reaches kept the book waiting for ever, silently; now
it is fetched again after that many deltas below it (`snapshots_ahead`).
"""

from __future__ import annotations

import json

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import gatetrio
from gatetrio import ClientEventKind
from gatetrio._core._book import BookSync, ObuStatus, ObuSync, SyncStatus
from gatetrio._core._book._sync import MAX_DUPLICATE_RUN
from gatetrio._core._events import BookDelta, BookLevel, ObuDelta, ObuLevel

from .hostile_run import hostile_config
from .scripted import (
    Await,
    Each,
    Reply,
    RestAnswer,
    Script,
    ScriptedRest,
    Send,
    Upgrade,
    ack_for,
    open_scripted_server,
    text,
)

STREAM = "ob.BTC_USDT.50"


def obu_full(u: int) -> ObuDelta:
    return ObuDelta(t=u, s=STREAM, u=u, b=(ObuLevel(p="100", s="1"),), full=True)


def obu(U: int, u: int | None = None) -> ObuDelta:
    return ObuDelta(t=U, s=STREAM, U=U, u=U if u is None else u, b=(ObuLevel(p="100", s="2"),))


def oba(U: int) -> BookDelta:
    return BookDelta(t=U, s="BTC_USDT", U=U, u=U, b=(BookLevel(p="100", s="2"),))


def test_an_obu_run_of_duplicates_resyncs_at_the_limit() -> None:
    sync = ObuSync("BTC_USDT")
    sync.feed(obu_full(1000))
    statuses = [sync.feed(obu(10 + i)) for i in range(MAX_DUPLICATE_RUN)]
    assert statuses == [ObuStatus.DUPLICATE] * (MAX_DUPLICATE_RUN - 1) + [ObuStatus.GAP]
    assert not sync.book.ready
    assert sync.last_resync == (
        "order book ids went back on BTC_USDT: 100 deltas in a row at or below update id 1000 "
        "(the latest 109..109)"
    )
    stats = sync.statistics()
    assert (stats.duplicates, stats.gaps) == (MAX_DUPLICATE_RUN, 1)


def test_obu_duplicates_between_new_updates_never_resync() -> None:
    # an overlap: every update twice, for far longer than the limit
    sync = ObuSync("BTC_USDT")
    sync.feed(obu_full(1000))
    for i in range(1001, 1001 + 3 * MAX_DUPLICATE_RUN):
        assert sync.feed(obu(i)) is ObuStatus.APPLIED
        assert sync.feed(obu(i)) is ObuStatus.DUPLICATE
    assert sync.book.ready
    assert sync.statistics().gaps == 0


def test_an_order_book_update_run_of_duplicates_needs_a_snapshot() -> None:
    sync = BookSync("BTC_USDT", reject_crossed=True)
    sync.load_snapshot(1000, (BookLevel(p="99", s="1"),), (BookLevel(p="101", s="1"),))
    assert sync.feed(oba(1001)) is SyncStatus.SYNCED
    for i in range(MAX_DUPLICATE_RUN - 1):
        assert sync.feed(oba(10 + i)) is SyncStatus.SYNCED
    assert sync.feed(oba(999)) is SyncStatus.NEED_SNAPSHOT
    assert not sync.book.ready
    assert sync.last_resync.startswith("order book ids went back on BTC_USDT: 100 deltas")
    stats = sync.statistics()
    assert (stats.duplicates, stats.gaps, stats.buffered) == (MAX_DUPLICATE_RUN, 1, 1)


def test_a_snapshot_the_stream_never_reaches_is_fetched_again() -> None:
    sync = BookSync("BTC_USDT", reject_crossed=True)
    for i in range(150):  # buffered before the snapshot: older than it, and no evidence
        sync.feed(oba(10 + i))
    ahead = 2**62
    levels = (BookLevel(p="99", s="1"),), (BookLevel(p="101", s="1"),)
    assert sync.load_snapshot(ahead, *levels) is SyncStatus.WAITING
    for i in range(MAX_DUPLICATE_RUN - 1):
        assert sync.feed(oba(160 + i)) is SyncStatus.WAITING
    assert sync.feed(oba(500)) is SyncStatus.NEED_SNAPSHOT
    assert sync.last_resync == (
        f"REST snapshot {ahead} is ahead of the BTC_USDT stream: 100 deltas in a row below it "
        "(the latest 500)"
    )
    stats = sync.statistics()
    assert (stats.snapshots_ahead, stats.deltas_discarded, stats.gaps) == (1, 250, 0)
    # the next snapshot is a true one: the stream goes on from it
    assert sync.load_snapshot(500, *levels) is SyncStatus.WAITING
    assert sync.feed(oba(501)) is SyncStatus.SYNCED


@given(st.lists(st.booleans(), max_size=400))
def test_a_resync_comes_exactly_after_a_run_of_the_limit(news: list[bool]) -> None:
    """Fed new updates (True) and duplicates (False) in any order, the obu book resyncs exactly
    when `MAX_DUPLICATE_RUN` duplicates have come in a row."""
    sync = ObuSync("BTC_USDT")
    sync.feed(obu_full(1000))
    run = 0
    for new in news:
        update_id = sync.book.update_id
        assert update_id is not None
        if new:
            run = 0
            assert sync.feed(obu(update_id + 1)) is ObuStatus.APPLIED
            continue
        run += 1
        status = sync.feed(obu(update_id))
        if run == MAX_DUPLICATE_RUN:
            assert status is ObuStatus.GAP
            return
        assert status is ObuStatus.DUPLICATE


def _obu_push(result: dict[str, object]) -> bytes:
    frame = {"time": 1, "time_ms": 1, "channel": "futures.obu", "event": "update"}
    return text(json.dumps({**frame, "result": result}))


async def test_a_live_book_whose_ids_go_back_stops_being_ready(
    autojump_clock: trio.testing.MockClock,
) -> None:
    full = {"t": 1, "full": True, "s": STREAM, "u": 1000, "b": [["100", "1"]], "a": [["101", "1"]]}

    def back(i: int) -> bytes:  # from update id 10 on, a delta every 0.125 s
        return _obu_push({"t": 1, "s": STREAM, "U": 10 + i, "u": 10 + i, "b": [["100", "9"]]})

    script = Script(
        (
            Upgrade(),
            Await("futures.obu", "subscribe"),
            Reply(ack_for),
            Send(_obu_push(full)),
            Each(back, 300, every=0.125),
        )
    )
    rest = ScriptedRest([], then=RestAnswer())
    async with (
        open_scripted_server([], then=script) as server,
        gatetrio.open_client(
            connector=server.connector, rest_transport=rest, config=hostile_config()
        ) as client,
        client.events() as events,
        client.order_book("BTC_USDT", depth=50) as live,
    ):
        await live.wait_ready()
        ready_at = trio.current_time()
        while live.ready:
            await live._driver.changed.wait()  # (wakes on the resync itself)
        assert trio.current_time() - ready_at == 12.375  # the 100th: 99 gaps of 0.125 s
        stats = live.statistics()
        assert (stats.resyncs, stats.gaps, stats.duplicates_skipped) == (1, 1, MAX_DUPLICATE_RUN)
        resyncs = [
            e for e in events.receive_batch_nowait() if e.kind is ClientEventKind.BOOK_RESYNC
        ]
        assert len(resyncs) == 1
        assert "order book ids went back on BTC_USDT" in resyncs[0].reason
