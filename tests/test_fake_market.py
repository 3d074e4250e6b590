"""The fake exchange's pure market: determinism, id sequencing, book consistency, rendering."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._events import (
    BookLevel,
    BookTickerUpdate,
    CandlesticksUpdate,
    ObuUpdate,
    OrderBookUpdate,
    TickersUpdate,
    TradesUpdate,
)
from gatetrio.testing import BookState, ContractSpec, Market, MarketOptions, SubscribeError
from gatetrio.testing._market import BOOK_DEPTHS
from gatetrio.testing._market._numbers import units_int, units_text

if TYPE_CHECKING:
    from gatetrio.testing import Push
    from gatetrio.testing._market import Topic

BOOK_TOPICS: list[Topic] = [
    ("futures.order_book_update", "BTC_USDT", "100ms", "100"),
    ("futures.order_book_update", "BTC_USDT", "100ms", "20"),
    ("futures.order_book_update", "ETH_USDT", "20ms", "20"),
    ("futures.order_book_update", "HEI_USDT", "100ms", "50"),
    ("futures.obu", "BTC_USDT", "400"),
    ("futures.obu", "SOL_USDT", "50"),
]


def run(
    market: Market, topics: list[Topic], until: float, *, step: float | None = None
) -> list[Push]:
    """Subscribe `topics` at the market's time and tick to `until`, at deadlines or every `step`."""
    for topic in topics:
        market.subscribe(topic)
    pushes: list[Push] = []
    now = market.now
    while now < until:
        due = market.next_deadline()
        now = min(until, now + step if step is not None else (due if due is not None else until))
        pushes.extend(market.tick(now))
    return pushes


def frames(pushes: list[Push], *, size_decimal: bool = True) -> list[str]:
    return [encode_event(p.event(size_decimal)) for p in pushes]


def levels(raw: tuple[BookLevel, ...]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(lv.p), Decimal(lv.s)) for lv in raw]


# ------------------------------------------------------------------------------ determinism


def test_same_seed_same_frames_and_other_seed_differs() -> None:
    topics: list[Topic] = [
        *BOOK_TOPICS,
        ("futures.trades", "BTC_USDT"),
        ("futures.book_ticker", "ETH_USDT"),
        ("futures.tickers", "SOL_USDT"),
        ("futures.candlesticks", "10s", "BTC_USDT"),
    ]
    first = frames(run(Market(seed=3), topics, 3.0))
    assert first == frames(run(Market(seed=3), topics, 3.0))
    assert first != frames(run(Market(seed=4), topics, 3.0))


def test_tick_granularity_does_not_change_the_market() -> None:
    # Rule 2 of the module: one big tick and many small ones simulate the same steps.
    topics = [BOOK_TOPICS[0], ("futures.trades", "BTC_USDT")]
    coarse = frames(run(Market(seed=1), topics, 2.0, step=0.7))
    fine = frames(run(Market(seed=1), topics, 2.0, step=0.01))
    assert coarse == fine


def test_every_push_decodes_to_its_event_and_back() -> None:
    topics: list[Topic] = [
        *BOOK_TOPICS,
        ("futures.order_book", "BTC_USDT", "20", "0"),
        ("futures.trades", "ETH_USDT"),
        ("futures.book_ticker", "BTC_USDT"),
        ("futures.tickers", "BTC_USDT"),
        ("futures.candlesticks", "10s", "BTC_USDT"),
        ("futures.candlesticks", "1m", "mark_ETH_USDT"),
        ("futures.contract_stats", "BTC_USDT", "1m"),
        ("futures.public_liquidates", "BTC_USDT"),
    ]
    market = Market(seed=2)
    pushes = run(market, topics, 12.0)
    # liquidations are rare: every other channel must have pushed within 12 s
    assert {p.topic[0] for p in pushes} >= {t[0] for t in topics} - {"futures.public_liquidates"}
    for push in pushes:
        for mode in (False, True):
            event = push.event(mode)
            assert decode_message(encode_event(event)) == event


