from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from gatetrio._core import _book
from gatetrio._core._book import BookSync, BookSyncStatistics, OrderBook, SyncStatus
from gatetrio._core._errors import BookGap, ProtocolError, UsageError
from gatetrio._core._events import BookDelta, BookLevel, ObuDelta, ObuLevel

from .helpers import DOCS_OBU_FULL

D = Decimal


def lv(p: str, s: int | str) -> BookLevel:
    return BookLevel(p=p, s=s)


def delta(
    U: int,
    u: int,
    b: tuple[BookLevel, ...] = (),
    a: tuple[BookLevel, ...] = (),
    *,
    t: int = 0,
    full: bool = False,
) -> BookDelta:
    return BookDelta(t=t, s="BTC_USDT", U=U, u=u, b=b, a=a, full=full)


def loaded(update_id: int = 100) -> OrderBook:
    book = OrderBook("BTC_USDT")
    book.load_snapshot(
        update_id,
        [lv("100.5", 3), lv("100", 7), lv("99.5", 1)],
        [lv("101", 4), lv("101.5", 2), lv("102", 9)],
        t=1000,
    )
    return book


def state(book: OrderBook) -> tuple[object, ...]:
    return (book.update_id, book.t, book.bids(), book.asks(), len(book))


# ------------------------------------------------------------------------------ snapshot


def test_new_book_is_empty_and_not_ready() -> None:
    book = OrderBook("BTC_USDT")
    assert book.contract == "BTC_USDT"
    assert book.update_id is None
    assert not book.ready
    assert book.t == 0
    assert len(book) == 0
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.bids() == []
    assert book.asks(5) == []
    assert not book.is_crossed()
    assert book.spread() is None
    assert book.mid() is None


def test_snapshot_loads_sorted_levels_and_ids() -> None:
    book = loaded(100)
    assert book.ready
    assert book.update_id == 100
    assert book.t == 1000
    assert book.bids() == [(D("100.5"), 3), (D("100"), 7), (D("99.5"), 1)]
    assert book.asks() == [(D("101"), 4), (D("101.5"), 2), (D("102"), 9)]
    assert book.best_bid() == (D("100.5"), 3)
    assert book.best_ask() == (D("101"), 4)
    assert (book.bid_count, book.ask_count, len(book)) == (3, 3, 6)


def test_snapshot_input_order_does_not_matter() -> None:
    book = OrderBook("X")
    book.load_snapshot(1, [lv("1", 1), lv("3", 3), lv("2", 2)], [lv("9", 9), lv("7", 7)])
    assert [p for p, _ in book.bids()] == [D(3), D(2), D(1)]
    assert [p for p, _ in book.asks()] == [D(7), D(9)]


def test_snapshot_ignores_zero_sizes() -> None:
    book = OrderBook("X")
    book.load_snapshot(5, [lv("1", 0), lv("2", "0"), lv("3", "0.000"), lv("4", 1)], [lv("9", 0)])
    assert book.bids() == [(D(4), 1)]
    assert book.asks() == []
    assert len(book) == 1


def test_snapshot_replaces_everything() -> None:
    book = loaded(100)
    book.load_snapshot(7, [lv("50", 1)], [], t=5)
    assert state(book) == (7, 5, [(D(50), 1)], [], 1)


def test_snapshot_duplicate_price_keeps_the_last_size() -> None:
    book = OrderBook("X")
    book.load_snapshot(1, [lv("5", 1), lv("5.0", 2)], [])
    assert book.bids() == [(D(5), 2)]


def test_sizes_stay_exact() -> None:
    book = OrderBook("X")
    book.load_snapshot(1, [lv("5", 3), lv("4", "0.1")], [lv("6", "12.50")])
    assert book.bid_size(D(5)) == 3
    assert type(book.bid_size(D(5))) is int
    assert book.bid_size(D(4)) == D("0.1")
    assert isinstance(book.bid_size(D(4)), Decimal)
    assert str(book.ask_size(D(6))) == "12.50"
    assert book.bid_size(D(1)) == 0
    assert book.ask_size(D(5)) == 0


