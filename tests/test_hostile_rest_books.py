"""Hostile REST snapshots and delta ids: a live `order_book_update` book against scripted servers.

The socket (tests/scripted.py) acks the subscribe and streams deltas U=u=201, 202, ... one per
100 ms; the REST transport (`ScriptedRest`) answers snapshot requests as each case says, then
well (a snapshot inside the buffered deltas). Whatever the REST side does (errors, 5xx, a body
that is not JSON, trickled, endless or huge, a snapshot older than every delta, ids that are
no ids), the failure is typed, counted (the book's `snapshot_errors`/`snapshots_too_old`, the
client's `rest` statistics), reported (BOOK_RESYNC), paced, and the book becomes ready and
right once a good snapshot comes. Memory is bounded whatever the body's size.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Final

import attrs
import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import BookStatistics, ClientEventKind, ClientStatistics

from .hostile_run import hostile_config
from .scripted import (
    Await,
    Each,
    Reply,
    RestAnswer,
    Script,
    ScriptedRest,
    Send,
    Step,
    Upgrade,
    ack_for,
    open_scripted_server,
    text,
)

FIRST: Final = 201  # the first delta's id
DELTAS: Final = 600  # one every 100 ms: 60 s of stream


def delta(U: int, u: int | None = None, *, bid: str = "100", size: object = "1") -> bytes:
    result = {
        "t": 1786540580000 + U,
        "s": "BTC_USDT",
        "U": U,
        "u": U if u is None else u,
        "b": [{"p": bid, "s": size}],
        "a": [{"p": "101", "s": "2"}],
        "l": "20",
    }
    frame = {
        "time": 1,
        "time_ms": 1,
        "channel": "futures.order_book_update",
        "event": "update",
        "result": result,
    }
    return text(json.dumps(frame))


def snapshot(snapshot_id: object, **extra: object) -> bytes:
    body: dict[str, object] = {
        "id": snapshot_id,
        "current": 1786540580.1,
        "update": 1786540580.0,
        "bids": [{"p": "100", "s": "5"}, {"p": "99", "s": "3"}],
        "asks": [{"p": "101", "s": "4"}, {"p": "102", "s": "1"}],
    }
    body.update(extra)
    return json.dumps(body).encode()


def stream(*before: Step, build: object = None) -> Script:
    """The socket: ack the subscribe, then a delta every 100 ms (ids from FIRST)."""
    each = Each(lambda i: delta(FIRST + i), DELTAS, every=0.1)
    return Script(
        (Upgrade(), Await("futures.order_book_update", "subscribe"), Reply(ack_for), *before, each)
    )


GOOD: Final = RestAnswer(body=lambda _target: snapshot(FIRST + 5))  # inside what is buffered


@attrs.define
class Outcome:
    error: gatetrio.GateTrioError | None = None
    book: BookStatistics | None = None
    client: ClientStatistics | None = None
    resync_events: int = 0
    rest_failed_events: int = 0
    ready_at: float = 0.0
    levels: tuple[object, object] = (None, None)


async def run_rest_book(
    script: Script,
    answers: list[RestAnswer],
    *,
    then: RestAnswer = GOOD,
    until: Callable[[BookStatistics], bool] = lambda stats: stats.ready,
    **config: object,
) -> tuple[Outcome, ScriptedRest]:
    """Run a live book until `until(its statistics)` holds (at the book's wake-ups)."""
    rest = ScriptedRest(answers, then)
    outcome = Outcome()
    options: dict[str, object] = {"rest_deadline": 5.0, "rest_max_body": 1 << 20, **config}
    with trio.fail_after(300):
        async with open_scripted_server([script]) as server:
            try:
                async with (
                    gatetrio.open_client(
                        connector=server.connector,
                        rest_transport=rest,
                        config=hostile_config(**options),
                    ) as client,
                    client.events(buffer=4096) as events,
                    client.order_book("BTC_USDT", depth=20, method="order_book_update") as live,
                ):
                    await live.wait_ready()
                    while not until(live.statistics()):
                        await live.wait_update()
                    outcome.ready_at = trio.current_time()
                    outcome.book = live.statistics()
                    outcome.client = client.statistics()
                    outcome.levels = (live.book.best_bid(), live.book.best_ask())
                    while True:
                        try:
                            event = events.receive_nowait()
                        except trio.WouldBlock:
                            break
                        outcome.resync_events += event.kind is ClientEventKind.BOOK_RESYNC
                        outcome.rest_failed_events += event.kind is ClientEventKind.REST_FAILED
            except gatetrio.GateTrioError as exc:
                outcome.error = exc
    return outcome, rest


async def test_the_control_a_good_snapshot(autojump_clock: trio.testing.MockClock) -> None:
    outcome, rest = await run_rest_book(stream(), [])
    assert outcome.error is None
    assert outcome.book is not None
    assert outcome.book.ready
    assert outcome.book.snapshot_errors == 0
    assert len(rest.targets) == 1
    assert "with_id=true" in rest.targets[0]


FAILURES: Final = {
    "HTTP 500": (RestAnswer(status=500, body=b"oops"), "unavailable"),
    "HTTP 503 with HTML": (
        RestAnswer(status=503, body=b"<html>busy</html>", headers=(("Content-Type", "text/html"),)),
        "unavailable",
    ),
    "HTTP 429 rate limited": (
        RestAnswer(
            status=429,
            body=b'{"label":"TOO_MANY_REQUESTS","message":"slow"}',
            headers=(("X-Gate-RateLimit-Reset-Timestamp", "0"),),
        ),
        "rate_limited",
    ),
    "HTTP 400 with Gate's error": (
        RestAnswer(status=400, body=b'{"label":"INVALID_PARAM_VALUE","message":"no"}'),
        "rejected",
    ),
    "HTTP 302 redirect": (
        RestAnswer(status=302, body=b"", headers=(("Location", "http://evil.invalid/"),)),
        "unavailable",
    ),
    "not JSON": (RestAnswer(body=b"<html>hello</html>"), "malformed"),
    "JSON but no id": (RestAnswer(body=lambda _t: snapshot(None)), ""),
    "id as text": (RestAnswer(body=lambda _t: snapshot("205")), ""),
    "negative id": (RestAnswer(body=lambda _t: snapshot(-1)), ""),
    "id past int64": (RestAnswer(body=lambda _t: snapshot(2**64)), ""),
    "levels not a list": (RestAnswer(body=lambda _t: snapshot(205, bids={"p": "1"})), ""),
    "a level without a price": (RestAnswer(body=lambda _t: snapshot(205, asks=[{"s": "1"}])), ""),
    "NaN JSON": (RestAnswer(body=b'{"id": NaN}'), "malformed"),
    "deep JSON": (RestAnswer(body=b"[" * 100_000 + b"]" * 100_000), "malformed"),
    "a body trickled forever": (RestAnswer(body=b" " * 1000, chunk=1, every=2.0), "timeouts"),
    "no answer at all": (RestAnswer(never=True), "timeouts"),
    "a 200 MB body": (RestAnswer(body=b" " * 65536, repeat=3200), "too_large"),
    "an endless body": (RestAnswer(body=b"[1," * 20000, repeat=10**9, every=0.0), "too_large"),
}


@pytest.mark.parametrize("name", list(FAILURES))
async def test_a_failed_snapshot_is_counted_paced_and_retried(
    name: str, autojump_clock: trio.testing.MockClock
) -> None:
    import tracemalloc

    answer, counter = FAILURES[name]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        outcome, rest = await run_rest_book(stream(), [answer, answer])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.error is None, outcome.error
    book = outcome.book
    assert book is not None
    assert book.ready
    assert outcome.client is not None
    stats = outcome.client.rest
    # two failed attempts: retried inside the REST call (5xx, 429: `retries`) or failing the
    # call and so the snapshot (`snapshot_errors`); each one counted and reported
    assert len(rest.targets) == 3
    assert rest.checks == ["/api/v4/futures/usdt/contracts/BTC_USDT"]  # asked first, once
    assert stats.attempts == 3 + len(rest.checks)
    assert book.snapshot_errors + stats.retries == 2, (book, stats)
    assert outcome.rest_failed_events + outcome.resync_events >= 2  # REST_FAILED or BOOK_RESYNC
    if counter:
        assert getattr(stats, counter) == 2, stats
    assert outcome.ready_at < DELTAS * 0.1  # bounded: paced retries, a deadline per call
    assert peak < 8 << 20  # a 1 MiB cap: never the 200 MB


async def test_a_snapshot_older_than_every_delta_is_fetched_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    old = RestAnswer(body=lambda _t: snapshot(FIRST - 50), delay=1.0)
    outcome, rest = await run_rest_book(stream(), [old, old])
    assert outcome.error is None
    assert outcome.book is not None
    assert outcome.book.ready
    assert outcome.book.snapshots_too_old >= 2
    assert len(rest.targets) == 3


async def test_a_snapshot_newer_than_every_delta_waits_for_the_stream(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ahead = RestAnswer(body=lambda _t: snapshot(FIRST + 30))
    outcome, _ = await run_rest_book(stream(), [ahead], then=ahead)
    assert outcome.error is None
    assert outcome.book is not None
    assert outcome.book.ready
    assert outcome.ready_at >= 3.0  # the stream had to catch up with the snapshot's id
    assert outcome.book.update_id is not None
    assert outcome.book.update_id > FIRST + 30


def live_snapshot(_target: str) -> bytes:
    """What a live exchange answers: its book as of now (the stream runs 10 ids a second)."""
    return snapshot(FIRST + int(trio.current_time() * 10) - 3)


NEXT: Final = FIRST + 30  # the id due when the hostile delta comes (3 s in)
DELTA_CASES: Final = {
    # name: (the delta, the book counter it bumps)
    "a gap": (delta(NEXT + 1000), "gaps"),
    "U > u": (delta(NEXT + 6, NEXT), "malformed"),
    "a crossed delta": (delta(NEXT, bid="150"), "crossed"),
    "a negative size": (delta(NEXT, size="-5"), "malformed"),
    "a size that is no number": (delta(NEXT, size="lots"), "malformed"),
}


@pytest.mark.parametrize("name", list(DELTA_CASES))
async def test_a_bad_delta_after_sync_fetches_a_new_snapshot(
    name: str, autojump_clock: trio.testing.MockClock
) -> None:
    # the hostile delta comes 3 s in, when the book is ready; the stream goes on after it
    bad, counter = DELTA_CASES[name]
    script = Script(
        (
            Upgrade(),
            Await("futures.order_book_update", "subscribe"),
            Reply(ack_for),
            Each(lambda i: delta(FIRST + i), NEXT - FIRST, every=0.1),
            Send(bad),
            Each(lambda i: delta(NEXT + 1 + i), DELTAS, every=0.1),
        )
    )
    live = RestAnswer(body=live_snapshot)
    outcome, rest = await run_rest_book(
        script, [], then=live, until=lambda s: s.ready and s.resyncs >= 1
    )
    assert outcome.error is None
    book = outcome.book
    assert book is not None
    assert book.resyncs == 1
    assert getattr(book, counter) == 1, book
    assert outcome.resync_events >= 1
    assert len(rest.targets) >= 2  # a new snapshot for the resync
    # a gap to an id from the future: snapshots look too old until that delta leaves the
    # bounded wait buffer (256 deltas); counted, paced, and over in bounded time
    assert outcome.ready_at < 3 + 256 * 0.1 + 10
    assert outcome.levels[0] == (Decimal(100), Decimal(1))