# ---------------------------------------------------------------------------- sequencing


def test_book_streams_are_contiguous_and_share_one_counter() -> None:
    market = Market(seed=5)
    pushes = run(market, [*BOOK_TOPICS, ("futures.book_ticker", "BTC_USDT")], 5.0)
    last_u: dict[Topic, int] = {}
    for push in pushes:
        event = push.event(True)
        if isinstance(event, BookTickerUpdate):
            assert event.result.u <= market.update_id("BTC_USDT")
            continue
        assert isinstance(event, OrderBookUpdate | ObuUpdate)
        result = event.result
        if isinstance(result.full, bool) and result.full:
            last_u[push.topic] = result.u
            continue
        assert result.u >= result.U
        if push.topic in last_u:
            assert last_u[push.topic] + 1 == result.U, push.topic
        last_u[push.topic] = result.u
    assert set(last_u) == set(BOOK_TOPICS)
    # the same counter: the 100- and 20-level streams of BTC_USDT end on the same id
    assert last_u[BOOK_TOPICS[0]] == last_u[BOOK_TOPICS[1]]


def test_stream_cadences() -> None:
    market = Market(seed=6)
    pushes = run(market, [BOOK_TOPICS[0], BOOK_TOPICS[2], ("futures.tickers", "BTC_USDT")], 3.0)
    times: dict[str, list[int]] = {}
    for push in pushes:
        event = push.event(True)
        if isinstance(event, OrderBookUpdate):
            t = event.result.t
        else:
            assert isinstance(event, TickersUpdate)
            t = event.result[0].t
        times.setdefault(push.topic[0] + "/" + "/".join(push.topic[2:]), []).append(t)
    epoch = market.epoch_ms
    assert all((t - epoch) % 100 == 0 for t in times["futures.order_book_update/100ms/100"])
    assert all((t - epoch) % 20 == 0 for t in times["futures.order_book_update/20ms/20"])
    assert [t - epoch for t in times["futures.tickers/"]] == [1000, 2000, 3000]


def test_empty_deltas_are_still_sent_when_ids_advance() -> None:
    # A level-20 stream of a deep book sees many id-only intervals: changes happen deeper.
    market = Market(seed=7)
    pushes = run(market, [("futures.order_book_update", "BTC_USDT", "20ms", "20")], 10.0)
    events = [p.event(True) for p in pushes]
    empty = [
        e for e in events if isinstance(e, OrderBookUpdate) and not e.result.a and not e.result.b
    ]
    assert empty
    for event in empty:
        text = encode_event(event)
        assert '"a":[]' in text
        assert '"b":[]' in text


# --------------------------------------------------------------------- book consistency


def apply(book: dict[Decimal, Decimal], levels_: list[tuple[Decimal, Decimal]]) -> None:
    for price, size in levels_:
        if size:
            book[price] = size
        else:
            book.pop(price, None)


def top(book: dict[Decimal, Decimal], depth: int, *, bids: bool) -> list[tuple[Decimal, Decimal]]:
    return [(p, book[p]) for p in sorted(book, reverse=bids)[:depth]]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32))
