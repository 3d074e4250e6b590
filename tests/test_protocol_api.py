"""Trading correlation in the pure core (`_core/_protocol/_api.py`): one outcome per request.

Driven through `GateProtocol` with literal frames and exact times (no clock, no I/O): deadlines,
acks, duplicate and late replies, replies under other ids or channels, lost sockets,
unreadable results, client order ids, `x-gate-exptime`, logins, and Gate's 429.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatetrio
from gatetrio._core._config import Credentials
from gatetrio._core._errors import ReplyUnreadable, RequestLost, RequestTimeout, Throttled
from gatetrio._core._events import Order
from gatetrio._core._protocol import (
    ApiAcked,
    ApiCompleted,
    ApiFailed,
    GateProtocol,
    Output,
    RateLimitPaused,
    Unmatched,
)
from gatetrio._core._request_base import TradingRequest
from gatetrio._core._requests import (
    AmendOrder,
    BatchPlaceOrders,
    CancelOrder,
    GetOrder,
    Login,
    PlaceOrder,
)

CREDS = Credentials(key="KEY", secret="SECRET", user_id="20011")
T0 = 1000.0  # trio clock
WALL = 1_786_540_578.0  # unix seconds
ORDER = PlaceOrder(contract="BTC_USDT", size=1, price="100")
ORDER_JSON = {"id": 7, "contract": "BTC_USDT", "size": 1, "price": "100", "status": "open"}


def make(**kw: Any) -> GateProtocol:
    proto = GateProtocol(
        ping_interval=1000.0,  # no ping deadline in the way of the trading ones
        pong_timeout=10.0,
        credentials=CREDS,
        entropy=random.Random(3).randbytes,
        **kw,
    )
    proto.on_connected(T0, wall_time=WALL)
    return proto


def reply(
    req_id: str,
    *,
    channel: str = "futures.order_place",
    ack: bool = False,
    result: object = None,
    errs: dict[str, str] | None = None,
    status: str = "200",
    **header: object,
) -> str:
    frame: dict[str, Any] = {
        "header": {"response_time": str(int(WALL * 1000)), "status": status, "channel": channel}
        | header,
        "request_id": req_id,
        "data": {"errs": errs} if errs else {"result": ORDER_JSON if result is None else result},
    }
    if ack:
        frame["ack"] = True
    return json.dumps(frame)


def send(
    proto: GateProtocol,
    request: TradingRequest[object] = ORDER,
    *,
    timeout: float | None = 5.0,
    now: float = T0,
    **kw: Any,
) -> tuple[str, dict[str, Any], TradingRequest[object]]:
    deadline = None if timeout is None else now + timeout
    req_id, frame, sent, _ = proto.trading.send(
        request, wall_time=WALL + now - T0, now=now, deadline=deadline, **kw
    )
    return req_id, json.loads(frame), sent


def failed(out: list[Output]) -> list[gatetrio.GateTrioError]:
    return [o.error for o in out if isinstance(o, ApiFailed)]


# ------------------------------------------------------------------------------- deadlines


def test_silence_ends_exactly_at_the_deadline_and_nothing_stays_registered() -> None:
    proto = make()
    req_id, _, sent = send(proto, timeout=5.0)
    assert proto.get_timer() == T0 + 5.0
    assert proto.handle_timer(T0 + 4.999, wall_time=WALL).outputs == []
    (error,) = failed(proto.handle_timer(T0 + 5.0, wall_time=WALL).outputs)
    assert isinstance(error, RequestTimeout)
    assert (error.sent, error.acked, error.timeout, error.req_id) == (True, False, 5.0, req_id)
    assert error.request == sent
    assert error.client_order_ids == sent.client_order_ids()
    assert "no reply within 5s" in str(error)
    assert "resolve" in str(error)
    stats = proto.statistics().trading
    assert (stats.pending, stats.timed_out) == (0, 1)
    assert proto.get_timer() == T0 + 1000.0  # only the next ping is left
    # the reply that comes after all is late: counted, never taken for another request's
    assert [type(o) for o in proto.receive_text(reply(req_id), now=T0 + 6)] == [Unmatched]
    assert proto.statistics().trading.late_replies == 1


def test_ack_then_silence_says_the_ack_was_seen() -> None:
    proto = make()
    req_id, _, _ = send(proto, timeout=2.0)
    (acked,) = proto.receive_text(reply(req_id, ack=True), now=T0 + 0.1)
    assert isinstance(acked, ApiAcked)
    (error,) = failed(proto.handle_timer(T0 + 2.0, wall_time=WALL).outputs)
    assert isinstance(error, RequestTimeout)
    assert error.acked
    assert "no result within 2s after Gate's ack" in str(error)


def test_a_request_that_changes_nothing_says_send_it_again() -> None:
    proto = make()
    send(proto, GetOrder(order_id=7), timeout=1.0)
    (error,) = failed(proto.handle_timer(T0 + 1.0, wall_time=WALL).outputs)
    assert "changes nothing; send it again" in str(error)


def test_deadlines_run_while_disconnected_and_a_lost_socket_loses_the_rest() -> None:
    proto = make()
    early, _, _ = send(proto, timeout=1.0)
    late, _, _ = send(proto, timeout=9.0)
    proto.receive_text(reply(late, ack=True), now=T0)
    (lost,) = failed(proto.on_disconnected(T0 + 0.5))[1:]
    assert isinstance(lost, RequestLost)
    assert (lost.req_id, lost.acked) == (late, True)
    # the other one was lost too (the same socket), not timed out later
    assert proto.handle_timer(T0 + 1.0, wall_time=WALL).outputs == []
    assert proto.statistics().trading.lost == 2
    assert early != late


def test_a_deadline_not_after_now_is_refused() -> None:
    proto = make()
    with pytest.raises(gatetrio.UsageError, match="deadline"):
        send(proto, timeout=0.0)
    assert proto.statistics().trading.pending == 0


# --------------------------------------------------------------------------- hostile replies


def test_a_duplicate_reply_is_counted_once_as_such() -> None:
    proto = make()
    req_id, _, _ = send(proto)
    (done,) = proto.receive_text(reply(req_id), now=T0)
    assert isinstance(done, ApiCompleted)
    assert isinstance(done.result, Order)
    assert [type(o) for o in proto.receive_text(reply(req_id), now=T0)] == [Unmatched]
    assert [type(o) for o in proto.receive_text(reply(req_id, ack=True), now=T0)] == [Unmatched]
    stats = proto.statistics().trading
    assert (stats.completed, stats.duplicate_replies, stats.late_replies) == (1, 2, 0)


def test_a_second_ack_is_a_duplicate_and_changes_nothing() -> None:
    proto = make()
    req_id, _, _ = send(proto)
    assert [type(o) for o in proto.receive_text(reply(req_id, ack=True), now=T0)] == [ApiAcked]
    assert [type(o) for o in proto.receive_text(reply(req_id, ack=True), now=T0)] == [Unmatched]
    assert proto.statistics().trading.duplicate_replies == 1


def test_replies_under_other_ids_or_channels_answer_nothing() -> None:
    proto = make()
    req_id, _, _ = send(proto, timeout=3.0)
    for text in (
        reply(req_id + "0"),
        reply("never-sent"),
        reply(req_id, channel="futures.order_cancel"),  # our id, another request's answer
    ):
        assert [type(o) for o in proto.receive_text(text, now=T0)] == [Unmatched]
    stats = proto.statistics().trading
    assert (stats.unmatched_replies, stats.pending) == (3, 1)
    (error,) = failed(proto.handle_timer(T0 + 3.0, wall_time=WALL).outputs)
    assert isinstance(error, RequestTimeout)


@pytest.mark.parametrize(
    "result",
    ["ok", [], {"id": 1}, {"id": "x", "contract": "B", "size": 1, "price": "1", "status": "o"}],
)
def test_an_unreadable_success_is_in_doubt_not_a_crash(result: object) -> None:
    proto = make()
    req_id, _, sent = send(proto)
    (error,) = failed(proto.receive_text(reply(req_id, result=result), now=T0))
    assert isinstance(error, ReplyUnreadable)
    assert isinstance(error, gatetrio.ProtocolError)
    assert (error.sent, error.client_order_ids) == (True, sent.client_order_ids())
    assert error.raw is not None
    assert proto.statistics().trading.unreadable == 1


def test_a_non_2xx_status_without_errs_is_a_rejection() -> None:
    proto = make()
    req_id, _, _ = send(proto)
    (error,) = failed(proto.receive_text(reply(req_id, status="500"), now=T0))
    assert type(error) is gatetrio.RequestRejected
    assert error.status == "500"


# -------------------------------------------------------------------------- ids and expiry


def test_orders_get_client_ids_and_an_expiry_lookups_do_not() -> None:
    proto = make()
    _, frame, sent = send(proto, timeout=5.0)
    payload = frame["payload"]
    assert isinstance(sent, PlaceOrder)
    assert sent.text is not None
    assert payload["req_param"]["text"] == sent.text
    assert payload["req_header"] == {"x-gate-exptime": str(int((WALL + 5.0) * 1000))}
    _, frame, sent = send(proto, GetOrder(order_id=1), timeout=5.0)
    assert "req_header" not in frame["payload"]
    assert sent == GetOrder(order_id=1)


def test_the_callers_expiry_and_ids_are_kept() -> None:
    proto = make()
    mine = PlaceOrder(contract="BTC_USDT", size=1, price="1", text="t-mine")
    header = {"x-gate-exptime": "1786540600000", "X-Gate-Channel-Id": "x"}
    req_id, frame, sent = send(proto, mine, req_header=header)
    assert sent is mine
    assert frame["payload"]["req_header"] == header
    (error,) = failed(proto.on_disconnected(T0))
    assert isinstance(error, RequestLost)
    assert error.expires_at == 1786540600.0
    assert error.client_order_ids == ("t-mine",)
    assert req_id


def test_batches_and_amends_get_ids_where_the_caller_left_them_out() -> None:
    proto = make()
    other = PlaceOrder(contract="ETH_USDT", size=-1, price="1", text="t-x")
    batch = BatchPlaceOrders(orders=[ORDER, other])
    _, frame, sent = send(proto, batch)
    texts = [o["text"] for o in frame["payload"]["req_param"]]
    assert texts[1] == "t-x"
    assert texts[0].startswith("t-")
    assert texts[0] != "t-x"
    assert sent.client_order_ids() == tuple(texts)
    _, frame, sent = send(proto, AmendOrder(order_id=7, price="2"))
    assert isinstance(sent, AmendOrder)
    assert sent.amend_text is not None
    assert frame["payload"]["req_param"]["amend_text"] == sent.amend_text


def test_no_deadline_means_no_expiry() -> None:
    proto = make()
    _, frame, _ = send(proto, timeout=None)
    assert "req_header" not in frame["payload"]
    assert proto.get_timer() == T0 + 1000.0  # the next ping, no request deadline


# ---------------------------------------------------------------------------------- logins


def test_a_login_is_per_connection() -> None:
    proto = make()
    gen = proto.current_generation
    assert gen is not None
    req_id, frame, _ = send(proto, Login())
    assert frame["channel"] == "futures.login"
    (done,) = proto.receive_text(
        reply(req_id, channel="futures.login", result={"uid": "20011", "api_key": "KEY"}), now=T0
    )
    assert isinstance(done, ApiCompleted)
    assert done.result == gatetrio.LoginResult(uid="20011")
    assert proto.trading.is_logged_in(gen)
    proto.on_disconnected(T0)
    assert not proto.trading.is_logged_in(gen)


def test_a_refused_login_is_an_authentication_error() -> None:
    proto = make()
    req_id, _, _ = send(proto, Login())
    errs = {"label": "INVALID_KEY", "message": "Invalid key provided"}
    (error,) = failed(
        proto.receive_text(reply(req_id, channel="futures.login", errs=errs, status="401"), now=T0)
    )
    assert isinstance(error, gatetrio.RequestUnauthorized)
    assert isinstance(error, gatetrio.AuthenticationError)
    assert not proto.trading.is_logged_in(proto.current_generation or 0)


# ------------------------------------------------------------------------------ rate limits


def test_a_429_pauses_that_kind_of_request_until_gates_reset() -> None:
    proto = make()
    req_id, _, _ = send(proto)
    response_ms = int(WALL * 1000)
    errs = {"label": "TOO_MANY_REQUESTS", "message": "Request Rate limit Exceeded (311)"}
    out = proto.receive_text(
        reply(
            req_id,
            errs=errs,
            status="429",
            response_time=str(response_ms),
            x_gate_ratelimit_reset_timestamp=response_ms + 750,
        ),
        now=T0,
        wall_time=WALL + 0.25,  # our clock runs 250 ms ahead of Gate's (or the reply took that)
    )
    (error,) = failed(out)
    assert isinstance(error, gatetrio.RateLimited)
    assert error.reset_at == (response_ms + 750) / 1000
    (paused,) = [o for o in out if isinstance(o, RateLimitPaused)]
    # 750 ms on Gate's clock from its reply, whatever our clock says
    assert (paused.group, paused.until, paused.delay) == ("orders", T0 + 0.75, 0.75)
    assert proto.trading.reserve_slot(ORDER, T0, deadline=T0 + 5, wait=True) == T0 + 0.75
    # cancels and lookups are other budgets: not paused
    cancel = CancelOrder(order_id=1)
    assert proto.trading.reserve_slot(cancel, T0, deadline=T0 + 5, wait=True) == T0
    assert proto.trading.reserve_slot(GetOrder(order_id=1), T0, deadline=T0 + 5, wait=True) == T0
    stats = proto.statistics().trading
    assert (stats.rate_limited, stats.rate_limit_pauses) == (1, 1)


def test_a_429_without_a_usable_reset_pauses_one_window() -> None:
    proto = make()
    req_id, _, _ = send(proto)
    out = proto.receive_text(reply(req_id, status="429", errs={"label": "", "message": ""}), now=T0)
    (error,) = failed(out)
    assert isinstance(error, gatetrio.RateLimited)
    assert error.reset_at is None
    (paused,) = [o for o in out if isinstance(o, RateLimitPaused)]
    assert paused.delay == 1.0


def test_a_hostile_reset_time_pauses_at_most_a_minute() -> None:
    proto = make()
    req_id, _, _ = send(proto)
    out = proto.receive_text(
        reply(
            req_id,
            status="429",
            errs={"label": "TOO_MANY_REQUESTS", "message": ""},
            x_gat_ratelimit_reset_timestamp=2**62,
        ),
        now=T0,
        wall_time=WALL,
    )
    (paused,) = [o for o in out if isinstance(o, RateLimitPaused)]
    assert paused.delay == 60.0


def test_the_limiter_waits_fails_or_refuses_what_cannot_make_its_deadline() -> None:
    proto = make(order_rate_limit=2, rate_limit_window=1.0)
    assert proto.trading.reserve_slot(ORDER, T0, deadline=T0 + 5, wait=True) == T0
    assert proto.trading.reserve_slot(ORDER, T0, deadline=T0 + 5, wait=True) == T0
    with pytest.raises(Throttled) as info:
        proto.trading.reserve_slot(ORDER, T0, deadline=T0 + 5, wait=False)
    assert info.value.retry_after == 1.0
    with pytest.raises(Throttled, match="past the request's deadline"):
        proto.trading.reserve_slot(ORDER, T0, deadline=T0 + 0.5, wait=True)
    slot = proto.trading.reserve_slot(ORDER, T0, deadline=T0 + 5, wait=True)
    assert slot == T0 + 1.0
    assert proto.trading.confirm_slot(ORDER, slot, slot, deadline=T0 + 5) is None
    stats = proto.statistics().trading
    assert (stats.rate_limit_refusals, stats.rate_limit_waits) == (2, 1)


# ------------------------------------------------------------------ any replies, any times

actions = st.lists(
    st.one_of(
        st.tuples(st.just("ack"), st.integers(0, 4)),
        st.tuples(st.just("result"), st.integers(0, 4)),
        st.tuples(st.just("error"), st.integers(0, 4)),
        st.tuples(st.just("garbage"), st.integers(0, 4)),
        st.tuples(st.just("other_id"), st.integers(0, 4)),
        st.tuples(st.just("wait"), st.sampled_from([0.5, 1.0, 2.0, 4.0])),
        st.tuples(st.just("drop"), st.just(0)),
        st.tuples(st.just("send"), st.sampled_from([1.0, 3.0, 6.0])),
    ),
    max_size=40,
)


@given(actions)
def test_every_request_ends_exactly_once_by_its_deadline(steps: list[tuple[str, Any]]) -> None:
    proto = make()
    now = T0
    deadline: dict[str, float] = {}
    outcome: dict[str, float] = {}  # req_id -> when it ended
    sent: list[str] = []

    def take(out: list[Output]) -> None:
        for o in out:
            if isinstance(o, ApiCompleted | ApiFailed):
                assert o.req_id not in outcome, "two outcomes"
                assert now <= deadline[o.req_id]
                outcome[o.req_id] = now

    for kind, arg in steps:
        if kind == "send":
            if not proto.connected:
                proto.on_connected(now, wall_time=WALL)
            req_id, _, _ = send(proto, now=now, timeout=arg)
            deadline[req_id] = now + arg
            sent.append(req_id)
        elif kind == "wait":
            target = now + arg
            while (timer := proto.get_timer()) is not None and timer <= target:
                now = max(now, timer)
                take(proto.handle_timer(now, wall_time=WALL).outputs)
            now = target
            take(proto.handle_timer(now, wall_time=WALL).outputs)
        elif kind == "drop":
            take(proto.on_disconnected(now))
        elif sent:
            req_id = sent[arg % len(sent)]
            texts = {
                "ack": reply(req_id, ack=True),
                "result": reply(req_id),
                "error": reply(req_id, errs={"label": "X", "message": "y"}, status="400"),
                "garbage": reply(req_id, result="ok"),
                "other_id": reply(req_id + "x"),
            }
            take(proto.receive_text(texts[kind], now=now))
    # run out the clock: whatever is left ends by its deadline
    while (timer := proto.get_timer()) is not None and not math.isinf(timer):
        now = max(now, timer)
        take(proto.handle_timer(now, wall_time=WALL).outputs)
        if not proto.statistics().trading.pending:
            break
    take(proto.on_disconnected(now))
    assert set(outcome) == set(sent)
    assert proto.statistics().trading.pending == 0