def test_price_texts_of_one_price_are_one_level() -> None:
    book = OrderBook("X")
    book.load_snapshot(1, [lv("63209.0", 1)], [lv("2.895e-05", 4)])
    book.apply_delta(2, 2, [lv("63209", 5)], [lv("0.00002895", 6)])
    assert book.bids() == [(D(63209), 5)]
    assert book.asks() == [(D("0.00002895"), 6)]


# ---------------------------------------------------------------------------- sequencing


def test_delta_that_follows_on_is_applied() -> None:
    book = loaded(100)
    book.apply_delta(101, 105, [lv("100", 8), lv("100.5", 0)], [lv("100.8", 1)], t=2000)
    assert book.update_id == 105
    assert book.t == 2000
    assert book.bids() == [(D(100), 8), (D("99.5"), 1)]
    assert book.asks()[0] == (D("100.8"), 1)


@pytest.mark.parametrize("first_id", [102, 150, 100, 90])
def test_gap_raises_with_details_and_leaves_the_book_unchanged(first_id: int) -> None:
    book = loaded(100)
    before = state(book)
    with pytest.raises(BookGap) as info:
        book.apply_delta(first_id, first_id + 3, [lv("100", 0)], [lv("1", 1)], t=9)
    assert isinstance(info.value, ProtocolError)
    assert (info.value.contract, info.value.expected, info.value.got) == (
        "BTC_USDT",
        101,
        first_id,
    )
    assert state(book) == before


def test_delta_before_any_snapshot_is_a_gap_with_nothing_expected() -> None:
    book = OrderBook("BTC_USDT")
    with pytest.raises(BookGap) as info:
        book.apply_delta(1, 2, [lv("1", 1)], [])
    assert info.value.expected is None
    assert info.value.got == 1
    assert "snapshot" in str(info.value)
    assert not book.ready
    assert len(book) == 0


def test_delta_ending_before_it_starts_is_a_protocol_error_not_a_gap() -> None:
    book = loaded(100)
    before = state(book)
    with pytest.raises(ProtocolError) as info:
        book.apply_delta(101, 100, [lv("1", 1)], [])
    assert not isinstance(info.value, BookGap)
    assert state(book) == before


def test_empty_delta_advances_id_and_time() -> None:
    book = loaded(100)
    levels = (book.bids(), book.asks())
    book.apply_delta(101, 104, [], [], t=1500)
    assert (book.update_id, book.t) == (104, 1500)
    assert (book.bids(), book.asks()) == levels
    book.apply(delta(105, 105, t=1600))
    assert (book.update_id, book.t) == (105, 1600)


def test_id_only_obu_delta_advances_id() -> None:
    book = loaded(100)
    levels = (book.bids(), book.asks())
    book.apply(ObuDelta(t=1789455580300, s="ob.BTC_USDT.50", U=101, u=111))
    assert (book.update_id, book.t) == (111, 1789455580300)
    assert (book.bids(), book.asks()) == levels


def test_full_delta_replaces_the_book_without_a_sequence_check() -> None:
    book = loaded(100)
    book.apply(delta(5, 500, (lv("1", 1),), (lv("2", 2),), t=7, full=True))
    assert state(book) == (500, 7, [(D(1), 1)], [(D(2), 2)], 2)
    book.apply_delta(0, 900, [], [lv("3", 3)], full=True)
    assert state(book) == (900, 0, [], [(D(3), 3)], 1)


