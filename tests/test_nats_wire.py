"""The pure parts of gatetrio.nats: subjects, message ids, payloads, the book-over-bus sync."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatetrio
import gatetrio.events
from gatetrio._core._book import OrderBook
from gatetrio._core._events import ObuDelta, ObuLevel
from gatetrio.nats import BusBookSync, BusStatus, StreamSettings, decode_payload, envelope
from gatetrio.nats._wire import check_prefix, snapshot_envelope

contracts = st.sampled_from(["BTC_USDT", "ETH_USDT", "SOL_USDT"])
trades = st.builds(
    gatetrio.Trade,
    id=st.integers(1, 2**62),
    contract=contracts,
    price=st.decimals("0.1", "100000", places=1),
    size=st.integers(-(10**6), 10**6).filter(bool),
    create_time_ms=st.integers(0, 2**41),
)


@given(trades)
def test_trade_envelope_round_trips_and_is_exact(trade: gatetrio.Trade) -> None:
    env = envelope(trade, settle="usdt")
    assert env.subject == f"gate.futures.usdt.trades.{trade.contract}"
    assert env.msg_id == f"{env.subject}:{trade.id}"
    assert env.exact
    assert decode_payload(env.payload) == trade


@given(trades, trades)
def test_ids_equal_exactly_when_the_exchange_identity_does(
    a: gatetrio.Trade, b: gatetrio.Trade
) -> None:
    same = (a.id, a.contract) == (b.id, b.contract)
    assert (envelope(a, settle="usdt").msg_id == envelope(b, settle="usdt").msg_id) == same


def test_channel_tokens_keep_streams_apart() -> None:
    delta = ObuDelta(t=1, s="ob.BTC_USDT.50", u=9, U=5)
    env = envelope(delta, settle="usdt", prefix="x.y")
    assert env.subject == "x.y.usdt.obu_50.BTC_USDT"
    assert env.msg_id.endswith(":5-9")
    full = ObuDelta(t=1, s="ob.BTC_USDT.400", u=9, full=True)
    assert envelope(full, settle="usdt").msg_id == "gate.futures.usdt.obu_400.BTC_USDT:full:9"
    snap = snapshot_envelope(full, "gate.futures.usdt.obu_400.BTC_USDT")
    assert snap.subject == "gate.futures.usdt.obu_400_snapshot.BTC_USDT"
    candle = gatetrio.Candlestick(
        t=60, o=Decimal(1), h=Decimal(1), l=Decimal(1), c=Decimal(1), n="1m_mark_BTC_USDT"
    )
    open_env = envelope(candle, settle="usdt")
    assert open_env.subject == "gate.futures.usdt.candlesticks_1m_mark.BTC_USDT"
    assert not open_env.exact  # an open candle changes: only its content identifies it
    closed = envelope(msgspec.structs.replace(candle, w=True), settle="usdt")
    assert closed.exact
    assert closed.msg_id.endswith(":60:closed")


def test_bad_arguments_raise_usage_error() -> None:
    with pytest.raises(gatetrio.UsageError, match="cannot be published"):
        envelope(gatetrio.events.Pong(time=1, time_ms=1), settle="usdt")  # type: ignore[arg-type]
    with pytest.raises(gatetrio.UsageError, match="subject token"):
        check_prefix("a..b")
    with pytest.raises(gatetrio.UsageError, match="duplicate_window"):
        StreamSettings(duplicate_window=10.0, max_age=5.0)
    with pytest.raises(gatetrio.UsageError, match="replicas"):
        StreamSettings(replicas=0)


# ------------------------------------------------------------------- book over the bus


def _levels(side: dict[int, int]) -> tuple[ObuLevel, ...]:
    return tuple(ObuLevel(str(p), s) for p, s in sorted(side.items()))


@st.composite
def book_streams(draw: st.DrawFn) -> tuple[list[ObuDelta], dict[int, int], dict[int, int], int]:
    """A true sequence of updates, then what two collectors put on the bus for it: each update
    batched differently, interleaved, with duplicates. Bids below 1000, asks above."""
    bids = {p: draw(st.integers(1, 9)) for p in draw(st.sets(st.integers(900, 999), min_size=1))}
    asks = {p: draw(st.integers(1, 9)) for p in draw(st.sets(st.integers(1001, 1100), min_size=1))}
    start = draw(st.integers(1, 10**6))
    states = []
    bids_now, asks_now = dict(bids), dict(asks)
    changes: list[tuple[dict[int, int], dict[int, int]]] = []
    for _ in range(draw(st.integers(1, 30))):
        b = {draw(st.integers(900, 999)): draw(st.integers(0, 9))}
        a = {draw(st.integers(1001, 1100)): draw(st.integers(0, 9))}
        changes.append((b, a))
        bids_now = {p: s for p, s in {**bids_now, **b}.items() if s}
        asks_now = {p: s for p, s in {**asks_now, **a}.items() if s}
        states.append((bids_now, asks_now))
    snapshot = ObuDelta(t=0, s="ob.X_USDT.50", u=start, b=_levels(bids), a=_levels(asks), full=True)

    def batched() -> list[ObuDelta]:
        out, i = [], 0
        while i < len(changes):
            j = draw(st.integers(i + 1, len(changes)))
            b: dict[int, int] = {}
            a: dict[int, int] = {}
            for cb, ca in changes[i:j]:
                b |= cb
                a |= ca
            out.append(
                ObuDelta(
                    t=0, s="ob.X_USDT.50", U=start + i + 1, u=start + j, b=_levels(b), a=_levels(a)
                )
            )
            i = j
        return out

    one, two = batched(), batched()
    merged: list[ObuDelta] = []
    while one or two:  # each collector in order; the stream interleaves them
        source = one if (one and (not two or draw(st.booleans()))) else two
        merged.append(source.pop(0))
    final_bids, final_asks = states[-1]
    return [snapshot, *merged], final_bids, final_asks, start + len(changes)


@given(book_streams())
def test_two_collectors_batching_differently_give_the_exact_book(
    stream: tuple[list[ObuDelta], dict[int, int], dict[int, int], int],
) -> None:
    messages, bids, asks, last = stream
    sync = BusBookSync("X_USDT")
    statuses = [sync.feed(m) for m in messages]
    if sync.book.ready:
        assert sync.book.update_id == last
        assert sync.book.bids() == sorted(((Decimal(p), s) for p, s in bids.items()), reverse=True)
        assert sync.book.asks() == sorted((Decimal(p), s) for p, s in asks.items())
    else:  # only a gap (an interleaving that jumped ahead) may leave it waiting
        assert BusStatus.GAP in statuses


def test_gap_clears_until_the_next_snapshot() -> None:
    sync = BusBookSync("X_USDT")
    full = ObuDelta(t=0, s="ob.X_USDT.50", u=10, b=_levels({99: 1}), a=_levels({101: 1}), full=True)
    assert sync.feed(full) is BusStatus.APPLIED
    assert sync.feed(ObuDelta(t=0, s="ob.X_USDT.50", U=11, u=12)) is BusStatus.APPLIED
    assert sync.feed(ObuDelta(t=0, s="ob.X_USDT.50", U=5, u=12)) is BusStatus.DUPLICATE
    assert sync.feed(ObuDelta(t=0, s="ob.X_USDT.50", U=14, u=15)) is BusStatus.GAP
    assert not sync.book.ready
    assert sync.feed(ObuDelta(t=0, s="ob.X_USDT.50", U=16, u=16)) is BusStatus.WAITING
    later = ObuDelta(
        t=0, s="ob.X_USDT.50", u=20, b=_levels({98: 2}), a=_levels({102: 2}), full=True
    )
    assert sync.feed(later) is BusStatus.APPLIED
    assert sync.book.update_id == 20
    counts = sync.statistics()
    assert (counts.gaps, counts.duplicates, counts.waiting_dropped, counts.snapshots) == (
        1,
        1,
        1,
        2,
    )
    assert isinstance(sync.book, OrderBook)
