"""Servers hostile on every connection, at timings Hypothesis draws: every public wait ends.

`test_hostile_property.py` ends each run on a well-behaved connection; here none ever is. The
drawn scripts (`strategies.hostile_script`) run in turn for ever, each maybe with an upgrade
notice at once (a server asking to move on every connection), and REST answers snapshots and
contract checks as drawn (errors, garbage, trickled or endless bodies, silence). The body
waits on one public thing: a subscribe ack and its items, a live book (obu, or deltas with REST
snapshots), a trading request, the client's events; and it ends at a drawn time by returning,
raising, raising a group, or being cancelled from outside. Whatever was drawn:

- `subscribe()` is entered or raises within `subscribe_deadline` of the call, and a trading
  request ends within its `request_timeout`: no server restarts a deadline by bouncing
  connections (the core's "Deadlines a server cannot restart");
- `open_client` ends normally, with the body's own exception (the very object), or with a
  `GateTrioError`; anything else fails where it is raised;
- in bounded virtual time, with no two connection attempts closer than
  `min_reconnect_interval`, and every socket closed soon after the block.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Final

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gatetrio
from gatetrio import ClientEventKind, channels
from gatetrio._core._book import Method

from . import strategies
from .helpers import CREDS
from .hostile_run import hostile_config
from .scripted import (
    CONTRACT,
    Await,
    Reply,
    RestAnswer,
    Script,
    ScriptedRest,
    Send,
    open_scripted_server,
    upgrade_text,
)

SUBSCRIBE_DEADLINE: Final = 5.0
REQUEST_TIMEOUT: Final = 4.0
MIN_INTERVAL: Final = 0.5  # hostile_config's min_reconnect_interval
BODY_LIMIT: Final = 60.0  # virtual seconds a body waits at most, whatever it waits on
RUN_LIMIT: Final = 200.0  # a run past this is a wait without end


class BodyError(Exception):
    """The body's own exception: it must come out of open_client as itself."""


SNAPSHOT: Final = json.dumps(
    {
        "id": 1000,
        "current": 1786540580.1,
        "update": 1786540580.0,
        "bids": [{"p": "100", "s": "5"}],
        "asks": [{"p": "101", "s": "4"}],
    }
).encode()

rest_answers = st.sampled_from(
    [
        RestAnswer(body=SNAPSHOT),
        RestAnswer(status=500, body=b"oops"),
        RestAnswer(status=429, body=b'{"label":"TOO_MANY_REQUESTS"}'),
        RestAnswer(status=400, body=b'{"label":"INVALID_PARAM_VALUE","message":"no"}'),
        RestAnswer(body=b"{"),
        RestAnswer(body=b"[]"),
        RestAnswer(body=b'{"id": "x", "bids": 1}'),
        RestAnswer(body=SNAPSHOT, chunk=1, every=2.0),  # trickled past any deadline
        RestAnswer(body=b"[" + b"1," * 4096, repeat=10_000),  # endless
        RestAnswer(body=SNAPSHOT, delay=30.0),
        RestAnswer(never=True),
    ]
)


@st.composite
def every_connection(draw: st.DrawFn) -> tuple[Script, ...]:
    """The scripts the connections run in turn: drawn, then maybe never acking a subscribe,
    and maybe asking to move (an upgrade notice) right after each handshake."""
    scripts = draw(st.lists(strategies.hostile_script(max_moves=6), min_size=1, max_size=3))
    if draw(st.booleans()):
        scripts = [
            attrs.evolve(
                s, steps=tuple(x for x in s.steps if not isinstance(x, Await | Reply)), ack=False
            )
            for s in scripts
        ]
    if draw(st.booleans()):
        scripts = [
            attrs.evolve(s, steps=(s.steps[0], Send(upgrade_text()), *s.steps[1:])) for s in scripts
        ]
    return tuple(scripts)