def test_full_obu_push_loads_a_book_that_was_never_ready() -> None:
    book = OrderBook("BTC_USDT")
    book.apply(DOCS_OBU_FULL)
    assert book.update_id == 79072179673
    book.apply(
        ObuDelta(
            t=1743673027017,
            s="ob.BTC_USDT.400",
            U=79072179674,
            u=79072179694,
            b=(ObuLevel("83702.2", "62"), ObuLevel("83702.1", "0")),
        )
    )
    assert book.bids() == [(D("83705.9"), 30166), (D("83702.2"), 62)]
    assert book.update_id == 79072179694


def test_size_zero_deletes_and_deleting_a_missing_level_is_harmless() -> None:
    book = loaded(100)
    book.apply_delta(101, 101, [lv("100", 0), lv("42", 0)], [lv("102", "0"), lv("101.5", "0.0")])
    assert book.bids() == [(D("100.5"), 3), (D("99.5"), 1)]
    assert book.asks() == [(D(101), 4)]


def test_resize_insert_and_delete_keep_order() -> None:
    book = loaded(100)
    book.apply_delta(
        101,
        101,
        [lv("100.5", 10), lv("100.7", 1), lv("99", 2), lv("99.5", 0)],
        [lv("100.9", 5), lv("103", 1), lv("101", 0)],
    )
    assert book.bids() == [(D("100.7"), 1), (D("100.5"), 10), (D(100), 7), (D(99), 2)]
    assert book.asks() == [(D("100.9"), 5), (D("101.5"), 2), (D(102), 9), (D(103), 1)]


# ------------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("price", "size"),
    [
        ("abc", 1),
        ("NaN", 1),
        ("sNaN", 1),
        ("Infinity", 1),
        ("0", 1),
        ("-1", 1),
        ("1", -1),
        ("1", "-0.5"),
        ("1", "x"),
        ("1", "NaN"),
        ("1", "Infinity"),
    ],
)
def test_malformed_level_in_a_snapshot_changes_nothing(price: str, size: int | str) -> None:
    book = loaded(100)
    before = state(book)
    with pytest.raises(ProtocolError):
        book.load_snapshot(200, [lv("5", 1), lv(price, size)], [])
    with pytest.raises(ProtocolError):
        book.load_snapshot(200, [], [lv(price, size)])
    assert state(book) == before


@pytest.mark.parametrize(("price", "size"), [("abc", 1), ("NaN", 1), ("-3", 1), ("1", -2)])
def test_malformed_level_in_a_delta_clears_the_book(price: str, size: int | str) -> None:
    book = loaded(100)
    with pytest.raises(ProtocolError) as info:
        book.apply_delta(101, 101, [lv("100", 1)], [lv(price, size)])
    assert not isinstance(info.value, BookGap)
    assert not book.ready
    assert len(book) == 0
    with pytest.raises(BookGap):
        book.apply_delta(102, 102, [], [])


# --------------------------------------------------------------------------------- queries


def test_top_n_queries() -> None:
    book = loaded(100)
    assert book.bids(0) == []
    assert book.asks(0) == []
    assert book.bids(1) == [(D("100.5"), 3)]
    assert book.asks(2) == [(D(101), 4), (D("101.5"), 2)]
    assert book.bids(50) == book.bids()
    assert book.asks(50) == book.asks()
    with pytest.raises(UsageError):
        book.bids(-1)
    with pytest.raises(UsageError):
        book.asks(-1)


def test_query_results_are_copies() -> None:
    book = loaded(100)
    book.bids().clear()
    book.asks().append((D(1), 1))
    assert len(book.bids()) == 3
    assert len(book.asks()) == 3


def test_spread_mid_and_crossing() -> None:
    book = loaded(100)
    assert book.spread() == D("0.5")
    assert book.mid() == D("100.75")
    assert not book.is_crossed()
    book.apply_delta(101, 101, [lv("101", 1)], [])  # bid equal to the best ask: crossed
    assert book.is_crossed()
    assert book.spread() == 0
    book.apply_delta(102, 102, [lv("101.2", 1)], [])
    assert book.is_crossed()
    assert book.spread() == D("-0.2")
    book.apply_delta(103, 103, [], [lv("101", 0), lv("101.5", 0), lv("102", 0)])
    assert not book.is_crossed()  # one side empty
    assert book.spread() is None
    assert book.mid() is None