@example(seed=0)
def test_depth_limited_client_matches_book_at_from_any_base(seed: int) -> None:
    """A client that takes the REST base (top L) at *any* id between two pushes and applies the
    level-L deltas holds exactly the fake's top L at every later `u` (spec 6.5 algorithm), also
    across injected gaps and re-sent full snapshots."""
    rng = random.Random(seed)
    market = Market(seed=seed, options=MarketOptions(obu_full_every=40, book_update_full_every=60))
    market.advance(0.5)
    clients: dict[Topic, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal], int]] = {}
    checks = 0
    for topic in BOOK_TOPICS:
        market.subscribe(topic)
    now = market.now
    while now < 6.0:
        now = market.next_deadline() or now + 0.1
        if rng.random() < 0.02:
            market.inject_gap(rng.choice(["BTC_USDT", "SOL_USDT"]), rng.randint(1, 4), now)
        for push in market.tick(now):
            event = push.event(True)
            assert isinstance(event, OrderBookUpdate | ObuUpdate)
            r = event.result
            topic = push.topic
            depth = int(topic[-1])
            bids_in, asks_in = levels(r.b), levels(r.a)
            client = clients.get(topic)
            if r.full:
                client = ({}, {}, r.u)
                apply(client[0], bids_in)
                apply(client[1], asks_in)
            elif client is None or client[2] + 1 != r.U:
                # (re)sync from a REST base anywhere in [U-1, u]: "buffer, fetch, discard"
                base_id = rng.randint(r.U - 1, r.u)
                base = market.book_at(topic[1], base_id, depth)
                client = (base.bid_dict(), base.ask_dict(), base_id)
                apply(client[0], bids_in)
                apply(client[1], asks_in)
            else:
                apply(client[0], bids_in)
                apply(client[1], asks_in)
            client = (client[0], client[1], r.u)
            clients[topic] = client
            want = market.book_at(topic[1], r.u, depth)
            assert top(client[0], depth, bids=True) == list(want.bids), (topic, r.U, r.u)
            assert top(client[1], depth, bids=False) == list(want.asks), (topic, r.U, r.u)
            checks += 1
    assert checks > 100


def test_deltas_only_carry_levels_inside_their_depth() -> None:
    market = Market(seed=8)
    for push in run(market, BOOK_TOPICS, 3.0):
        event = push.event(True)
        assert isinstance(event, OrderBookUpdate | ObuUpdate)
        r = event.result
        depth = int(push.topic[-1])
        book = market.book_at(push.topic[1], r.u, depth)
        for sent, kept in ((r.b, book.bids), (r.a, book.asks)):
            inside = dict(kept)
            for price, size in levels(sent):
                assert inside.get(price, 0) == size  # a price can move sides: check each side


def test_obu_first_push_is_full_and_the_stream_follows_on() -> None:
    market = Market(seed=9, options=MarketOptions(obu_full_every=0))
    topic: Topic = ("futures.obu", "BTC_USDT", "50")
    market.advance(1.0)
    market.subscribe(topic)
    [first] = market.initial_pushes(topic, 1.0)
    snap = first.event(True)
    assert isinstance(snap, ObuUpdate)
    assert snap.result.full
    assert snap.result.s == "ob.BTC_USDT.50"
    assert len(snap.result.b) == len(snap.result.a) == 50
    assert '"U"' not in encode_event(snap)  # full pushes carry only u (spec 6.6)
    deltas = [p.event(True) for p in run(market, [], 1.5)]
    assert isinstance(deltas[0], ObuUpdate)
    assert snap.result.u + 1 == deltas[0].result.U
    # id-only deltas omit a and b entirely
    id_only = [d for d in deltas if isinstance(d, ObuUpdate) and not d.result.a and not d.result.b]
    for d in id_only:
        assert '"a"' not in encode_event(d)
        assert '"b"' not in encode_event(d)


def test_inject_gap_skips_ids_that_the_book_still_contains() -> None:
    market = Market(seed=10)
    topic = ("futures.order_book_update", "BTC_USDT", "100ms", "100")
    pushes = run(market, [topic], 1.0)
    before = pushes[-1].event(True)
    assert isinstance(before, OrderBookUpdate)
    first, last = market.inject_gap("BTC_USDT", 5, 1.0)
    assert last - first == 4
    assert first == before.result.u + 1
    after = [p.event(True) for p in run(market, [], 1.5)]
    nxt = after[0]
    assert isinstance(nxt, OrderBookUpdate)
    assert last + 1 == nxt.result.U  # the stream jumps over the skipped ids
    # the skipped changes are real: the book at `last` differs from the book at `first - 1`
    assert market.book_at("BTC_USDT", last) != market.book_at("BTC_USDT", first - 1)
    body = market.rest_order_book("BTC_USDT", 100, now=1.5, size_decimal=True, with_id=True)
    assert isinstance(body["id"], int)
    assert body["id"] >= last


