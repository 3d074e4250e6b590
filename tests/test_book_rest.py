"""The REST snapshot body (spec 6.5): any JSON either parses or raises ProtocolError.

Also BookSync's live-book duties: duplicates, crossed books and its counters.
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gatetrio._core._book import BookSync, RestSnapshot, SyncStatus, parse_rest_snapshot
from gatetrio._core._errors import ProtocolError
from gatetrio._core._events import BookDelta, BookLevel

D = Decimal
HUGE = 10**400  # 401 digits: float(HUGE) and math.isfinite(HUGE) raise OverflowError


def test_a_live_body_parses() -> None:
    body = json.loads(
        '{"id":121506955191,"current":1786540564.748,"update":1786540564.741,'
        '"asks":[{"s":44970,"p":"64013.1"}],"bids":[{"s":"1.5","p":"64013"}]}'
    )
    snap = parse_rest_snapshot(body)
    assert snap == RestSnapshot(
        id=121506955191,
        bids=[BookLevel(p="64013", s="1.5")],
        asks=[BookLevel(p="64013.1", s=44970)],
        t=1786540564741,
    )
    assert "<1 levels>" in repr(snap)


def test_times_fall_back_from_update_to_current_to_zero() -> None:
    assert parse_rest_snapshot({"id": 1, "current": 2.5}).t == 2500
    assert parse_rest_snapshot({"id": 1, "update": None, "current": 3}).t == 3000
    assert parse_rest_snapshot({"id": 1}) == RestSnapshot(id=1, bids=[], asks=[], t=0)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "x",
        None,
        {},
        {"id": None},
        {"id": True},
        {"id": "1"},
        {"id": -1},
        {"id": HUGE},
        {"id": 1.0},
        {"id": 1, "update": HUGE},
        {"id": 1, "current": -HUGE},
        {"id": 1, "update": float("inf")},
        {"id": 1, "update": float("nan")},
        {"id": 1, "update": "NaN"},
        {"id": 1, "update": True},
        {"id": 1, "update": [1]},
        {"id": 1, "bids": None},
        {"id": 1, "bids": {"p": "1", "s": 1}},
        {"id": 1, "asks": [["1", 1]]},
        {"id": 1, "asks": [[{"p": "1", "s": 1}]]},
        {"id": 1, "asks": [{"p": 1, "s": 1}]},
        {"id": 1, "asks": [{"p": HUGE, "s": 1}]},
        {"id": 1, "asks": [{"p": "1", "s": HUGE}]},
        {"id": 1, "asks": [{"p": "1", "s": 1.5}]},
        {"id": 1, "asks": [{"p": "1", "s": None}]},
        {"id": 1, "asks": [{"p": "1", "s": False}]},
        {"id": 1, "bids": [{"s": 1}]},
    ],
    ids=repr,
)
def test_malformed_bodies_raise_protocol_error(body: object) -> None:
    with pytest.raises(ProtocolError):
        parse_rest_snapshot(body)


def test_a_huge_id_is_shown_without_its_digits() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_rest_snapshot({"id": 10**5000})
    assert info.value.raw == "<int too large to show>"


# Every field gets arbitrary JSON; the known fields also get near misses of their real type.
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**500),
    st.floats(),  # nan, inf, -0.0
    st.just(HUGE),
    st.just(-HUGE),
)
json_leaves = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
level_texts = st.one_of(
    st.sampled_from(["1", "64000.5", "0", "-1", "NaN", "Infinity", "1e400", "1E-400", " 2 ", "x"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
levels = st.fixed_dictionaries(
    {},
    optional={
        "p": st.one_of(level_texts, json_values),
        "s": st.one_of(numbers, level_texts, json_values),
    },
)
sides = st.one_of(st.lists(levels, max_size=4), json_values)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(numbers, json_values),
            "update": st.one_of(numbers, json_values),
            "current": st.one_of(numbers, json_values),
            "bids": sides,
            "asks": sides,
        },
    ),
)


@given(body=bodies)
@example(body={"id": 1, "update": HUGE})
@example(body={"id": HUGE})
@example(body={"id": 1, "bids": [{"p": "1e400", "s": HUGE}]})
@example(body={"id": 1, "asks": [{"p": "NaN", "s": 1}]})
def test_any_body_parses_or_raises_protocol_error(body: Any) -> None:
    try:
        snap = parse_rest_snapshot(body)
    except ProtocolError:
        return
    assert 0 <= snap.id < 2**63
    assert snap.t >= 0
    # and loading it into a sync either works or raises ProtocolError, changing nothing
    sync = BookSync("BTC_USDT")
    try:
        sync.load_snapshot(snap.id, snap.bids, snap.asks, t=snap.t)
    except ProtocolError:
        assert not sync.book.ready
    else:
        assert sync.book.update_id == snap.id


@given(text=bodies.map(lambda b: json.dumps(b, allow_nan=True)))
@example(text='{"id": 1, "update": 1e400, "current": NaN}')
@example(text='{"id": 1e400}')
@example(text='{"id": 1, "bids": [{"p": "1", "s": -Infinity}]}')
def test_any_json_text_parses_or_raises_protocol_error(text: str) -> None:
    # through json.loads, as the fetcher reads it: 1e400 becomes inf, NaN a float nan
    with contextlib.suppress(ProtocolError):
        parse_rest_snapshot(json.loads(text))


# ------------------------------------------------------- BookSync: the live book's duties


def delta(
    U: int, u: int, b: tuple[BookLevel, ...] = (), a: tuple[BookLevel, ...] = ()
) -> BookDelta:
    return BookDelta(t=u, s="BTC_USDT", U=U, u=u, b=b, a=a)


def test_sync_skips_deltas_it_is_past_once_synced() -> None:
    sync = BookSync("BTC_USDT")
    sync.load_snapshot(10, [BookLevel("1", 1)], [])
    assert sync.feed(delta(11, 12, (BookLevel("1", 5),))) is SyncStatus.SYNCED
    assert sync.feed(delta(11, 12, (BookLevel("1", 7),))) is SyncStatus.SYNCED
    assert sync.feed(delta(5, 9)) is SyncStatus.SYNCED
    assert sync.book.bids() == [(D(1), 5)]
    stats = sync.statistics()
    assert (stats.duplicates, stats.updates_applied, stats.gaps) == (2, 1, 0)


def test_sync_rejects_a_crossed_book_only_when_asked() -> None:
    crossing = delta(11, 11, (BookLevel("5", 1),))
    tolerant = BookSync("BTC_USDT")
    tolerant.load_snapshot(10, [BookLevel("1", 1)], [BookLevel("3", 1)])
    assert tolerant.feed(crossing) is SyncStatus.SYNCED
    assert tolerant.book.is_crossed()

    strict = BookSync("BTC_USDT", reject_crossed=True)
    strict.load_snapshot(10, [BookLevel("1", 1)], [BookLevel("3", 1)])
    assert strict.feed(crossing) is SyncStatus.NEED_SNAPSHOT
    assert strict.last_resync == "crossed book on BTC_USDT at update id 11"
    assert not strict.book.ready
    # the crossing delta is not kept for the next snapshot
    stats = strict.statistics()
    assert (stats.crossed, stats.buffered) == (1, 0)
    assert strict.feed(delta(12, 12)) is SyncStatus.NEED_SNAPSHOT
    assert strict.load_snapshot(11, [BookLevel("1", 1)], [BookLevel("3", 1)]) is SyncStatus.SYNCED


def test_sync_says_why_it_needs_a_snapshot() -> None:
    sync = BookSync("BTC_USDT")
    sync.load_snapshot(10, [], [])
    sync.feed(delta(11, 11))
    sync.feed(delta(13, 13))
    assert sync.last_resync == "order book gap on BTC_USDT: expected update id 12, got 13"
    sync.load_snapshot(20, [], [])
    sync.feed(delta(25, 25))
    assert sync.last_resync.startswith("snapshot too old: order book gap")
    assert sync.load_snapshot(24, [], []) is SyncStatus.SYNCED
    with pytest.raises(ProtocolError):
        sync.feed(delta(26, 25))
    assert "ends before it starts" in sync.last_resync
    assert sync.statistics().malformed == 1