def test_clear_and_repr() -> None:
    book = loaded(100)
    assert "BTC_USDT" in repr(book)
    assert "update_id=100" in repr(book)
    book.clear()
    assert state(book) == (None, 0, [], [], 0)
    assert not book.ready


def test_price_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_book._orderbook, "_PRICE_CACHE_LIMIT", 8)
    book = OrderBook("X")
    book.load_snapshot(0, [], [])
    for i in range(1, 40):
        book.apply_delta(i, i, [lv(str(i), i)], [lv(str(1000 + i), 1)])
        assert len(book._price_cache) <= 8
    assert book.bid_count == 39
    assert book.best_bid() == (D(39), 39)
    assert book.asks(1) == [(D(1001), 1)]


# --------------------------------------------------------------------- BookSync (spec 6.5)


def synced_at(sync: BookSync) -> int | None:
    return sync.book.update_id


def test_sync_starts_empty_and_buffers() -> None:
    sync = BookSync("BTC_USDT", max_buffered=10)
    assert sync.status is SyncStatus.NEED_SNAPSHOT
    assert not sync.book.ready
    assert sync.feed(delta(1, 5)) is SyncStatus.NEED_SNAPSHOT
    assert sync.feed(delta(6, 10)) is SyncStatus.NEED_SNAPSHOT
    assert not sync.book.ready
    assert sync.statistics() == BookSyncStatistics(
        buffered=2,
        peak_buffered=2,
        deltas_dropped=0,
        deltas_discarded=0,
        snapshots_too_old=0,
        gaps=0,
    )
    assert "NEED_SNAPSHOT" in repr(sync)


def test_sync_discards_old_and_starts_inside_a_straddling_delta() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5, (lv("10", 1),)))
    sync.feed(delta(6, 10, (lv("10", 0), lv("11", 2)), (lv("20", 3),), t=10))
    sync.feed(delta(11, 15, (), (lv("21", 4),), t=15))
    # the snapshot at id 7 already holds part of 6..10; applying all of 6..10 is still right
    status = sync.load_snapshot(7, [lv("11", 2), lv("9", 1)], [lv("20", 1), lv("25", 1)], t=7)
    assert status is SyncStatus.SYNCED
    assert sync.status is SyncStatus.SYNCED
    book = sync.book
    assert (book.update_id, book.t) == (15, 15)
    assert book.bids() == [(D(11), 2), (D(9), 1)]
    assert book.asks() == [(D(20), 3), (D(21), 4), (D(25), 1)]
    stats = sync.statistics()
    assert (stats.buffered, stats.deltas_discarded, stats.snapshots_too_old) == (0, 1, 0)


def test_sync_snapshot_on_a_delta_boundary() -> None:
    sync = BookSync("BTC_USDT")
    for first in (1, 6, 11):
        sync.feed(delta(first, first + 4, (lv(str(first), first),)))
    assert sync.load_snapshot(10, [lv("1", 1), lv("6", 6)], []) is SyncStatus.SYNCED
    assert synced_at(sync) == 15
    assert sync.book.bids() == [(D(11), 11), (D(6), 6), (D(1), 1)]
    assert sync.statistics().deltas_discarded == 2