async def _body(client: gatetrio.Client, kind: str, waits: list[tuple[str, float]]) -> None:
    match kind:
        case "trades":
            called = trio.current_time()
            entered: float | None = None
            try:
                async with client.subscribe(channels.trades(CONTRACT)) as sub:
                    entered = trio.current_time()
                    async for _ in sub:
                        pass
            finally:  # entered, refused, timed out, or still waiting when the body ended
                end = trio.current_time() if entered is None else entered
                waits.append(("subscribe", end - called))
        case "book" | "book_rest":
            method: Method = "obu" if kind == "book" else "order_book_update"
            async with client.order_book(CONTRACT, method=method) as book:
                async for _ in book:
                    pass
        case "request":
            order = gatetrio.PlaceOrder(contract=CONTRACT, size=1, price="1000", tif="gtc")
            called = trio.current_time()
            try:
                await client.request(order)
            finally:
                waits.append(("request", trio.current_time() - called))
        case _:
            async with client.events() as events:
                async for _ in events:
                    pass


async def _run(
    scripts: tuple[Script, ...],
    rest: list[RestAnswer],
    kind: str,
    how: str,
    end_at: float,
) -> None:
    config = hostile_config(subscribe_deadline=SUBSCRIBE_DEADLINE, request_timeout=REQUEST_TIMEOUT)
    error = BodyError("the body's own")
    waits: list[tuple[str, float]] = []
    attempts: list[float] = []
    outcome: object = None
    with trio.fail_after(RUN_LIMIT):
        async with open_scripted_server([], then=scripts) as server:
            transport = ScriptedRest(rest[:-1], then=rest[-1])
            try:
                with trio.move_on_after(end_at if how == "cancel" else RUN_LIMIT):
                    async with (
                        gatetrio.open_client(
                            connector=server.connector,
                            rest_transport=transport,
                            credentials=CREDS,
                            config=config,
                        ) as client,
                        client.events(buffer=4096) as events,
                    ):
                        try:
                            with trio.move_on_after(end_at if how != "cancel" else BODY_LIMIT):
                                with trio.move_on_after(BODY_LIMIT):
                                    await _body(client, kind, waits)
                            if how == "raise":
                                raise error
                            if how == "group":
                                raise ExceptionGroup("the body's", [error])
                        finally:
                            while True:
                                try:
                                    event = events.receive_nowait()
                                except (trio.WouldBlock, trio.EndOfChannel):
                                    break
                                if event.kind is ClientEventKind.CONNECTING:
                                    attempts.append(event.at)
                outcome = "normal"
            except (BodyError, ExceptionGroup, gatetrio.GateTrioError) as exc:
                outcome = exc
            with trio.move_on_after(10.0):
                await server.wait_until(lambda: all(c.ended for c in server.connections))
            assert all(c.ended for c in server.connections)
    if isinstance(outcome, BodyError):
        assert outcome is error  # the body's own, unchanged
    elif isinstance(outcome, ExceptionGroup):
        assert how == "group"
        assert outcome.exceptions == (error,)
    else:
        assert outcome == "normal" or isinstance(outcome, gatetrio.GateTrioError), outcome
    for what, waited in waits:
        limit = SUBSCRIBE_DEADLINE if what == "subscribe" else REQUEST_TIMEOUT
        assert waited <= limit, (what, waited, outcome)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(gap >= MIN_INTERVAL for gap in gaps), gaps


KINDS: Final = ["trades", "trades", "trades", "book", "book_rest", "request", "events"]
HOWS: Final = ["return", "return", "raise", "group", "cancel"]
END_AT: Final = [0.0, 0.001, 0.5, 3.0, 5.0, 16.0, 40.0, BODY_LIMIT, BODY_LIMIT]


def _trio_run(*args: Any) -> None:
    trio.run(_run, *args, clock=trio.testing.MockClock(autojump_threshold=0))


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    scripts=every_connection(),
    rest=st.lists(rest_answers, min_size=1, max_size=4),
    kind=st.sampled_from(KINDS),
    how=st.sampled_from(HOWS),
    end_at=st.sampled_from(END_AT),
)
def test_every_wait_ends_whatever_every_connection_does(
    scripts: tuple[Script, ...], rest: list[RestAnswer], kind: str, how: str, end_at: float
) -> None:
    _trio_run(scripts, rest, kind, how, end_at)


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    scripts=every_connection(),
    rest=st.lists(rest_answers, min_size=1, max_size=4),
    kind=st.sampled_from(KINDS),
    how=st.sampled_from(HOWS),
    end_at=st.sampled_from(END_AT),
)
def test_every_wait_ends_many_examples(
    scripts: tuple[Script, ...], rest: list[RestAnswer], kind: str, how: str, end_at: float
) -> None:
    _trio_run(scripts, rest, kind, how, end_at)
