"""OrderBook against a naive dict model (hypothesis stateful.rst, DatabaseComparison style)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from gatetrio._core._book import OrderBook
from gatetrio._core._errors import BookGap, ProtocolError
from gatetrio._core._events import BookDelta, BookLevel, ObuDelta, ObuLevel, Size

from .helpers import capped_examples

# A small price grid so that levels collide (resize, delete, re-insert) all the time. Bids come
# from the lower part and asks from the upper part, and the two ranges overlap: the model
# decides whether the book is crossed, and the book must agree.
BID_TICKS = st.integers(1, 60)
ASK_TICKS = st.integers(40, 100)


@st.composite
def price_texts(draw: st.DrawFn, ticks: st.SearchStrategy[int]) -> str:
    # Gate writes "64000", but "63209.0" and exponent forms occur too (spec 10): one price,
    # several texts, one level.
    price = Decimal(draw(ticks)) / 10
    match draw(st.integers(0, 3)):
        case 0:
            return str(price)
        case 1:
            return str(price) + ("0" if "." in str(price) else ".0")
        case 2:
            return f"{price:E}"
        case _:
            return f"{price:.3f}"


sizes: st.SearchStrategy[int | str] = st.one_of(
    st.just(0),
    st.integers(1, 10**12),
    st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False).map(str),
)


def levels(ticks: st.SearchStrategy[int]) -> st.SearchStrategy[list[tuple[str, int | str]]]:
    return st.lists(st.tuples(price_texts(ticks), sizes), max_size=8)


def parse_size(raw: int | str) -> Size:
    return raw if isinstance(raw, int) else Decimal(raw)


class OrderBookComparison(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook("BTC_USDT")
        self.update_id: int | None = None
        self.t = 0
        self.bids: dict[Decimal, Size] = {}
        self.asks: dict[Decimal, Size] = {}

    # ------------------------------------------------------------------------- model ops

    def model_load(
        self,
        update_id: int,
        bids: list[tuple[str, int | str]],
        asks: list[tuple[str, int | str]],
        t: int,
    ) -> None:
        # zero sizes in a snapshot are skipped, not deletions of an earlier duplicate
        self.bids = {Decimal(p): parse_size(s) for p, s in bids if parse_size(s)}
        self.asks = {Decimal(p): parse_size(s) for p, s in asks if parse_size(s)}
        self.update_id = update_id
        self.t = t

    def model_apply(
        self,
        update_id: int,
        bids: list[tuple[str, int | str]],
        asks: list[tuple[str, int | str]],
        t: int,
    ) -> None:
        for side, changes in ((self.bids, bids), (self.asks, asks)):
            for text, raw in changes:
                size = parse_size(raw)
                if size:
                    side[Decimal(text)] = size
                else:
                    side.pop(Decimal(text), None)
        self.update_id = update_id
        self.t = t

    def snapshot_state(self) -> tuple[object, ...]:
        return (self.book.update_id, self.book.t, self.book.bids(), self.book.asks())

    # ----------------------------------------------------------------------------- rules

    @initialize(
        update_id=st.integers(0, 2**63),
        bids=levels(BID_TICKS),
        asks=levels(ASK_TICKS),
        t=st.integers(0, 2**42),
    )
    def first_snapshot(
        self,
        update_id: int,
        bids: list[tuple[str, int | str]],
        asks: list[tuple[str, int | str]],
        t: int,
    ) -> None:
        # Most runs start ready; `clear` brings the not-ready state back.
        self.load_snapshot(update_id, bids, asks, t)

    @rule(
        update_id=st.integers(0, 2**63),
        bids=levels(BID_TICKS),
        asks=levels(ASK_TICKS),
        t=st.integers(0, 2**42),
    )
    def load_snapshot(
        self,
        update_id: int,
        bids: list[tuple[str, int | str]],
        asks: list[tuple[str, int | str]],
        t: int,
    ) -> None:
        self.book.load_snapshot(
            update_id, [BookLevel(p, s) for p, s in bids], [BookLevel(p, s) for p, s in asks], t=t
        )
        self.model_load(update_id, bids, asks, t)

    def rejected_when_not_ready(self, first: int) -> bool:
        # No preconditions on the delta rules: on a book that is not ready (no snapshot yet, or
        # cleared) every non-full delta must be refused as a gap with nothing expected.
        if self.update_id is not None:
            return False
        with pytest.raises(BookGap) as info:
            self.book.apply_delta(first, first, [BookLevel("1", 1)], [BookLevel("99", 1)])
        assert (info.value.expected, info.value.got) == (None, first)
        assert len(self.book) == 0
        return True

    @rule(
        span=st.integers(0, 50),
        bids=levels(BID_TICKS),
        asks=levels(ASK_TICKS),
        t=st.integers(0, 2**42),
    )
    def apply_valid_delta(
        self,
        span: int,
        bids: list[tuple[str, int | str]],
        asks: list[tuple[str, int | str]],
        t: int,
    ) -> None:
        if self.rejected_when_not_ready(span):
            return
        assert self.update_id is not None
        first = self.update_id + 1
        self.book.apply(
            BookDelta(
                t=t,
                s="BTC_USDT",
                U=first,
                u=first + span,
                b=tuple(BookLevel(p, s) for p, s in bids),
                a=tuple(BookLevel(p, s) for p, s in asks),
            )
        )
        self.model_apply(first + span, bids, asks, t)

    @rule(data=st.data(), span=st.integers(0, 5))
    def apply_delta_to_existing_levels(self, data: st.DataObject, span: int) -> None:
        # Random prices mostly miss the book; this rule resizes and deletes levels that exist,
        # down to empty sides, which is where index bookkeeping bugs hide.
        if self.rejected_when_not_ready(span):
            return
        assert self.update_id is not None
        changes = []
        for side in (self.bids, self.asks):
            chosen = data.draw(st.lists(st.sampled_from(sorted(side)), unique=True)) if side else []
            changes.append(
                [
                    (data.draw(st.sampled_from([str(p), f"{p:E}", f"{p:.4f}"])), data.draw(sizes))
                    for p in chosen
                ]
            )
        first = self.update_id + 1
        self.book.apply_delta(
            first,
            first + span,
            [BookLevel(p, s) for p, s in changes[0]],
            [BookLevel(p, s) for p, s in changes[1]],
            t=span,
        )
        self.model_apply(first + span, changes[0], changes[1], span)

    @rule(
        offset=st.sampled_from([-5, -1, 0, 2, 3]) | st.integers(2, 2**40),
        bids=levels(BID_TICKS),
    )
    def apply_gapped_delta(self, offset: int, bids: list[tuple[str, int | str]]) -> None:
        if self.rejected_when_not_ready(abs(offset)):
            return
        assert self.update_id is not None
        first = self.update_id + offset
        before = self.snapshot_state()
        with pytest.raises(BookGap) as info:
            self.book.apply_delta(first, first + 3, [BookLevel(p, s) for p, s in bids], [], t=1)
        assert (info.value.contract, info.value.expected, info.value.got) == (
            "BTC_USDT",
            self.update_id + 1,
            first,
        )
        assert self.snapshot_state() == before

    @rule(back=st.integers(1, 10), bids=levels(BID_TICKS))
    def apply_backwards_delta(self, back: int, bids: list[tuple[str, int | str]]) -> None:
        if self.rejected_when_not_ready(back):
            return
        assert self.update_id is not None
        first = self.update_id + 1
        before = self.snapshot_state()
        with pytest.raises(ProtocolError) as info:
            self.book.apply_delta(first, first - back, [BookLevel(p, s) for p, s in bids], [])
        assert not isinstance(info.value, BookGap)
        assert self.snapshot_state() == before

    @rule(span=st.integers(0, 50), t=st.integers(0, 2**42), obu=st.booleans())
    def apply_empty_delta(self, span: int, t: int, obu: bool) -> None:
        if self.rejected_when_not_ready(span):
            return
        assert self.update_id is not None
        first = self.update_id + 1
        if obu:  # id-only: no `a`/`b` at all
            self.book.apply(ObuDelta(t=t, s="ob.BTC_USDT.400", U=first, u=first + span))
        else:  # `"a":[],"b":[]`
            self.book.apply(BookDelta(t=t, s="BTC_USDT", U=first, u=first + span))
        self.model_apply(first + span, [], [], t)

    @rule(
        first=st.integers(0, 2**63),
        last=st.integers(0, 2**63),
        bids=levels(BID_TICKS),
        asks=levels(ASK_TICKS),
        obu=st.booleans(),
    )
    def apply_full_delta(
        self,
        first: int,
        last: int,
        bids: list[tuple[str, int | str]],
        asks: list[tuple[str, int | str]],
        obu: bool,
    ) -> None:
        if obu:
            self.book.apply(
                ObuDelta(
                    t=7,
                    s="ob.BTC_USDT.400",
                    u=last,
                    b=tuple(ObuLevel(p, str(s)) for p, s in bids),
                    a=tuple(ObuLevel(p, str(s)) for p, s in asks),
                    full=True,
                )
            )
            bids = [(p, str(s)) for p, s in bids]
            asks = [(p, str(s)) for p, s in asks]
        else:
            self.book.apply_delta(
                first,
                last,
                [BookLevel(p, s) for p, s in bids],
                [BookLevel(p, s) for p, s in asks],
                t=7,
                full=True,
            )
        self.model_load(last, bids, asks, 7)

    @rule()
    def clear(self) -> None:
        self.book.clear()
        self.update_id = None
        self.t = 0
        self.bids = {}
        self.asks = {}

    @rule(n=st.integers(0, 70))
    def top_n_matches_the_sorted_model(self, n: int) -> None:
        assert self.book.bids(n) == sorted(self.bids.items(), reverse=True)[:n]
        assert self.book.asks(n) == sorted(self.asks.items())[:n]

    # ------------------------------------------------------------------------ invariants

    @invariant()
    def ids_match(self) -> None:
        assert self.book.update_id == self.update_id
        assert self.book.ready == (self.update_id is not None)
        assert self.book.t == self.t

    @invariant()
    def levels_match(self) -> None:
        assert self.book.bids() == sorted(self.bids.items(), reverse=True)
        assert self.book.asks() == sorted(self.asks.items())
        assert (self.book.bid_count, self.book.ask_count) == (len(self.bids), len(self.asks))
        assert len(self.book) == len(self.bids) + len(self.asks)
        # the sorted index and the dict never drift apart
        assert self.book._bid_prices == sorted(self.book._bids)
        assert self.book._ask_prices == sorted(self.book._asks)

    @invariant()
    def no_empty_levels(self) -> None:
        assert all(size > 0 for _, size in self.book.bids())
        assert all(size > 0 for _, size in self.book.asks())

    @invariant()
    def crossed_only_when_the_model_is(self) -> None:
        model_crossed = bool(self.bids and self.asks) and max(self.bids) >= min(self.asks)
        assert self.book.is_crossed() == model_crossed
        best_bid, best_ask = self.book.best_bid(), self.book.best_ask()
        assert best_bid == (max(self.bids.items()) if self.bids else None)
        assert best_ask == (min(self.asks.items()) if self.asks else None)
        if best_bid is not None and best_ask is not None:
            assert self.book.spread() == best_ask[0] - best_bid[0]


# 20 steps: a run still mixes loads, deltas and every error path; at most 300 runs, because
# 1000 took a minute of CI's fifteen on a loaded 2-core machine.
OrderBookComparison.TestCase.settings = settings(
    settings.default, stateful_step_count=20, deadline=None, max_examples=capped_examples(300)
)
TestOrderBookComparison = OrderBookComparison.TestCase