def test_sync_snapshot_too_old_asks_for_another_and_keeps_the_buffer() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(11, 15, (lv("11", 1),)))
    sync.feed(delta(16, 20, (lv("16", 1),)))
    assert sync.load_snapshot(7, [lv("1", 1)], []) is SyncStatus.NEED_SNAPSHOT
    assert not sync.book.ready
    assert isinstance(sync.last_gap, BookGap)
    assert (sync.last_gap.expected, sync.last_gap.got) == (8, 11)
    stats = sync.statistics()
    assert (stats.snapshots_too_old, stats.buffered, stats.gaps) == (1, 2, 0)
    # a newer snapshot then succeeds with the same buffered deltas
    assert sync.load_snapshot(12, [lv("11", 1), lv("1", 1)], []) is SyncStatus.SYNCED
    assert synced_at(sync) == 20
    assert sync.book.bids() == [(D(16), 1), (D(11), 1), (D(1), 1)]


def test_sync_snapshot_newer_than_everything_buffered_waits() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5))
    assert sync.load_snapshot(12, [lv("1", 1)], [lv("2", 2)], t=12) is SyncStatus.WAITING
    # the snapshot is a correct book as of id 12
    assert sync.book.ready
    assert synced_at(sync) == 12
    assert sync.feed(delta(6, 10)) is SyncStatus.WAITING  # in flight before the snapshot
    assert sync.feed(delta(11, 14, (lv("1", 5),))) is SyncStatus.SYNCED
    assert synced_at(sync) == 14
    assert sync.book.bids() == [(D(1), 5)]
    assert sync.feed(delta(15, 15)) is SyncStatus.SYNCED
    assert sync.statistics().deltas_discarded == 2


def test_sync_waiting_then_a_skip_means_the_snapshot_was_too_old() -> None:
    sync = BookSync("BTC_USDT")
    assert sync.load_snapshot(12, [lv("1", 1)], []) is SyncStatus.WAITING
    assert sync.feed(delta(20, 25)) is SyncStatus.NEED_SNAPSHOT
    assert not sync.book.ready
    assert sync.statistics().snapshots_too_old == 1
    assert sync.statistics().buffered == 1
    assert sync.load_snapshot(21, [], []) is SyncStatus.SYNCED
    assert synced_at(sync) == 25


def test_sync_waiting_ignores_an_older_snapshot_and_takes_a_newer_one() -> None:
    sync = BookSync("BTC_USDT")
    sync.load_snapshot(12, [lv("1", 1)], [])
    assert sync.load_snapshot(11, [lv("2", 2)], []) is SyncStatus.WAITING
    assert sync.load_snapshot(12, [lv("2", 2)], []) is SyncStatus.WAITING
    assert sync.book.bids() == [(D(1), 1)]
    assert sync.load_snapshot(14, [lv("3", 3)], []) is SyncStatus.WAITING
    assert synced_at(sync) == 14
    assert sync.book.bids() == [(D(3), 3)]


def test_sync_ignores_snapshots_once_synced() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5, (lv("1", 1),)))
    sync.load_snapshot(3, [], [])
    before = state(sync.book)
    assert sync.load_snapshot(100, [lv("9", 9)], []) is SyncStatus.SYNCED
    assert state(sync.book) == before


def test_sync_gap_after_sync_restarts_from_the_gapped_delta() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5, (lv("1", 1),)))
    assert sync.load_snapshot(3, [], []) is SyncStatus.SYNCED
    assert sync.feed(delta(6, 8)) is SyncStatus.SYNCED
    assert sync.feed(delta(12, 15, (lv("2", 2),))) is SyncStatus.NEED_SNAPSHOT
    assert isinstance(sync.last_gap, BookGap)
    assert (sync.last_gap.contract, sync.last_gap.expected, sync.last_gap.got) == (
        "BTC_USDT",
        9,
        12,
    )
    assert not sync.book.ready
    stats = sync.statistics()
    assert (stats.gaps, stats.buffered) == (1, 1)
    assert sync.feed(delta(16, 16)) is SyncStatus.NEED_SNAPSHOT
    # the gapped delta straddles the new snapshot's id, so it is applied
    assert sync.load_snapshot(13, [lv("1", 1)], []) is SyncStatus.SYNCED
    assert synced_at(sync) == 16
    assert sync.book.bids() == [(D(2), 2), (D(1), 1)]