def test_book_at_rebuilds_recorded_books_and_forgets_old_ones() -> None:
    market = Market(seed=11, history=500)
    recorded: list[BookState] = []
    for i in range(1, 30):
        market.advance(i * 0.05)
        recorded.append(market.book("BTC_USDT"))
    for state in recorded[-5:]:
        assert market.book_at("BTC_USDT", state.update_id) == state
    assert market.book_at("BTC_USDT", market.update_id("BTC_USDT")) == market.book("BTC_USDT")
    market.advance(60.0)
    oldest, newest = market.history_range("BTC_USDT")
    assert newest - oldest >= 500
    with pytest.raises(KeyError):
        market.book_at("BTC_USDT", recorded[0].update_id)
    with pytest.raises(KeyError):
        market.book_at("BTC_USDT", newest + 1)


def test_book_is_never_crossed_and_keeps_its_depth() -> None:
    market = Market(seed=12)
    for i in range(1, 31):
        market.advance(i * 1.0)
        for contract in market.contracts:
            state = market.book(contract)
            assert state.bids[0][0] < state.asks[0][0]
            spec = market.spec(contract)
            assert spec.depth - 6 <= len(state.bids) <= spec.depth + 6
            assert all(size > 0 for _, size in state.bids + state.asks)


def test_trades_are_taken_from_the_book() -> None:
    market = Market(seed=13)
    market.advance(1.0)
    before = market.book("BTC_USDT", 5)
    units = int(before.asks[0][1] + before.asks[1][1])  # sweeps two levels exactly
    market.subscribe(("futures.trades", "BTC_USDT"))
    fills = market.execute("BTC_USDT", units, None, 1.0)
    assert fills == [
        (before.asks[0][0], int(before.asks[0][1])),
        (before.asks[1][0], int(before.asks[1][1])),
    ]
    after = market.book("BTC_USDT", 5)
    assert after.asks[0] == before.asks[2]
    assert after.update_id == before.update_id + 1
    trades = [p.event(False) for p in market.tick(1.1) if p.topic[0] == "futures.trades"]
    taken = [t for ev in trades if isinstance(ev, TradesUpdate) for t in ev.result][:2]
    assert [(t.price, t.size) for t in taken] == [(p, u) for p, u in fills]
    ids = [t.id for t in taken]
    assert ids[1] == ids[0] + 1


