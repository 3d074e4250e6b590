"""Hostile trading-API replies (spec 8.3) to `client.request(...)`, from the scripted server.

The script answers the login, then the order as each case says. A request ends with its
typed result, a typed error (RequestRejected for a refusal, RequestLost when its socket goes),
or, when the server never answers it, RequestTimeout at its deadline: never an untyped
exception and never a wait without end. Replies to nothing are counted (`unmatched_replies`).
"""

from __future__ import annotations

import json
from typing import Final

import pytest
import trio
import trio.testing

import gatetrio

from .helpers import CREDS
from .hostile_run import hostile_config
from .scripted import Await, Hold, Reply, Script, Send, Sleep, Upgrade, open_scripted_server, text

ORDER: Final = gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="1000", tif="gtc")


def _req_id(request: dict[str, object]) -> object:
    payload = request.get("payload")
    return payload.get("req_id") if isinstance(payload, dict) else None


def api_reply(
    request: dict[str, object],
    *,
    result: object = None,
    ack: bool = False,
    errs: object = None,
    status: object = "200",
    header: dict[str, object] | None = None,
    request_id: object = ...,
) -> bytes:
    head: dict[str, object] = {
        "status": status,
        "channel": request.get("channel"),
        "response_time": "1",
        "client_id": "127.0.0.1-0x1",
        "conn_id": "c0ffee",
        "trace_id": "t1",
        "x_in_time": 1,
        "x_out_time": 2,
    }
    head.update(header or {})
    data: dict[str, object] = {"result": result}
    if errs is not None:
        data["errs"] = errs
    frame: dict[str, object] = {
        "request_id": _req_id(request) if request_id is ... else request_id,
        "header": head,
        "data": data,
    }
    if ack:
        frame["ack"] = True
    return text(json.dumps(frame))


def login_ok(request: dict[str, object]) -> bytes:
    return api_reply(request, result={"uid": CREDS.user_id, "api_key": CREDS.key})


ORDER_RESULT: Final = {
    "id": 58000000000000001,
    "contract": "BTC_USDT",
    "size": 1,
    "price": "1000",
    "status": "open",
}


def trading(*answer: object, pong: bool = True) -> Script:
    """Answer the login, then the order with `answer` (steps)."""
    return Script(
        (
            Upgrade(),
            Await("futures.login"),
            Reply(login_ok),
            Await("futures.order_place"),
            *answer,  # type: ignore[arg-type]
        ),
        pong=pong,
    )


async def run_request(script: Script, *, limit: float = 120.0) -> tuple[object, float, object]:
    """(the result or the GateTrioError, when it came, the client's statistics)."""
    outcome: object = None
    with trio.fail_after(limit):
        async with (
            open_scripted_server([script], then=Script((Upgrade(), Hold()))) as server,
            gatetrio.open_client(
                connector=server.connector, credentials=CREDS, config=hostile_config()
            ) as client,
        ):
            try:
                outcome = await client.request(ORDER)
            except gatetrio.GateTrioError as exc:
                outcome = exc
            return outcome, trio.current_time(), client.statistics()
    raise AssertionError("unreachable")  # pragma: no cover


ANSWERED: Final = {
    "ack then result": (
        Reply(lambda r: api_reply(r, ack=True, result={})),
        Reply(lambda r: api_reply(r, result=ORDER_RESULT)),
    ),
    "result without an ack": (Reply(lambda r: api_reply(r, result=ORDER_RESULT)),),
    "a result with odd header stamps": (
        Reply(lambda r: api_reply(r, result=ORDER_RESULT, header={"x_in_time": "soon"})),
    ),
    "two results": (
        Reply(lambda r: api_reply(r, result=ORDER_RESULT)),
        Reply(lambda r: api_reply(r, result=ORDER_RESULT)),
    ),
}
REFUSED: Final = {
    "errs with a label": (
        Reply(
            lambda r: api_reply(r, errs={"label": "INVALID_PARAM", "message": "no"}, status="400")
        ),
    ),
    "errs as a string": (Reply(lambda r: api_reply(r, errs="no", status="400")),),
    "errs with a numeric label": (
        Reply(lambda r: api_reply(r, errs={"label": 5, "message": ["x"]}, status="400")),
    ),
    "a non-200 status and no errs": (Reply(lambda r: api_reply(r, status="500", result=None)),),
    "a status that is a number": (Reply(lambda r: api_reply(r, status=400, errs={"label": "X"})),),
}
UNANSWERED: Final = {
    "no reply at all": (Hold(),),
    "only the ack": (Reply(lambda r: api_reply(r, ack=True, result={})), Hold()),
    "a reply to another request id": (
        Reply(lambda r: api_reply(r, result={}, request_id="other")),
        Hold(),
    ),
    "a reply whose request_id is a number": (
        Reply(lambda r: api_reply(r, result={}, request_id=7)),
        Hold(),
    ),
    "a reply with no header": (Send(text('{"request_id":"x","data":{"result":{}}}')), Hold()),
}


@pytest.mark.parametrize("name", list(ANSWERED))
async def test_an_answered_request_returns_its_result(
    name: str, autojump_clock: trio.testing.MockClock
) -> None:
    outcome, at, _ = await run_request(trading(*ANSWERED[name]))
    assert isinstance(outcome, gatetrio.Order), outcome
    assert (outcome.id, outcome.status) == (58000000000000001, "open")
    assert at == 0


@pytest.mark.parametrize("name", list(REFUSED))
async def test_a_refused_request_raises_request_rejected(
    name: str, autojump_clock: trio.testing.MockClock
) -> None:
    outcome, at, _ = await run_request(trading(*REFUSED[name]))
    assert isinstance(outcome, gatetrio.RequestRejected), outcome
    assert at == 0


async def test_a_socket_that_closes_before_the_reply_is_connection_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from .scripted import CLOSE, close_payload, frame

    outcome, _, stats = await run_request(
        trading(Sleep(1), Send(frame(CLOSE, close_payload(1011))))
    )
    assert isinstance(outcome, gatetrio.RequestLost), outcome
    assert isinstance(outcome, gatetrio.ConnectionLost)
    assert stats.api_requests_lost == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", list(UNANSWERED))
async def test_an_unanswered_request_ends_typed_in_bounded_time(
    name: str, autojump_clock: trio.testing.MockClock
) -> None:
    outcome, at, stats = await run_request(trading(*UNANSWERED[name]), limit=300)
    assert isinstance(outcome, gatetrio.RequestTimeout), outcome
    assert outcome.sent
    assert outcome.acked == (name == "only the ack")
    assert at == hostile_config().request_timeout  # the order went out at 0: its deadline
    assert stats.trading.pending == 0  # type: ignore[attr-defined]