def test_sync_gap_inside_the_buffer_is_found_while_replaying() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5))
    sync.feed(delta(6, 10))
    sync.feed(delta(14, 20))  # 11..13 lost while buffering
    sync.feed(delta(21, 22))
    assert sync.load_snapshot(7, [], []) is SyncStatus.NEED_SNAPSHOT
    stats = sync.statistics()
    assert (stats.gaps, stats.buffered, stats.deltas_discarded) == (1, 2, 1)
    assert sync.load_snapshot(15, [], []) is SyncStatus.SYNCED
    assert synced_at(sync) == 22


def test_sync_full_delta_syncs_from_any_status() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5))
    assert sync.feed(delta(0, 50, (lv("1", 1),), full=True)) is SyncStatus.SYNCED
    assert sync.statistics().buffered == 0
    assert synced_at(sync) == 50
    assert sync.feed(delta(51, 51)) is SyncStatus.SYNCED
    sync.reset()
    sync.load_snapshot(10, [], [])
    assert sync.status is SyncStatus.WAITING
    assert sync.feed(delta(0, 60, full=True)) is SyncStatus.SYNCED
    assert synced_at(sync) == 60


def test_sync_buffer_drops_the_oldest_and_recovers_through_a_newer_snapshot() -> None:
    sync = BookSync("BTC_USDT", max_buffered=3)
    for first in range(1, 6):
        sync.feed(delta(first, first))
    stats = sync.statistics()
    assert (stats.buffered, stats.peak_buffered, stats.deltas_dropped) == (3, 3, 2)
    # 1 and 2 were dropped: a snapshot at 0 would need them, so it counts as too old
    assert sync.load_snapshot(0, [], []) is SyncStatus.NEED_SNAPSHOT
    assert sync.load_snapshot(2, [], []) is SyncStatus.SYNCED
    assert synced_at(sync) == 5


def test_sync_malformed_delta_resets_and_raises() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5))
    sync.load_snapshot(3, [], [])
    with pytest.raises(ProtocolError):
        sync.feed(delta(6, 4))
    assert sync.status is SyncStatus.NEED_SNAPSHOT
    assert not sync.book.ready
    with pytest.raises(ProtocolError):
        sync.feed(delta(0, 9, (lv("x", 1),), full=True))
    assert sync.status is SyncStatus.NEED_SNAPSHOT


def test_sync_malformed_buffered_delta_resets_and_raises() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5, (lv("bad", 1),)))
    sync.feed(delta(6, 7))
    with pytest.raises(ProtocolError):
        sync.load_snapshot(2, [], [])
    assert sync.status is SyncStatus.NEED_SNAPSHOT
    assert sync.statistics().buffered == 0
    assert not sync.book.ready


def test_sync_malformed_snapshot_changes_nothing() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5))
    with pytest.raises(ProtocolError):
        sync.load_snapshot(2, [lv("1", -1)], [])
    assert sync.status is SyncStatus.NEED_SNAPSHOT
    assert sync.statistics().buffered == 1
    assert sync.load_snapshot(2, [], []) is SyncStatus.SYNCED


def test_sync_reset() -> None:
    sync = BookSync("BTC_USDT")
    sync.feed(delta(1, 5))
    sync.load_snapshot(3, [lv("1", 1)], [])
    sync.feed(delta(6, 6))
    sync.reset()
    assert sync.status is SyncStatus.NEED_SNAPSHOT
    assert not sync.book.ready
    assert sync.statistics().buffered == 0


def test_sync_rejects_a_zero_buffer() -> None:
    with pytest.raises(UsageError):
        BookSync("BTC_USDT", max_buffered=0)


# ------------------------------------------------------------- the sync, as a property
# A server-side book evolves through deltas; a client subscribes at some delta, fetches a
# snapshot taken at some update id (possibly inside a delta's range), and gets it back after
# some more deltas, with a buffer that may overflow. Whatever the timing, the client either ends
# with the server's book or is told to fetch again, exactly when the snapshot is older than the
# first delta it still holds.

