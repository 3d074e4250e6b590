"""Typed trading results (`_core/_results.py`): Gate's result JSON to records, labels to errors.

Literal frames are Gate's (spec 8.5-8.13, the live captures quoted there); the properties hold
for any order record and for any JSON at all.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import gatetrio
import gatetrio.events
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._errors import ProtocolError
from gatetrio._core._events import ApiResult, Order
from gatetrio._core._reference_decode import decode_message_reference
from gatetrio._core._results import (
    clean_message,
    read_batch,
    read_cancel_outcomes,
    read_login,
    read_order,
    read_orders,
    rejection,
)

from .strategies import hostile_values, orders, plain_json

_ENCODE = msgspec.json.Encoder(decimal_format="number").encode
_ORDER_FIELDS = [*Order.__struct_fields__, "succeeded", "uid", "label", "message"]
# order-shaped objects with any value in any field: the near misses a hostile server sends
order_like = st.dictionaries(
    st.sampled_from(_ORDER_FIELDS), st.one_of(plain_json, hostile_values), max_size=12
)

# live 2024 (spec 8.5): an open order, then the same order filled at once
LIVE_OPEN = (
    '{"header":{"response_time":"1727227280918","status":"200","channel":"futures.order_place",'
    '"event":"api","client_id":"94.228.147.34-0xc17bf95180"},'
    '"data":{"result":{"text":"t-JQICBoPDPBsCAQAAAAAA","price":"100","biz_info":"-","tif":"gtc",'
    '"amend_text":"-","status":"open","contract":"SOL_USDT","stp_act":"-","fill_price":"0",'
    '"id":533610324468,"create_time":1727227280.916,"size":1,"update_time":1727227280.916,'
    '"left":1,"user":15564602}},"request_id":"JQICBoPDPBsCAQAAAAAA"}'
)


def result_of(frame: str) -> object:
    event = decode_message(frame)
    assert isinstance(event, ApiResult)
    return event.result


def test_a_live_order_result_reads_as_the_push_record() -> None:
    order = read_order(result_of(LIVE_OPEN))
    assert order == Order(
        id=533610324468,
        contract="SOL_USDT",
        size=1,
        price=Decimal(100),
        status="open",
        left=1,
        fill_price=Decimal(0),
        create_time=1727227280,
        create_time_ms=1727227280916,
        update_time=1727227280916,  # ms, as pushes carry it
        text="t-JQICBoPDPBsCAQAAAAAA",
        tif="gtc",
        user="15564602",  # a string, as pushes carry it
        amend_text="-",
        biz_info="-",
        stp_act="-",
    )
    assert order.finish_as == ""
    assert (order.finish_time, order.finish_time_ms) == (0, 0)
    assert order.raw["user"] == 15564602  # as Gate sent it
    assert order.raw["create_time"] == Decimal("1727227280.916")


def test_a_filled_result_with_decimal_sizes_and_fee_rates() -> None:
    raw = {
        "id": 74046545,
        "user": 6790020,
        "create_time": Decimal("1727232753.84"),
        "finish_time": Decimal("1727232753.84"),
        "finish_as": "filled",
        "status": "finished",
        "contract": "BTC_USDT",
        "size": "-10.5",
        "left": "0",
        "price": "31403.2",
        "fill_price": "151.62",
        "tkfr": "0.0003",
        "mkfr": "0",
        "iceberg": "0",
        "text": "t-my-custom-id",
        "stop_loss_price": "",
        "new_field_from_gate": {"x": 1},
    }
    order = read_order(raw)
    assert (order.size, order.left) == (Decimal("-10.5"), Decimal(0))
    assert (order.finish_time, order.finish_time_ms) == (1727232753, 1727232753840)
    assert (order.tkfr, order.mkfr, order.iceberg) == (Decimal("0.0003"), Decimal(0), Decimal(0))
    assert order.raw["new_field_from_gate"] == {"x": 1}  # reachable before gatetrio models it
    assert dict(order.raw) == raw
    with pytest.raises(TypeError):
        order.raw["id"] = 1  # type: ignore[index]  # read-only: it is what Gate sent


def test_raw_is_not_part_of_equality_or_hashing() -> None:
    pushed = Order(id=1, contract="BTC_USDT", size=1, price=Decimal(1), status="open")
    read = read_order({"id": 1, "contract": "BTC_USDT", "size": 1, "price": "1", "status": "open"})
    assert read.raw
    assert not pushed.raw
    assert read == pushed
    assert hash(read) == hash(pushed)
    assert msgspec.structs.replace(read, status="finished").raw == {}  # a copy is not Gate's


def test_times_in_seconds_or_milliseconds_become_the_push_conventions() -> None:
    base = {"id": 1, "contract": "BTC_USDT", "size": 1, "price": "1", "status": "open"}
    as_ms = read_order({**base, "create_time": 1727227280916, "update_time": 1727227280916})
    as_s = read_order({**base, "create_time": 1727227280, "update_time": 1727227280.5})
    assert (as_ms.create_time, as_ms.create_time_ms) == (1727227280, 1727227280916)
    assert (as_s.create_time, as_s.create_time_ms) == (1727227280, 1727227280000)
    assert (as_ms.update_time, as_s.update_time) == (1727227280916, 1727227280500)
    # a push's own _ms twin wins over a conversion
    pushed = read_order({**base, "create_time": 1727227280, "create_time_ms": 1727227280123})
    assert pushed.create_time_ms == 1727227280123


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        "ok",
        {"id": 1},
        {"id": "x", "contract": "BTC_USDT", "size": 1, "price": "1", "status": "open"},
        {"id": 1, "contract": "BTC_USDT", "size": 1, "price": "NaN", "status": "open"},
        {"id": 1, "contract": "BTC_USDT", "size": 1, "price": "1", "status": 2},
        {"id": 1, "contract": "B", "size": 1, "price": "1", "status": "o", "create_time": "x"},
        {"id": 1, "contract": "B", "size": 1, "price": "1", "status": "o", "create_time": 1e300},
        {"id": 1, "contract": "B", "size": 1, "price": "1", "status": "o", "update_time": True},
        {"id": 2**64, "contract": "B", "size": 1, "price": "1", "status": "o"},
    ],
)
def test_unreadable_orders_raise_protocol_error(bad: object) -> None:
    with pytest.raises(ProtocolError):
        read_order(bad)


def order_json(order: Order) -> dict[str, Any]:
    """`order` as a trading result carries it: float-second times, an int user (spec 8.5)."""
    frame = json.loads(encode_event(gatetrio.events.OrdersUpdate(result=(order,))))
    item: dict[str, Any] = frame["result"][0]
    for name in ("create_time", "finish_time"):
        item[name] = item.pop(f"{name}_ms") / 1000
    item["update_time"] = item["update_time"] / 1000
    user = item.get("user")
    if isinstance(user, str) and user.isascii() and user.isdigit() and str(int(user)) == user:
        item["user"] = int(user)
    return item


times_ms = st.integers(1_400_000_000_000, 4_000_000_000_000)  # 2014 to 2096


@given(orders, times_ms, times_ms, times_ms)
def test_every_order_round_trips_through_the_result_shape(
    order: Order, created: int, updated: int, finished: int
) -> None:
    # any order a push decodes to, sent as a trading result instead, reads back the same
    order = msgspec.structs.replace(
        order,
        create_time=created // 1000,
        create_time_ms=created,
        update_time=updated,
        finish_time=finished // 1000,
        finish_time_ms=finished,
    )
    item = order_json(order)
    frame = {"header": {"status": "200", "channel": "futures.order_status"}, "request_id": "1"}
    read = read_order(result_of(json.dumps(frame | {"data": {"result": item}})))
    assert read == msgspec.structs.replace(order, user=str(order.user))
    assert read.raw["id"] == order.id


@given(st.one_of(plain_json, order_like, st.lists(order_like, max_size=3)))
@example({"id": 1, "contract": "B", "size": 1, "price": "1", "status": "o", "create_time": "1e9"})
@example({"id": 1, "contract": "B", "size": 1, "price": "1", "status": "o", "update_time": "-inf"})
def test_readers_raise_only_protocol_error_for_any_json(value: object) -> None:
    frame = {"header": {"status": "200", "channel": "x"}, "request_id": "1", "data": {}}
    frame["data"] = {"result": value}
    try:
        event = decode_message_reference(_ENCODE(frame))
    except ProtocolError:
        return
    assert isinstance(event, ApiResult)
    readers = (
        read_order,
        read_orders,
        read_login,
        lambda v: read_batch(v, ("t-a",)),
        lambda v: read_cancel_outcomes(v, ("1",)),
    )
    for read in readers:
        try:
            read(event.result)
        except ProtocolError:
            continue


def test_batch_outcomes_in_order_with_labels() -> None:
    result = [
        {"succeeded": True, "id": 74046545, "user": 6790020, "create_time": 1681196536.592}
        | {"status": "open", "contract": "BTC_USDT", "size": "10", "price": "31403.2"}
        | {"tif": "gtc", "left": "10", "fill_price": "0", "text": "t-a"},
        {"succeeded": False, "label": "INVALID_PARAM_VALUE"}
        | {"message": "label: INVALID_PARAM_VALUE, message: "}
        | {"detail": "ignored when a message is there"},
        {"succeeded": False, "label": "BALANCE_NOT_ENOUGH", "detail": "not enough"},
    ]
    a, b, c = read_batch(result, ("t-a", "t-b", "t-c"))
    assert a.succeeded
    assert a.order is not None
    assert (a.order.id, a.text) == (74046545, "t-a")
    assert a.error is None
    assert (b.succeeded, b.order, b.text, b.label, b.message) == (
        False,
        None,
        "t-b",
        "INVALID_PARAM_VALUE",
        "",
    )
    assert isinstance(b.error, gatetrio.InvalidArgument)
    assert (c.label, c.message) == ("BALANCE_NOT_ENOUGH", "not enough")
    assert type(c.error) is gatetrio.RequestRejected
    with pytest.raises(ProtocolError, match="2 entries for 3 orders"):
        read_batch(result[:2], ("t-a", "t-b", "t-c"))
    with pytest.raises(ProtocolError, match="succeeded"):
        read_batch([{"id": 1}], ("t-a",))
    # entries out of order: an order under another's position is attributed to no one
    with pytest.raises(ProtocolError, match=r"result\[0\]: the order sent as t-a, not t-b"):
        read_batch(result[:1], ("t-b",))


def test_cancel_outcomes_take_the_label_gate_puts_in_message() -> None:
    result = [
        {"id": "1694883366", "user_id": 111, "succeeded": True},
        {"id": "123", "user_id": 111, "message": "ORDER_NOT_FOUND"},
    ]
    done, missing = read_cancel_outcomes(result, ("1694883366", "123"))
    assert (done.order_id, done.succeeded, done.error) == ("1694883366", True, None)
    assert (missing.order_id, missing.succeeded, missing.label, missing.message) == (
        "123",
        False,
        "ORDER_NOT_FOUND",
        "",
    )
    assert isinstance(missing.error, gatetrio.OrderNotFound)
    with pytest.raises(ProtocolError, match="not one of the ids sent"):
        read_cancel_outcomes([{"id": "999", "succeeded": True}], ("1",))


def test_every_cancelled_id_is_answered_once_and_in_the_order_sent() -> None:
    ok = {"id": "5", "succeeded": True}
    # an id left out: its order's fate is unknown, so the reply is unreadable (in doubt)
    with pytest.raises(ProtocolError, match=r"no outcome for 1 id\(s\) sent: \['6'\]"):
        read_cancel_outcomes([ok], ("5", "6"))
    with pytest.raises(ProtocolError, match="answered twice"):
        read_cancel_outcomes([ok, ok], ("5", "6"))
    with pytest.raises(ProtocolError, match="no outcome"):
        read_cancel_outcomes([], ("5",))
    both = read_cancel_outcomes([{"id": 6, "message": "ORDER_NOT_FOUND"}, ok], ("5", "6"))
    assert [(o.order_id, o.succeeded) for o in both] == [("5", True), ("6", False)]


def test_login_result_keeps_the_uid_and_never_the_key() -> None:
    login = read_login({"uid": "15564602", "api_key": "98251e573f850df7d52e022c85cd2570"})
    assert login == gatetrio.LoginResult(uid="15564602")
    assert "98251e57" not in repr(login)
    assert read_login({"uid": 15564602}).uid == "15564602"
    with pytest.raises(ProtocolError):
        read_login({"api_key": "x"})


@pytest.mark.parametrize(
    ("label", "message", "status", "cls", "text"),
    [
        (
            "CONTRACT_NOT_FOUND",
            "label: CONTRACT_NOT_FOUND, message: ",
            "400",
            gatetrio.InvalidArgument,
            "futures.order_place rejected: CONTRACT_NOT_FOUND (status 400)",
        ),
        (
            "INVALID_ARGUMENT",
            "label: INVALID_ARGUMENT, message: invalid TIF GTC",
            "400",
            gatetrio.InvalidArgument,
            "futures.order_place rejected: INVALID_ARGUMENT: invalid TIF GTC (status 400)",
        ),
        (
            "ORDER_NOT_FOUND",
            "label: ORDER_NOT_FOUND, message: ",
            "404",
            gatetrio.OrderNotFound,
            "futures.order_place rejected: ORDER_NOT_FOUND (status 404)",
        ),
        (
            "TOO_MANY_REQUESTS",
            "Request Rate limit Exceeded (311)",
            "429",
            gatetrio.RateLimited,
            (
                "futures.order_place rejected: TOO_MANY_REQUESTS: Request Rate limit Exceeded"
                " (311) (status 429)"
            ),
        ),
        (
            "",
            "",
            "429",
            gatetrio.RateLimited,
            "futures.order_place rejected: TOO_MANY_REQUESTS (status 429)",
        ),
        (
            "AUTHENTICATION_FAILED",
            "Not login",
            "400",
            gatetrio.RequestUnauthorized,
            "futures.order_place rejected: AUTHENTICATION_FAILED: Not login (status 400)",
        ),
        (
            "INVALID_KEY",
            "Invalid key provided",
            "401",
            gatetrio.RequestUnauthorized,
            "futures.order_place rejected: INVALID_KEY: Invalid key provided (status 401)",
        ),
        (
            "REQUEST_EXPIRED",
            "request expired: x-gate-exptime",
            "400",
            gatetrio.RequestExpired,
            (
                "futures.order_place rejected: REQUEST_EXPIRED: request expired: x-gate-exptime"
                " (status 400)"
            ),
        ),
        (
            "",
            "405 Method Not Allowed, ",
            "405",
            gatetrio.RequestRejected,
            "futures.order_place rejected: status 405: 405 Method Not Allowed",
        ),
        (
            "SOMETHING_NEW",
            "label: SOMETHING_NEW, message: SOMETHING_NEW",
            "400",
            gatetrio.RequestRejected,
            "futures.order_place rejected: SOMETHING_NEW (status 400)",
        ),
        ("", "", "403", gatetrio.RequestUnauthorized, "futures.order_place rejected: status 403"),
    ],
)
def test_labels_become_typed_rejections_with_one_clean_message(
    label: str, message: str, status: str, cls: type[gatetrio.RequestRejected], text: str
) -> None:
    error = rejection(label, message, status=status, req_id="7", channel="futures.order_place")
    assert type(error) is cls
    assert str(error) == text
    assert error.req_id == "7"
    assert error.status == status
    assert isinstance(error, gatetrio.ExchangeError)
    if cls is gatetrio.RequestUnauthorized:
        assert isinstance(error, gatetrio.AuthenticationError)


def test_a_rate_limit_rejection_keeps_gates_reset_time() -> None:
    error = rejection(
        "TOO_MANY_REQUESTS",
        "Request Rate limit Exceeded (311)",
        status="429",
        req_id="1",
        channel="futures.order_place",
        reset_at=1677816785.084,
    )
    assert isinstance(error, gatetrio.RateLimited)
    assert error.reset_at == 1677816785.084


labels = st.from_regex(r"[A-Z][A-Z0-9_]{0,24}", fullmatch=True) | st.just("")


@given(labels, st.text(max_size=400), st.text(max_size=40))
def test_a_clean_message_never_repeats_the_label_or_ends_empty(
    label: str, message: str, rest: str
) -> None:
    text = clean_message(label, message)
    assert text == text.strip()
    assert not text.endswith(",")
    assert text != label or not text
    assert len(text) <= 300
    # Gate's own repetition is gone whatever the message says after it
    prefixed = clean_message(label, f"label: {label}, message: {rest}")
    assert not prefixed.startswith("label:") or rest.strip().startswith("label:")
    assert clean_message(label, f"label: {label}, message: {label}") == ""
