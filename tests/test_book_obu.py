"""ObuSync (spec 6.6, 15): examples of each status, then a model-based stateful test."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from gatetrio._core._book import ObuStatus, ObuSync, ObuSyncStatistics
from gatetrio._core._events import ObuDelta, ObuLevel

from .helpers import capped_examples

D = Decimal
STREAM = "ob.BTC_USDT.50"


def lv(p: str, s: str) -> ObuLevel:
    return ObuLevel(p=p, s=s)


def full(u: int, b: tuple[ObuLevel, ...] = (), a: tuple[ObuLevel, ...] = ()) -> ObuDelta:
    return ObuDelta(t=u, s=STREAM, u=u, b=b, a=a, full=True)


def delta(U: int, u: int, b: tuple[ObuLevel, ...] = (), a: tuple[ObuLevel, ...] = ()) -> ObuDelta:
    return ObuDelta(t=u, s=STREAM, U=U, u=u, b=b, a=a)


def test_deltas_before_the_first_full_push_wait() -> None:
    sync = ObuSync("BTC_USDT")
    assert sync.feed(delta(5, 6)) is ObuStatus.WAITING
    assert not sync.book.ready
    assert sync.feed(full(10, (lv("1", "2"),), (lv("3", "4"),))) is ObuStatus.APPLIED
    assert sync.book.update_id == 10
    assert sync.feed(delta(11, 12, (lv("1", "0"), lv("2", "5")))) is ObuStatus.APPLIED
    assert (sync.book.update_id, sync.book.t) == (12, 12)
    assert sync.book.bids() == [(D(2), D(5))]
    # an id-only delta still advances the id
    assert sync.feed(delta(13, 20)) is ObuStatus.APPLIED
    assert sync.book.update_id == 20
    assert sync.statistics() == ObuSyncStatistics(
        updates_applied=3,
        snapshots=1,
        waiting_dropped=1,
        duplicates=0,
        gaps=0,
        malformed=0,
        crossed=0,
    )
    assert "update_id=20" in repr(sync)
    assert not any(status.needs_resync for status in (ObuStatus.APPLIED, ObuStatus.WAITING))


def test_a_gap_clears_the_book_and_says_why() -> None:
    sync = ObuSync("BTC_USDT")
    sync.feed(full(10, (lv("1", "2"),)))
    status = sync.feed(delta(12, 13))
    assert status is ObuStatus.GAP
    assert status.needs_resync
    assert "expected update id 11, got 12" in sync.last_resync
    assert not sync.book.ready
    assert len(sync.book) == 0
    # until the resubscription's full push, deltas wait
    assert sync.feed(delta(14, 15)) is ObuStatus.WAITING
    assert sync.feed(full(30)) is ObuStatus.APPLIED
    assert sync.statistics().gaps == 1


def test_duplicates_are_skipped() -> None:
    sync = ObuSync("BTC_USDT")
    sync.feed(full(10))
    sync.feed(delta(11, 15, (lv("1", "1"),)))
    assert sync.feed(delta(11, 15, (lv("1", "9"),))) is ObuStatus.DUPLICATE
    assert sync.feed(delta(14, 15)) is ObuStatus.DUPLICATE
    assert sync.book.bids() == [(D(1), D(1))]
    # overlapping, not wholly old: a gap, like any U other than update_id + 1
    assert sync.feed(delta(14, 16)) is ObuStatus.GAP
    assert sync.statistics().duplicates == 2


def test_malformed_deltas_and_snapshots_resync_instead_of_raising() -> None:
    sync = ObuSync("BTC_USDT")
    assert sync.feed(full(10, (lv("not-a-price", "1"),))) is ObuStatus.MALFORMED
    assert not sync.book.ready
    assert "malformed level in BTC_USDT" in sync.last_resync
    sync.feed(full(10, (lv("1", "1"),)))
    assert sync.feed(delta(11, 12, (lv("2", "NaN"),))) is ObuStatus.MALFORMED
    assert not sync.book.ready
    sync.feed(full(20))
    assert sync.feed(delta(21, 19)) is ObuStatus.MALFORMED  # u < U
    sync.feed(full(20))
    # a loaded full push then a malformed one: the stale book is not kept
    assert sync.feed(full(21, (lv("1", "-1"),))) is ObuStatus.MALFORMED
    assert not sync.book.ready
    assert sync.statistics().malformed == 4


def test_a_crossed_book_resyncs() -> None:
    sync = ObuSync("BTC_USDT")
    sync.feed(full(10, (lv("1", "1"),), (lv("3", "1"),)))
    assert sync.feed(delta(11, 11, (lv("3", "1"),))) is ObuStatus.CROSSED
    assert "crossed book on BTC_USDT at update id 11" in sync.last_resync
    assert not sync.book.ready
    assert sync.feed(full(12, (lv("4", "1"),), (lv("3", "1"),))) is ObuStatus.CROSSED
    assert sync.statistics().crossed == 2


def test_reset_waits_for_a_full_push() -> None:
    sync = ObuSync("BTC_USDT")
    sync.feed(full(10))
    sync.reset()
    assert not sync.book.ready
    assert sync.feed(delta(11, 11)) is ObuStatus.WAITING


# ------------------------------------------------------------------ against a dict model

BID_TICKS = st.integers(1, 60)
ASK_TICKS = st.integers(40, 100)
SIZES = st.sampled_from(["0", "1", "7", "0.5", "12.25", "300"])


def changes(ticks: st.SearchStrategy[int]) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.tuples(ticks.map(lambda t: str(D(t) / 10)), SIZES), max_size=6)


class ObuSyncComparison(RuleBasedStateMachine):
    """The sync against a dict model: in-sequence deltas match, never crossed, no size 0."""

    def __init__(self) -> None:
        super().__init__()
        self.sync = ObuSync("BTC_USDT")
        self.update_id: int | None = None
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def clear_model(self) -> None:
        self.update_id = None
        self.bids, self.asks = {}, {}

    @staticmethod
    def levels(raw: list[tuple[str, str]]) -> tuple[ObuLevel, ...]:
        return tuple(ObuLevel(p, s) for p, s in raw)

    def expect(self, status: ObuStatus, expected: ObuStatus) -> None:
        assert status is expected
        if status.needs_resync:
            self.clear_model()

    def crossed(self, bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal]) -> bool:
        return bool(bids and asks) and max(bids) >= min(asks)

    @initialize(u=st.integers(0, 2**62), bids=changes(BID_TICKS), asks=changes(ASK_TICKS))
    def first_full_push(
        self, u: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]
    ) -> None:
        # Most runs start ready; `reset` and resyncs bring the waiting state back.
        self.full_push(u, bids, asks)

    @rule(u=st.integers(0, 2**62), bids=changes(BID_TICKS), asks=changes(ASK_TICKS))
    def full_push(self, u: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        new_bids = {D(p): D(s) for p, s in bids if D(s)}
        new_asks = {D(p): D(s) for p, s in asks if D(s)}
        status = self.sync.feed(
            ObuDelta(
                t=1, s="ob.BTC_USDT.50", u=u, b=self.levels(bids), a=self.levels(asks), full=True
            )
        )
        if self.crossed(new_bids, new_asks):
            self.expect(status, ObuStatus.CROSSED)
        else:
            self.expect(status, ObuStatus.APPLIED)
            self.update_id, self.bids, self.asks = u, new_bids, new_asks

    @rule(span=st.integers(0, 20), bids=changes(BID_TICKS), asks=changes(ASK_TICKS))
    def next_delta(
        self, span: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]
    ) -> None:
        first = 1 if self.update_id is None else self.update_id + 1
        status = self.sync.feed(
            ObuDelta(
                t=2,
                s="ob.BTC_USDT.50",
                U=first,
                u=first + span,
                b=self.levels(bids),
                a=self.levels(asks),
            )
        )
        if self.update_id is None:
            self.expect(status, ObuStatus.WAITING)
            return
        new_bids, new_asks = dict(self.bids), dict(self.asks)
        for side, raw in ((new_bids, bids), (new_asks, asks)):
            for p, s in raw:
                if D(s):
                    side[D(p)] = D(s)
                else:
                    side.pop(D(p), None)
        if self.crossed(new_bids, new_asks):
            self.expect(status, ObuStatus.CROSSED)
        else:
            self.expect(status, ObuStatus.APPLIED)
            self.update_id, self.bids, self.asks = first + span, new_bids, new_asks

    @precondition(lambda self: self.update_id is not None)
    @rule(offset=st.sampled_from([2, 3, 10]) | st.integers(2, 2**40), span=st.integers(0, 5))
    def gapped_delta(self, offset: int, span: int) -> None:
        assert self.update_id is not None
        first = self.update_id + offset
        status = self.sync.feed(ObuDelta(t=3, s="ob.BTC_USDT.50", U=first, u=first + span))
        self.expect(status, ObuStatus.GAP)

    @precondition(lambda self: self.update_id is not None and self.update_id > 0)
    @rule(data=st.data())
    def old_delta(self, data: st.DataObject) -> None:
        assert self.update_id is not None
        last = data.draw(st.integers(max(0, self.update_id - 50), self.update_id))
        first = data.draw(st.integers(max(0, last - 5), last))
        status = self.sync.feed(
            ObuDelta(t=4, s="ob.BTC_USDT.50", U=first, u=last, b=(ObuLevel("1", "99"),))
        )
        self.expect(status, ObuStatus.DUPLICATE)

    @precondition(lambda self: self.update_id is not None)
    @rule(bad=st.sampled_from(["x", "NaN", "-1", "Infinity"]), price=st.booleans())
    def malformed_delta(self, bad: str, price: bool) -> None:
        assert self.update_id is not None
        level = ObuLevel(bad, "1") if price else ObuLevel("5", bad)
        first = self.update_id + 1
        status = self.sync.feed(ObuDelta(t=5, s="ob.BTC_USDT.50", U=first, u=first, b=(level,)))
        self.expect(status, ObuStatus.MALFORMED)

    @rule()
    def reset(self) -> None:
        self.sync.reset()
        self.clear_model()

    @invariant()
    def matches_the_model(self) -> None:
        book = self.sync.book
        assert book.update_id == self.update_id
        assert book.ready == (self.update_id is not None)
        assert book.bids() == sorted(self.bids.items(), reverse=True)
        assert book.asks() == sorted(self.asks.items())

    @invariant()
    def never_crossed_and_no_empty_levels(self) -> None:
        book = self.sync.book
        assert not book.is_crossed()
        assert all(size > 0 for _, size in book.bids() + book.asks())


ObuSyncComparison.TestCase.settings = settings(
    settings.default, stateful_step_count=20, deadline=None, max_examples=capped_examples(300)
)
TestObuSyncComparison = ObuSyncComparison.TestCase