TICKS = st.integers(1, 30)


@st.composite
def server_histories(
    draw: st.DrawFn,
) -> tuple[list[BookDelta], list[dict[int, int]], int]:
    start = draw(st.integers(0, 10**12))
    book: dict[int, int] = draw(st.dictionaries(TICKS, st.integers(1, 9), max_size=10))
    states = [dict(book)]
    deltas = []
    update_id = start
    for i in range(draw(st.integers(0, 8))):
        changes = draw(st.dictionaries(TICKS, st.integers(0, 9), max_size=5))
        for tick, size in changes.items():
            if size:
                book[tick] = size
            else:
                book.pop(tick, None)
        first = update_id + 1
        update_id += draw(st.integers(1, 4))
        levels = tuple(lv(str(tick), size) for tick, size in changes.items())
        deltas.append(BookDelta(t=i, s="X", U=first, u=update_id, b=levels))
        states.append(dict(book))
    return deltas, states, start


@given(history=server_histories(), data=st.data())
def test_sync_reaches_the_server_book_or_refetches(
    history: tuple[list[BookDelta], list[dict[int, int]], int], data: st.DataObject
) -> None:
    deltas, states, start = history
    n = len(deltas)
    subscribed = data.draw(st.integers(0, n), label="first delta seen")
    taken = data.draw(st.integers(0, n), label="snapshot after delta")
    snap_book = dict(states[taken])
    snap_id = deltas[taken - 1].u if taken else start
    if taken < n and data.draw(st.booleans(), label="snapshot inside the next delta"):
        # an id inside the next delta's U..u, where only some of its changes have happened
        nxt = deltas[taken]
        if nxt.u > nxt.U:
            snap_id = data.draw(st.integers(nxt.U, nxt.u - 1), label="snapshot id")
            for level in nxt.b:
                if data.draw(st.booleans()):
                    if level.s:
                        snap_book[int(level.p)] = int(level.s)
                    else:
                        snap_book.pop(int(level.p), None)
    arrives = data.draw(st.integers(subscribed, n), label="snapshot arrives after delta")
    max_buffered = data.draw(st.integers(1, 9), label="max_buffered")
    # the buffer drops the oldest: the first delta the snapshot is matched against
    first_kept = max(subscribed, arrives - max_buffered)

    sync = BookSync("X", max_buffered=max_buffered)
    for d in deltas[subscribed:arrives]:
        assert sync.feed(d) is SyncStatus.NEED_SNAPSHOT
    statuses = [sync.load_snapshot(snap_id, [lv(str(k), v) for k, v in snap_book.items()], [])]
    statuses += [sync.feed(d) for d in deltas[arrives:]]
    event(f"final status {sync.status.name}, first {statuses[0].name}")

    if subscribed == n:
        # no delta came after subscribing: the snapshot is all there is, correct as of its id
        assert statuses == [SyncStatus.WAITING]
        assert sync.book.bids() == [(D(k), v) for k, v in sorted(snap_book.items(), reverse=True)]
        assert sync.book.update_id == snap_id
    elif snap_id + 1 < deltas[first_kept].U:
        # too old, whether it missed the subscription or the buffer dropped what it needed
        assert SyncStatus.NEED_SNAPSHOT in statuses
        assert sync.statistics().snapshots_too_old == 1
    else:
        assert SyncStatus.NEED_SNAPSHOT not in statuses
        assert sync.book.bids() == [(D(k), v) for k, v in sorted(states[n].items(), reverse=True)]
        assert sync.book.update_id == (deltas[-1].u if deltas else start)
        expected = SyncStatus.SYNCED if snap_id < sync.book.update_id else SyncStatus.WAITING
        assert sync.status is expected
