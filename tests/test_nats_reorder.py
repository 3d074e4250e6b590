"""The bus's re-sequencing window (`gatetrio.nats._reorder`), pure: order, duplicates, bounds."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import gatetrio
from gatetrio.nats import Reorder
from gatetrio.nats._reorder import Kind, Resequencer, Verdict

S = "gate.futures.usdt.trades.BTC_USDT"


def feed_all(
    seq: Resequencer[int],
    items: list[tuple[int, int | None]],
    *,
    kind: Kind = Kind.CHAIN,
    subject: str = S,
    now: float = 0.0,
) -> tuple[list[int], list[Verdict]]:
    out: list[int] = []
    verdicts = [seq.feed(subject, kind, key, prev, key, now=now, out=out) for key, prev in items]
    return out, verdicts


def chain(keys: list[int]) -> list[tuple[int, int | None]]:
    """Each key with the one before it as its predecessor (the first has none)."""
    return [(k, keys[i - 1] if i else None) for i, k in enumerate(keys)]


@st.composite
def disordered_copies(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, int | None]]]:
    """A chain of exchange keys seen by two collectors, as JetStream stores it: each event once
    or twice (a copy past the duplicate window), displaced by a bounded amount, some events
    without a predecessor (a collector that had just started or reconnected)."""
    gaps = draw(st.lists(st.integers(1, 50), min_size=1, max_size=120))
    keys = [1000]
    for gap in gaps:
        keys.append(keys[-1] + gap)
    messages: list[tuple[float, int, int | None]] = []
    for i, key in enumerate(keys):
        prev = keys[i - 1] if i else None
        if i and draw(st.integers(0, 9)) == 0:
            prev = None
        position = i + draw(st.floats(-20, 20))
        messages.append((position, key, prev))
        if draw(st.integers(0, 4)) == 0:  # the other collector's copy, elsewhere
            messages.append((i + draw(st.floats(-20, 20)), key, keys[i - 1] if i else None))
    messages.sort(key=lambda m: m[0])
    return keys, [(key, prev) for _, key, prev in messages]


@given(disordered_copies())
def test_bounded_disorder_comes_out_in_exchange_order_once(
    case: tuple[list[int], list[tuple[int, int | None]]],
) -> None:
    keys, stream = case
    seq: Resequencer[int] = Resequencer(Reorder(window=10_000, memory=10_000))
    out, verdicts = feed_all(seq, stream)
    seq.expire(math.inf, out)
    assert out == keys
    stats = seq.statistics()
    assert stats.duplicates == len(stream) - len(keys)
    assert verdicts.count(Verdict.DUPLICATE) == stats.duplicates
    assert stats.late == stats.gaps == stats.overflows == stats.held == 0
    assert stats.in_order + stats.reordered == len(keys)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([Kind.CHAIN, Kind.RANGE, Kind.RESET, Kind.NONE]),
            st.integers(0, 60),
            st.none() | st.integers(-1, 60),
            st.floats(0, 3),
        ),
        max_size=100,
    ),
    st.integers(1, 8),
    st.integers(1, 20),
    st.sampled_from(["deliver", "drop"]),
)
@example(ops=[("a", Kind.RESET, 5, None, 0.0), ("a", Kind.RANGE, 5, 3, 0.0)], window=1,
         max_held=1, late="drop")  # fmt: skip
def test_any_input_is_accounted_for_bounded_and_ordered(
    ops: list[tuple[str, Kind, int, int | None, float]],
    window: int,
    max_held: int,
    late: str,
) -> None:
    settings = Reorder(window=window, max_held=max_held, memory=4, late=late)  # type: ignore[arg-type]
    seq: Resequencer[tuple[str, int, int]] = Resequencer(settings)
    out: list[tuple[str, int, int]] = []
    late_items: set[int] = set()
    now = 0.0
    for index, (subject, kind, key, prev, step) in enumerate(ops):
        now += step
        seq.expire(now, out)
        verdict = seq.feed(subject, kind, key, prev, (subject, key, index), now=now, out=out)
        if verdict is Verdict.LATE:
            late_items.add(index)
        assert seq.held <= max_held
        deadline = seq.next_deadline()
        assert (deadline is None) == (seq.held == 0)
    stats = seq.statistics()
    assert stats.unsequenced == sum(1 for op in ops if op[1] is Kind.NONE)
    assert len(out) + stats.duplicates + stats.late_dropped + stats.held == len(ops)
    delivered_late = stats.late - stats.late_dropped
    assert stats.in_order + stats.reordered + delivered_late + stats.unsequenced == len(out)
    # per subject, what was released in order has strictly increasing keys
    for subject in "abc":
        keys = [
            key
            for s, key, index in out
            if s == subject and index not in late_items and ops[index][1] is not Kind.NONE
        ]
        assert keys == sorted(set(keys))
    if late == "drop":
        assert not late_items


def test_a_trade_waits_for_its_predecessor_and_then_the_run_behind_it_goes() -> None:
    seq: Resequencer[int] = Resequencer()
    out, _ = feed_all(seq, [(10, None)])
    seq.expire(1.0, out)  # the subject's first trade: nothing said what came before it
    assert out == [10]
    out, verdicts = feed_all(seq, [(13, 12), (14, 13), (12, 10)])
    assert out == [12, 13, 14]
    assert verdicts == [Verdict.ACCEPTED] * 3
    stats = seq.statistics()
    assert (stats.in_order, stats.reordered, stats.held, stats.peak_held) == (0, 4, 0, 3)


def test_connected_items_are_released_at_once_without_a_deadline() -> None:
    seq: Resequencer[int] = Resequencer()
    out: list[int] = []
    seq.feed(S, Kind.CHAIN, 10, None, 10, now=0.0, out=out)
    assert seq.next_deadline() == 0.25  # settle: the first item of a subject
    seq.expire(0.25, out)
    for key in range(11, 100):
        seq.feed(S, Kind.CHAIN, key, key - 1, key, now=1.0, out=out)
        assert seq.next_deadline() is None
    assert out == list(range(10, 100))
    assert seq.statistics().in_order == 89


def test_a_missing_predecessor_is_waited_for_max_delay_then_counted_as_a_gap() -> None:
    seq: Resequencer[int] = Resequencer(Reorder(max_delay=2.0))
    out, _ = feed_all(seq, [(10, None)])
    seq.expire(1.0, out)
    out.clear()
    seq.feed(S, Kind.CHAIN, 12, 11, 12, now=5.0, out=out)  # 11 was seen by a collector
    seq.feed(S, Kind.CHAIN, 13, 12, 13, now=5.5, out=out)
    assert out == []
    assert seq.next_deadline() == 7.0
    seq.expire(6.999, out)
    assert out == []
    seq.expire(7.0, out)
    assert out == [12, 13]
    assert seq.statistics().gaps == 1
    # 11 arrives after all: late, delivered (nothing is lost), counted
    assert seq.feed(S, Kind.CHAIN, 11, 10, 11, now=8.0, out=out) is Verdict.LATE
    assert out == [12, 13, 11]
    assert seq.statistics().late == 1


def test_an_unknown_predecessor_waits_only_settle() -> None:
    seq: Resequencer[int] = Resequencer(Reorder(settle=0.1, max_delay=9.0))
    out, _ = feed_all(seq, [(1, None)])
    seq.expire(0.1, out)
    seq.feed(S, Kind.CHAIN, 2, 1, 2, now=0.5, out=out)  # collectors give predecessors here
    seq.feed(S, Kind.CHAIN, 5, None, 5, now=1.0, out=out)  # a collector restarted
    seq.feed(S, Kind.CHAIN, 6, 5, 6, now=1.0, out=out)
    seq.feed(S, Kind.CHAIN, 3, 2, 3, now=1.05, out=out)  # the other collector's backlog
    assert out == [1, 2, 3]
    seq.expire(1.1, out)
    assert out == [1, 2, 3, 5, 6]
    assert seq.statistics().gaps == 0  # nobody said something was missing


def test_a_subject_nobody_chains_goes_in_arrival_order_at_once() -> None:
    """Another publisher's messages carry no predecessor: no waiting (but the subject's first
    event), duplicates and late events still told apart."""
    seq: Resequencer[int] = Resequencer(Reorder(settle=0.1))
    out, _ = feed_all(seq, [(10, None)])
    assert out == []
    seq.expire(0.1, out)
    out2, verdicts = feed_all(seq, [(12, None), (11, None), (12, None), (13, None)], now=1.0)
    assert out2 == [12, 11, 13]
    assert verdicts == [Verdict.ACCEPTED, Verdict.LATE, Verdict.DUPLICATE, Verdict.ACCEPTED]
    assert seq.next_deadline() is None


def test_duplicates_are_dropped_and_late_can_be_dropped_by_policy() -> None:
    seq: Resequencer[int] = Resequencer(Reorder(memory=3, late="drop"))
    out, _ = feed_all(seq, [(1, None)])
    seq.expire(1.0, out)
    out2, verdicts = feed_all(seq, [*chain([1, 2, 3, 4, 5, 6, 7])[1:], (6, 5), (2, 1)])
    assert out2 == [2, 3, 4, 5, 6, 7]
    # 6 is remembered: a duplicate; 2 has left the memory (the last 3 to 5 keys): late, dropped
    assert verdicts[-2:] == [Verdict.DUPLICATE, Verdict.LATE_DROPPED]
    stats = seq.statistics()
    assert (stats.duplicates, stats.late, stats.late_dropped) == (1, 1, 1)


def test_book_deltas_overlap_chain_and_are_covered() -> None:
    """Two collectors batching Gate's updates differently: 5-8 then 7-9 both apply; a delta at
    or below the book is covered; a full book waits behind deltas that wait, then goes."""
    seq: Resequencer[str] = Resequencer()
    out: list[str] = []

    def feed(kind: Kind, first: int, last: int, now: float = 0.0) -> Verdict:
        return seq.feed("book", kind, last, first - 1, f"{first}-{last}", now=now, out=out)

    feed(Kind.RESET, 4, 4)
    assert out == ["4-4"]  # a full book needs nothing before it
    feed(Kind.RANGE, 7, 9)
    feed(Kind.RANGE, 5, 8)
    assert out == ["4-4", "5-8", "7-9"]
    assert feed(Kind.RANGE, 6, 9) is Verdict.DUPLICATE
    feed(Kind.RANGE, 12, 12)  # waits for 10-11
    feed(Kind.RESET, 20, 20)  # a snapshot from a collector ahead: after what waits below it
    assert out[-1] == "7-9"
    feed(Kind.RANGE, 10, 11)
    assert out[-3:] == ["10-11", "12-12", "20-20"]
    assert seq.statistics().gaps == 0


def test_window_and_max_held_bound_what_waits() -> None:
    seq: Resequencer[int] = Resequencer(Reorder(window=3, max_held=5))
    out: list[int] = []
    for subject in "abcd":
        seq.feed(subject, Kind.CHAIN, 0, None, 0, now=0.0, out=out)
    seq.expire(1.0, out)
    out.clear()
    for key in range(2, 7):  # 1 never comes
        seq.feed("a", Kind.CHAIN, key, key - 1, key, now=1.0, out=out)
        assert seq.held <= 3
    # the fourth held item overflowed the window: 2 went past the missing 1, the rest followed
    assert out == [2, 3, 4, 5, 6]
    stats = seq.statistics()
    assert (stats.overflows, stats.gaps, stats.held) == (1, 1, 0)
    out.clear()
    for t, subject in enumerate("bcdbcd"):  # each waits for a predecessor that never comes
        key = 10 + t
        seq.feed(subject, Kind.CHAIN, key, key - 1, key, now=2.0 + t, out=out)
    assert seq.held == 5
    assert out == [10]  # the longest-waiting went first
    assert seq.statistics().overflows == 2


def test_unsequenced_items_pass_through() -> None:
    seq: Resequencer[int] = Resequencer()
    out, verdicts = feed_all(seq, [(5, None), (5, None), (1, None)], kind=Kind.NONE)
    assert out == [5, 5, 1]
    assert set(verdicts) == {Verdict.ACCEPTED}
    assert seq.statistics().unsequenced == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"max_delay": -1},
        {"settle": float("nan")},
        {"window": 0},
        {"memory": True},
        {"max_held": 1.5},
        {"late": "keep"},
    ],
)
def test_bad_settings_are_usage_errors(bad: dict[str, object]) -> None:
    with pytest.raises(gatetrio.UsageError):
        Reorder(**bad)  # type: ignore[arg-type]


def test_a_random_two_collector_run_with_a_stall_stays_exact() -> None:
    """Collector B stalls 3 s while A carries on; B's backlog lands late, all duplicates."""
    rng = random.Random(5)
    keys = sorted(rng.sample(range(10**6), 3000))
    seq: Resequencer[int] = Resequencer(Reorder(memory=4096))
    out: list[int] = []
    arrivals: list[tuple[float, int, int | None]] = []
    for i, key in enumerate(keys):
        prev = keys[i - 1] if i else None
        t = i * 0.002
        arrivals.append((t + rng.uniform(0, 0.004), key, prev))  # A, a little jitter
        stalled = 1.0 <= t < 4.0
        arrivals.append((4.0 + t / 10 if stalled else t + 0.003, key, prev))  # B
    arrivals.sort()
    stored: set[int] = set()
    dupes = 0
    for t, key, prev in arrivals:
        seq.expire(t, out)
        if key in stored and t < 4.5:  # JetStream's window dedupes what lands within it
            continue
        dupes += key in stored
        stored.add(key)
        seq.feed(S, Kind.CHAIN, key, prev, key, now=t, out=out)
    seq.expire(math.inf, out)
    assert out == keys
    assert seq.statistics().duplicates == dupes
