"""Trading requests against login and order replies that Hypothesis draws, at drawn times.

`test_hostile_trading.py` holds one hostile reply per case; here each connection answers the
login and each order with a drawn sequence (results, acks, refusals in odd shapes, replies to
other ids, garbage, silence, an upgrade notice, a close), and the body sends one to three
orders at once. Whatever was drawn, each request ends within its `request_timeout` of the call
with an `Order` or a `GateTrioError`, no request is left pending, and the client's counters
agree with what the body saw.
"""

from __future__ import annotations

import json
from typing import Any, Final

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gatetrio

from .helpers import CREDS
from .hostile_run import hostile_config
from .scripted import (
    CLOSE,
    Await,
    Reply,
    Script,
    Send,
    Sleep,
    Upgrade,
    close_payload,
    frame,
    open_scripted_server,
    text,
    upgrade_text,
)
from .test_hostile_trading import ORDER, ORDER_RESULT, api_reply, login_ok

REQUEST_TIMEOUT: Final = 4.0

_LOGIN_ANSWERS: Final = [
    Reply(login_ok),
    Reply(login_ok),
    Reply(lambda r: api_reply(r, errs={"label": "INVALID_KEY", "message": "no"}, status="401")),
    Reply(lambda r: api_reply(r, result={"uid": 7})),  # another account's uid
    Reply(lambda r: api_reply(r, result="x")),
    Reply(lambda r: api_reply(r, ack=True, result={})),  # only an ack
    Send(text(b"{")),
    Sleep(5.0),  # past the request's deadline
]
_ORDER_ANSWERS: Final = [
    Reply(lambda r: api_reply(r, result=ORDER_RESULT)),
    Reply(lambda r: api_reply(r, result=ORDER_RESULT)),
    Reply(lambda r: api_reply(r, ack=True, result={})),
    Reply(lambda r: api_reply(r, errs={"label": "INVALID_PARAM", "message": "no"}, status="400")),
    Reply(lambda r: api_reply(r, errs="no", status="400")),
    Reply(lambda r: api_reply(r, status="500", result=None)),
    Reply(lambda r: api_reply(r, result={"id": "not a number"})),
    Reply(lambda r: api_reply(r, result=[ORDER_RESULT])),
    Reply(lambda r: api_reply(r, result=ORDER_RESULT, request_id="other")),
    Reply(lambda r: api_reply(r, result=ORDER_RESULT, request_id=None)),
    Reply(lambda r: api_reply(r, result=ORDER_RESULT, header={"status": None})),
    Send(text(b'{"request_id":"x","data":{"result":{}}}')),
    Send(text(b"\xff")),
    Send(upgrade_text()),
    Send(frame(CLOSE, close_payload(1011))),
    Sleep(0.5),
    Sleep(3.0),
]


@st.composite
def trading_script(draw: st.DrawFn) -> Script:
    """A connection: the login answered as drawn, then up to three orders, each answered by a
    drawn sequence of moves."""
    steps: list[Any] = [Upgrade(), Await("futures.login", limit=10.0)]
    steps.append(draw(st.sampled_from(_LOGIN_ANSWERS)))
    for _ in range(draw(st.integers(0, 3))):
        steps.append(Await("futures.order_place", limit=10.0))
        steps.extend(draw(st.lists(st.sampled_from(_ORDER_ANSWERS), min_size=0, max_size=4)))
    return Script(tuple(steps), pong=draw(st.booleans()))


async def _run(scripts: list[Script], orders: int, stagger: float) -> None:
    config = hostile_config(request_timeout=REQUEST_TIMEOUT)
    outcomes: list[object] = []
    waits: list[float] = []

    async def one(client: gatetrio.Client) -> None:
        called = trio.current_time()
        try:
            outcomes.append(await client.request(ORDER))
        except gatetrio.GateTrioError as exc:
            outcomes.append(exc)
        waits.append(trio.current_time() - called)

    with trio.fail_after(300):
        async with (
            open_scripted_server([], then=tuple(scripts)) as server,
            gatetrio.open_client(
                connector=server.connector, credentials=CREDS, config=config
            ) as client,
        ):
            async with trio.open_nursery() as nursery:
                for _ in range(orders):
                    nursery.start_soon(one, client)
                    await trio.sleep(stagger)
            stats = client.statistics().trading
    assert len(outcomes) == orders
    assert all(w <= REQUEST_TIMEOUT for w in waits), waits
    assert all(isinstance(o, gatetrio.Order | gatetrio.GateTrioError) for o in outcomes)
    assert stats.pending == 0
    filled = [o for o in outcomes if isinstance(o, gatetrio.Order)]
    assert all(o.id == ORDER_RESULT["id"] for o in filled)
    timed_out = [o for o in outcomes if isinstance(o, gatetrio.RequestTimeout)]
    assert all(json.dumps(o.client_order_ids) for o in timed_out)  # each says what to look for


def _trio_run(scripts: list[Script], orders: int, stagger: float) -> None:
    trio.run(_run, scripts, orders, stagger, clock=trio.testing.MockClock(autojump_threshold=0))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    scripts=st.lists(trading_script(), min_size=1, max_size=3),
    orders=st.integers(1, 3),
    stagger=st.sampled_from([0.0, 0.0625, 1.0, 3.875]),  # (binary fractions: exact sums)
)
def test_every_request_ends_within_its_timeout_whatever_the_replies(
    scripts: list[Script], orders: int, stagger: float
) -> None:
    _trio_run(scripts, orders, stagger)