def test_candles_close_with_w_true() -> None:
    market = Market(seed=14)
    pushes = run(market, [("futures.candlesticks", "10s", "BTC_USDT")], 25.0)
    events = [p.event(True) for p in pushes]
    candles = [c for ev in events if isinstance(ev, CandlesticksUpdate) for c in ev.result]
    assert len(events) == 12  # one push every 2 s
    closed = [c for c in candles if c.w]
    assert [c.t - market.epoch_ms // 1000 for c in closed] == [0, 10]
    for c in candles:
        assert c.l <= min(c.o, c.c) <= max(c.o, c.c) <= c.h
        assert c.n == "10s_BTC_USDT"


# ------------------------------------------------------------------------------- rendering


@given(units=st.integers(-(10**12), 10**12), exp=st.integers(0, 6))
def test_size_rendering_is_exact_and_truncates_toward_zero(units: int, exp: int) -> None:
    exact = Decimal(units).scaleb(-exp)
    assert Decimal(units_text(units, exp)) == exact
    assert "e" not in units_text(units, exp).lower()
    assert units_int(units, exp) == int(exact)  # int() truncates toward zero, like Gate


def test_sizes_follow_the_connection_header() -> None:
    spec = ContractSpec(
        name="ETH_USDT", price=Decimal(3150), tick=Decimal("0.01"), size_step=Decimal("0.1")
    )
    market = Market(seed=15, contracts=[spec])
    pushes = run(market, [("futures.order_book_update", "ETH_USDT", "100ms", "20")], 1.0)
    event_int = pushes[-1].event(False)
    event_dec = pushes[-1].event(True)
    assert isinstance(event_int, OrderBookUpdate)
    assert isinstance(event_dec, OrderBookUpdate)
    for a, b in zip(
        event_int.result.b + event_int.result.a,
        event_dec.result.b + event_dec.result.a,
        strict=True,
    ):
        assert isinstance(a.s, int)
        assert isinstance(b.s, str)
        assert a.s == int(Decimal(b.s))
    rest = market.rest_order_book("ETH_USDT", 5, now=1.0, size_decimal=False, with_id=False)
    assert "id" not in rest
    assert all(isinstance(level["s"], int) for level in rest["asks"])  # type: ignore[attr-defined]


def test_rest_snapshot_matches_the_book_and_its_id() -> None:
    market = Market(seed=16)
    body = market.rest_order_book("BTC_USDT", 20, now=2.0, size_decimal=True, with_id=True)
    state = market.book("BTC_USDT", 20)
    assert body["id"] == state.update_id == market.update_id("BTC_USDT")
    assert [(Decimal(x["p"]), Decimal(x["s"])) for x in body["bids"]] == list(state.bids)  # type: ignore[attr-defined]
    assert [(Decimal(x["p"]), Decimal(x["s"])) for x in body["asks"]] == list(state.asks)  # type: ignore[attr-defined]
    assert body["current"] == (market.epoch_ms + 2000) / 1000
    assert isinstance(body["update"], float)
    assert body["update"] <= body["current"]


# ------------------------------------------------------------------------- subscriptions


@pytest.mark.parametrize(
    ("channel", "payload", "message"),
    [
        ("futures.trades", ["BTC_USDT", "NOPE_USDT"], "unknown contract NOPE_USDT"),
        ("futures.order_book_update", ["BTC_USDT", "20ms", "100"], "invalid argument"),
        ("futures.order_book_update", ["BTC_USDT", "1000ms", "20"], "invalid argument"),
        ("futures.order_book", ["BTC_USDT", "7", "0"], "invalid argument"),
        ("futures.obu", ["ob.BTC_USDT.100"], "invalid argument"),
        ("futures.obu", ["ob.BTC_USDT.50", "ob.NOPE_USDT.50"], "unknown contract NOPE_USDT"),
        ("futures.candlesticks", ["2m", "BTC_USDT"], "invalid argument"),
        ("futures.candlesticks", ["1m", "mark_NOPE_USDT"], "unknown contract NOPE_USDT"),
        ("futures.public_liquidates", ["!all", "BTC_USDT"], "invalid argument"),
        ("futures.nothing", ["BTC_USDT"], "unknown channel futures.nothing"),
        ("futures.trades", "BTC_USDT", "invalid argument"),
    ],
)
def test_bad_subscriptions_fail_whole(channel: str, payload: object, message: str) -> None:
    with pytest.raises(SubscribeError) as info:
        Market(seed=0).parse_subscription(channel, payload)
    assert (info.value.code, info.value.message) == (2, message)


def test_subscription_topics() -> None:
    market = Market(seed=0)
    assert market.parse_subscription("futures.order_book_update", ["BTC_USDT", "20ms"]) == [
        ("futures.order_book_update", "BTC_USDT", "20ms", "20")
    ]
    assert market.parse_subscription("futures.obu", ["ob.BTC_USDT.400", "ob.ETH_USDT.50"]) == [
        ("futures.obu", "BTC_USDT", "400"),
        ("futures.obu", "ETH_USDT", "50"),
    ]
    assert len(market.parse_subscription("futures.contract_info", ["!all"])) == len(
        market.contracts
    )
    assert Market(seed=0, settle="btc").contracts == ("BTC_USD",)
    with pytest.raises(SubscribeError):
        Market(seed=0, settle="usdt", delivery=True).parse_subscription("futures.obu", ["ob.X.50"])


def test_book_depths_cover_every_stream_level() -> None:
    assert set(BOOK_DEPTHS) == {20, 50, 100, 400}
