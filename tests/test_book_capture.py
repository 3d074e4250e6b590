"""Replay the real 2023 capture (10 contracts) through `BookSync`: live deltas plus the REST
snapshots fetched during that session (../shared/data/README.md).

Facts about this data, checked below rather than assumed: every contract's stream is contiguous
(`U == previous u + 1`), every snapshot is covered by the deltas seen (no snapshot is too old),
and DIA_USDT's snapshot is as new as its last delta, so that book ends waiting, not synced.
Gate's `book_ticker.u` shares the order-book id counter (spec 14), so wherever a ticker's `u`
equals an id the book passed through, the ticker's best bid/ask must be the book's.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from gatetrio._core._book import BookSync, OrderBook, SyncStatus
from gatetrio._core._decode import decode_message
from gatetrio._core._errors import BookGap
from gatetrio._core._events import (
    BookDelta,
    BookLevel,
    BookTicker,
    BookTickerUpdate,
    OrderBookUpdate,
)

if TYPE_CHECKING:
    from pathlib import Path

CONTRACTS = 10


@dataclass
class Snapshot:
    received: float
    id: int
    bids: list[BookLevel]
    asks: list[BookLevel]
    t: int


@dataclass
class Capture:
    snapshots: dict[str, Snapshot]
    deltas: dict[str, list[tuple[float, BookDelta]]]
    tickers: list[BookTicker]


def _levels(raw: list[dict[str, int | str]]) -> list[BookLevel]:
    return [BookLevel(p=str(level["p"]), s=level["s"]) for level in raw]


def load_capture(data: Path) -> Capture:
    snapshots = {}
    http = (data / "cryptofeed-GATEIO_FUTURES.http.0.0.txt").read_text(encoding="utf-8")
    for line in http.splitlines():
        if not line.strip():
            continue
        # each line is a URL, " -> ", the receive time, ": ", then the response body
        url, _, rest = line.partition(" -> ")
        received, _, text = rest.partition(": ")
        contract = url.split("contract=")[1].split("&")[0]
        body = json.loads(text)
        snapshots[contract] = Snapshot(
            received=float(received),
            id=body["id"],
            bids=_levels(body["bids"]),
            asks=_levels(body["asks"]),
            t=int(body["update"] * 1000),  # REST times are float seconds
        )
    deltas: dict[str, list[tuple[float, BookDelta]]] = {}
    tickers = []
    ws = (data / "cryptofeed-GATEIO_FUTURES.ws.1.0.txt").read_text(encoding="utf-8")
    for line in ws.splitlines():
        # "<ts>: <frame>" received; "<url> <- <ts>: <frame>" sent; "<url> <-> <ts>" connected
        if " <- " in line or " <-> " in line or not line.strip():
            continue
        received, _, frame = line.partition(": ")
        event = decode_message(frame)
        if isinstance(event, OrderBookUpdate):
            deltas.setdefault(event.result.s, []).append((float(received), event.result))
        elif isinstance(event, BookTickerUpdate):
            tickers.append(event.result)
    return Capture(snapshots, deltas, tickers)


@pytest.fixture
def capture(shared_data: Path) -> Capture:
    return load_capture(shared_data)


def test_the_capture_holds_what_this_file_relies_on(capture: Capture) -> None:
    assert len(capture.snapshots) == CONTRACTS
    assert set(capture.deltas) == set(capture.snapshots)
    assert sum(len(d) for d in capture.deltas.values()) == 352
    for contract, deltas in capture.deltas.items():
        ids = [(d.U, d.u) for _, d in deltas]
        assert all(u >= first for first, u in ids), contract
        assert all(nxt[0] == prev[1] + 1 for prev, nxt in itertools.pairwise(ids)), contract
        # the first delta seen is no newer than the snapshot: no snapshot here is too old
        assert ids[0][0] <= capture.snapshots[contract].id + 1, contract


def test_replay_in_arrival_order(capture: Capture) -> None:
    # Deltas that arrived before the REST response are buffered, the rest are fed live, as the
    # client does it.
    for contract, snapshot in capture.snapshots.items():
        sync = BookSync(contract)
        deltas = capture.deltas[contract]
        loaded = False
        for received, delta in deltas:
            if not loaded and received >= snapshot.received:
                sync.load_snapshot(snapshot.id, snapshot.bids, snapshot.asks, t=snapshot.t)
                loaded = True
            status = sync.feed(delta)
            assert status is not SyncStatus.NEED_SNAPSHOT or not loaded, contract
            if sync.book.ready:
                assert not sync.book.is_crossed(), (contract, delta.u)
        assert loaded, contract
        stats = sync.statistics()
        assert (stats.gaps, stats.snapshots_too_old, stats.deltas_dropped) == (0, 0, 0)
        last_u = deltas[-1][1].u
        if contract == "DIA_USDT":
            # both DIA deltas are at or before the snapshot id: nothing to apply yet
            assert snapshot.id == last_u
            assert sync.status is SyncStatus.WAITING
            assert stats.deltas_discarded == 2
        else:
            assert sync.status is SyncStatus.SYNCED, contract
        assert sync.book.update_id == last_u, contract
        assert sync.book.t == max(snapshot.t, deltas[-1][1].t), contract


def replay_book_states(
    capture: Capture, contract: str, *, arrives_after: int
) -> tuple[BookSync, dict[int, tuple[object, object]]]:
    """Feed one contract with the snapshot arriving after `arrives_after` deltas; return the sync
    and the top of book at every update id the book passed through."""
    snapshot = capture.snapshots[contract]
    deltas = [d for _, d in capture.deltas[contract]]
    sync = BookSync(contract)
    tops: dict[int, tuple[object, object]] = {}

    def record() -> None:
        book = sync.book
        if book.update_id is not None:
            tops[book.update_id] = (book.best_bid(), book.best_ask())

    for delta in deltas[:arrives_after]:
        sync.feed(delta)
    sync.load_snapshot(snapshot.id, snapshot.bids, snapshot.asks, t=snapshot.t)
    record()
    for delta in deltas[arrives_after:]:
        sync.feed(delta)
        record()
    return sync, tops


def test_book_ticker_agrees_with_the_book_at_equal_ids(capture: Capture) -> None:
    tops: dict[str, dict[int, tuple[object, object]]] = {}
    for contract in capture.snapshots:
        tops[contract] = replay_book_states(capture, contract, arrives_after=0)[1]
    compared = 0
    for ticker in capture.tickers:
        top = tops.get(ticker.s, {}).get(ticker.u)
        if top is None:
            continue  # the ticker's id falls inside a delta's U..u range
        assert top == ((ticker.b, ticker.B), (ticker.a, ticker.A)), ticker
        compared += 1
    assert compared == 18  # of 75 tickers: the others fall inside a delta's range


def test_snapshot_timing_does_not_change_the_book(capture: Capture) -> None:
    for contract in capture.snapshots:
        n = len(capture.deltas[contract])
        final = [replay_book_states(capture, contract, arrives_after=k)[0] for k in range(n + 1)]
        first = final[0].book
        for sync in final:
            assert sync.book.update_id == first.update_id
            assert sync.book.bids() == first.bids()
            assert sync.book.asks() == first.asks()
            assert sync.statistics().gaps == 0


def test_a_real_delta_lost_after_sync_is_detected(capture: Capture) -> None:
    contract = "OMG_USDT"  # the longest stream: 109 deltas, snapshot covered by the 9th
    snapshot = capture.snapshots[contract]
    deltas = [d for _, d in capture.deltas[contract]]
    lost = 50
    sync = BookSync(contract)
    sync.load_snapshot(snapshot.id, snapshot.bids, snapshot.asks)
    for delta in deltas[:lost]:
        sync.feed(delta)  # the first 8 are older than the snapshot, then it syncs
    assert sync.status is SyncStatus.SYNCED
    book_before = (sync.book.update_id, sync.book.bids(), sync.book.asks())
    assert sync.feed(deltas[lost + 1]) is SyncStatus.NEED_SNAPSHOT
    assert sync.last_gap is not None
    assert (sync.last_gap.expected, sync.last_gap.got) == (deltas[lost].U, deltas[lost + 1].U)
    assert sync.statistics().gaps == 1

    # the bare book refuses the same delta and stays as it was
    book = OrderBook(contract)
    book.load_snapshot(snapshot.id, snapshot.bids, snapshot.asks)
    start = next(i for i, d in enumerate(deltas) if d.U <= snapshot.id + 1 <= d.u)
    book.apply_delta(snapshot.id + 1, deltas[start].u, deltas[start].b, deltas[start].a)
    for delta in deltas[start + 1 : lost]:
        book.apply(delta)
    assert (book.update_id, book.bids(), book.asks()) == book_before
    with pytest.raises(BookGap) as info:
        book.apply(deltas[lost + 1])
    assert (info.value.contract, info.value.expected) == (contract, deltas[lost].U)
    assert (book.update_id, book.bids(), book.asks()) == book_before


def test_subscribing_after_the_snapshot_id_makes_it_too_old(capture: Capture) -> None:
    contract = "RDNT_USDT"
    snapshot = capture.snapshots[contract]
    deltas = [d for _, d in capture.deltas[contract]]
    start = next(i for i, d in enumerate(deltas) if d.U <= snapshot.id + 1 <= d.u)
    sync = BookSync(contract)
    for delta in deltas[start + 1 :]:  # missed the delta that straddles the snapshot id
        sync.feed(delta)
    assert sync.load_snapshot(snapshot.id, snapshot.bids, snapshot.asks) is (
        SyncStatus.NEED_SNAPSHOT
    )
    assert sync.statistics().snapshots_too_old == 1
    assert sync.statistics().buffered == len(deltas) - start - 1


def test_synced_books_are_sane(capture: Capture) -> None:
    for contract in capture.snapshots:
        book = replay_book_states(capture, contract, arrives_after=0)[0].book
        assert book.ready
        assert not book.is_crossed()
        spread = book.spread()
        assert spread is not None
        assert spread > 0
        assert all(isinstance(p, Decimal) and size > 0 for p, size in book.bids() + book.asks())
