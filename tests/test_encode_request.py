from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio._core._auth import verify_api_sign, verify_subscription_sign
from gatetrio._core._config import Credentials
from gatetrio._core._encode import encode_request, exptime_header
from gatetrio._core._errors import UsageError
from gatetrio._core._requests import (
    AmendOrder,
    ApiRequest,
    BatchPlaceOrders,
    CancelAllOrders,
    CancelOrder,
    CancelOrders,
    GetOrder,
    ListOrders,
    Login,
    Ping,
    PlaceOrder,
    Request,
    Subscribe,
    Unsubscribe,
)

from .helpers import DOCS_CREDS, DOCS_KEY, DOCS_SECRET, LOGIN_VECTOR, SUBSCRIBE_VECTOR

T = 1700000000


def parse(text: str) -> dict[str, object]:
    frame = json.loads(text)
    assert isinstance(frame, dict)
    return frame


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- golden frames


def test_public_subscribe() -> None:
    text = encode_request(
        Subscribe(channel="futures.trades", payload=("BTC_USDT", "ETH_USDT")),
        wall_time=1786540578.9,
        req_id=1,
    )
    # compact, keys in the spec's order, time truncated to whole seconds
    assert text == (
        '{"time":1786540578,"id":1,"channel":"futures.trades","event":"subscribe",'
        '"payload":["BTC_USDT","ETH_USDT"]}'
    )


def test_public_unsubscribe_without_id() -> None:
    frame = parse(
        encode_request(
            Unsubscribe(channel="futures.obu", payload=("ob.BTC_USDT.400",)), wall_time=T
        )
    )
    assert frame == {
        "time": T,
        "channel": "futures.obu",
        "event": "unsubscribe",
        "payload": ["ob.BTC_USDT.400"],
    }


def test_private_subscribe_matches_spec_vector() -> None:
    req = Subscribe(channel="futures.orders", payload=("20011", "BTC_USDT"), private=True)
    frame = parse(encode_request(req, wall_time=T, req_id=1, credentials=DOCS_CREDS))
    assert frame == {
        "time": T,
        "id": 1,
        "channel": "futures.orders",
        "event": "subscribe",
        "payload": ["20011", "BTC_USDT"],
        "auth": {"method": "api_key", "KEY": DOCS_KEY, "SIGN": SUBSCRIBE_VECTOR},
    }


def test_private_unsubscribe_signs_unsubscribe() -> None:
    req = Unsubscribe(channel="futures.orders", payload=("20011", "BTC_USDT"), private=True)
    frame = parse(encode_request(req, wall_time=T, credentials=DOCS_CREDS))
    auth = cast("dict[str, str]", frame["auth"])
    assert frame["event"] == "unsubscribe"
    assert auth["SIGN"] != SUBSCRIBE_VECTOR
    assert verify_subscription_sign(
        "futures.orders", "unsubscribe", T, sign=auth["SIGN"], secret=DOCS_SECRET
    )


def test_public_subscribe_ignores_credentials() -> None:
    # Unlike the Go SDK, public channels carry no auth even when credentials are at hand.
    frame = parse(
        encode_request(
            Subscribe(channel="futures.trades", payload=("BTC_USDT",)),
            wall_time=T,
            credentials=DOCS_CREDS,
        )
    )
    assert "auth" not in frame


def test_ping() -> None:
    assert encode_request(Ping(), wall_time=T) == '{"time":1700000000,"channel":"futures.ping"}'
    assert parse(encode_request(Ping(), wall_time=T, req_id=5)) == {
        "time": T,
        "id": 5,
        "channel": "futures.ping",
    }


def test_login_matches_spec_vector() -> None:
    frame = parse(encode_request(Login(), wall_time=T, req_id="request-1", credentials=DOCS_CREDS))
    assert frame == {
        "time": T,
        "channel": "futures.login",
        "event": "api",
        "payload": {
            "api_key": DOCS_KEY,
            "signature": LOGIN_VECTOR,
            "timestamp": "1700000000",
            "req_id": "request-1",
        },
    }


def test_order_place_matches_spec_example() -> None:
    # spec 8.1's example, minus its "id": 7 (a str req_id sends no frame id).
    req = PlaceOrder(contract="BTC_USDT", size=Decimal(10), price="31503.28", text="t-my-custom-id")
    frame = parse(
        encode_request(
            req,
            wall_time=1681195484,
            req_id="request-id-1",
            req_header=exptime_header(1681195485.0),
        )
    )
    assert frame == {
        "time": 1681195484,
        "channel": "futures.order_place",
        "event": "api",
        "payload": {
            "req_id": "request-id-1",
            "req_header": {"x-gate-exptime": "1681195485000"},
            "req_param": {
                "contract": "BTC_USDT",
                "size": "10",
                "price": "31503.28",
                "tif": "gtc",
                "text": "t-my-custom-id",
            },
        },
    }


def test_signed_order_place_signs_the_exact_req_param_text() -> None:
    req = PlaceOrder(contract="币安人生_USDT", size=-3, price="0.5", reduce_only=True)
    text = encode_request(req, wall_time=T + 0.5, req_id=9, credentials=DOCS_CREDS)
    frame = parse(text)
    payload = cast("dict[str, object]", frame["payload"])
    assert frame["id"] == 9
    assert payload["req_id"] == "9"
    assert payload["timestamp"] == str(T)
    param = payload["req_param"]
    assert param == {
        "contract": "币安人生_USDT",
        "size": -3,
        "price": "0.5",
        "reduce_only": True,
        "tif": "gtc",
    }
    param_text = compact(param)
    assert f'"req_param":{param_text}' in text  # sent verbatim, raw UTF-8
    assert verify_api_sign(
        "futures.order_place",
        param_text,
        str(T),
        signature=payload["signature"],
        secret=DOCS_SECRET,
    )


@pytest.mark.parametrize(
    ("req", "channel", "req_param"),
    [
        (
            BatchPlaceOrders(
                orders=[
                    PlaceOrder(contract="BTC_USDT", size=1, price="60000", text="t-a"),
                    PlaceOrder(contract="BTC_USDT", size=-1, price="0", tif="ioc"),
                ]
            ),
            "futures.order_batch_place",
            [
                {"contract": "BTC_USDT", "size": 1, "price": "60000", "tif": "gtc", "text": "t-a"},
                {"contract": "BTC_USDT", "size": -1, "price": "0", "tif": "ioc"},
            ],
        ),
        (CancelOrder(order_id=74046514), "futures.order_cancel", {"order_id": "74046514"}),
        (
            CancelOrders(order_ids=["1694883366", 123]),
            "futures.order_cancel_ids",
            ["1694883366", "123"],
        ),
        (
            CancelAllOrders(contract="BTC_USDT", side="bid"),
            "futures.order_cancel_cp",
            {"contract": "BTC_USDT", "side": "bid"},
        ),
        (
            AmendOrder(order_id="74046543", price="31303.18", size=Decimal("2.5"), amend_text="x"),
            "futures.order_amend",
            {"order_id": "74046543", "price": "31303.18", "size": "2.5", "amend_text": "x"},
        ),
        (
            ListOrders(status="open", contract="BTC_USDT", limit=10, offset=0, last_id="5"),
            "futures.order_list",
            {"contract": "BTC_USDT", "status": "open", "limit": 10, "offset": 0, "last_id": "5"},
        ),
        (GetOrder(order_id="t-abc"), "futures.order_status", {"order_id": "t-abc"}),
    ],
)
def test_trading_frames(req: ApiRequest, channel: str, req_param: object) -> None:
    frame = parse(encode_request(req, wall_time=T, req_id=3))
    assert frame == {
        "time": T,
        "id": 3,
        "channel": channel,
        "event": "api",
        "payload": {"req_id": "3", "req_param": req_param},
    }


def test_output_is_deterministic() -> None:
    req = PlaceOrder(contract="BTC_USDT", size=1, price="1")
    first = encode_request(req, wall_time=T, req_id=1, credentials=DOCS_CREDS)
    assert encode_request(req, wall_time=T, req_id=1, credentials=DOCS_CREDS) == first


def test_exptime_header_is_whole_milliseconds() -> None:
    assert exptime_header(1681195485.0) == {"x-gate-exptime": "1681195485000"}
    assert exptime_header(1681195485.1239) == {"x-gate-exptime": "1681195485123"}


# --------------------------------------------------------------------------- misuse


PRIVATE = Subscribe(channel="futures.orders", payload=("1", "!all"), private=True)
ORDER = PlaceOrder(contract="BTC_USDT", size=1, price="1")


@pytest.mark.parametrize(
    ("req", "kwargs", "fix"),
    [
        (PRIVATE, {}, "pass credentials="),
        (Unsubscribe(channel="futures.orders", payload=("1",), private=True), {}, "credentials="),
        (Login(), {"req_id": 1}, "pass credentials="),
        (ORDER, {}, "needs req_id="),
        (ORDER, {"req_id": ""}, "non-empty printable str"),
        (ORDER, {"req_id": 2**31}, "0 to 2\\*\\*31-1"),
        (Ping(), {"req_id": -1}, "0 to 2\\*\\*31-1"),
        (Ping(), {"req_id": True}, "0 to 2\\*\\*31-1"),
        (Subscribe(channel="futures.trades", payload=("A_B",)), {"req_id": "7"}, "int from 0"),
        (Ping(), {"req_header": {"x": "1"}}, "only applies to trading-API"),
        (ORDER, {"req_id": 1, "req_header": {"x-gate-exptime": "soon"}}, "exptime_header"),
        (ORDER, {"req_id": 1, "req_header": {"x": 1}}, "str names to str values"),
        (Subscribe(channel="futures.trades", payload=(1,)), {}, "always strings"),  # type: ignore[arg-type]
        (Subscribe(channel="", payload=()), {}, "non-empty str"),
        ("futures.ping", {}, "takes a gatetrio request"),
    ],
)
def test_misuse_raises_usage_error(req: Request, kwargs: dict[str, object], fix: str) -> None:
    with pytest.raises(UsageError, match=fix):
        encode_request(req, wall_time=T, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("wall_time", [-1.0, math.nan, math.inf, True, "1700000000", None])
def test_bad_wall_time(wall_time: object) -> None:
    with pytest.raises(UsageError, match="unix seconds"):
        encode_request(Ping(), wall_time=wall_time)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unix seconds"):
        exptime_header(wall_time)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

contracts = st.from_regex(r"[A-Z0-9]{2,10}_USDT", fullmatch=True) | st.sampled_from(
    ["币安人生_USDT", "BTC_USDT_20260327", "BTC_USD"]
)
payload_items = st.text(min_size=1, max_size=20) | contracts
channel_names = st.from_regex(r"futures\.[a-z_]{1,24}", fullmatch=True)
wall_times = st.floats(min_value=0, max_value=2**33, allow_nan=False)
frame_ids = st.none() | st.integers(0, 2**31 - 1)
secrets = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=40)


@given(
    kind=st.sampled_from([Subscribe, Unsubscribe]),
    channel=channel_names,
    payload=st.lists(payload_items, max_size=5).map(tuple),
    private=st.booleans(),
    wall_time=wall_times,
    req_id=frame_ids,
    secret=secrets,
)
def test_subscription_frames_have_exactly_the_documented_shape(
    *,
    kind: type[Subscribe | Unsubscribe],
    channel: str,
    payload: tuple[str, ...],
    private: bool,
    wall_time: float,
    req_id: int | None,
    secret: str,
) -> None:
    req = kind(channel=channel, payload=payload, private=private)
    creds = Credentials(key="k", secret=secret)
    frame = parse(encode_request(req, wall_time=wall_time, req_id=req_id, credentials=creds))
    event = "subscribe" if kind is Subscribe else "unsubscribe"
    expected_keys = {"time", "channel", "event", "payload"}
    expected_keys |= {"id"} if req_id is not None else set()
    expected_keys |= {"auth"} if private else set()
    assert set(frame) == expected_keys
    assert type(frame["time"]) is int
    assert frame["time"] == int(wall_time)
    assert frame.get("id") == req_id
    assert frame["channel"] == channel
    assert frame["event"] == event
    assert frame["payload"] == list(payload)
    if private:
        auth = cast("dict[str, object]", frame["auth"])
        assert set(auth) == {"method", "KEY", "SIGN"}
        assert auth["method"] == "api_key"
        assert auth["KEY"] == "k"
        assert verify_subscription_sign(
            channel, event, int(wall_time), sign=auth["SIGN"], secret=secret
        )


prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e7"), places=4)
sizes = st.integers(-(10**9), 10**9).filter(bool) | st.decimals(
    min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=3
).filter(bool)
order_ids = st.integers(1, 2**63) | st.from_regex(r"t-[0-9A-Za-z_.\-]{1,28}", fullmatch=True)
place_orders = st.builds(
    PlaceOrder,
    contract=contracts,
    size=sizes,
    price=prices | prices.map(str),
    tif=st.sampled_from(["gtc", "ioc", "poc", "fok"]),
    text=st.none() | st.from_regex(r"t-[0-9A-Za-z_.\-]{1,28}", fullmatch=True),
    reduce_only=st.booleans(),
    iceberg=st.none() | st.integers(0, 10**6),
    stp_act=st.none() | st.sampled_from(["cn", "co", "cb"]),
    market_order_slip_ratio=st.none() | st.sampled_from(["0.03", Decimal("0.1")]),
)
api_requests: st.SearchStrategy[ApiRequest] = st.one_of(
    place_orders,
    # a batch's client order ids are distinct (orders without one get theirs when sent)
    st.lists(place_orders, min_size=1, max_size=10, unique_by=lambda o: o.text or id(o)).map(
        lambda os: BatchPlaceOrders(orders=os)
    ),
    st.builds(CancelOrder, order_id=order_ids),
    st.lists(order_ids, min_size=1, max_size=20, unique_by=str).map(
        lambda ids: CancelOrders(order_ids=ids)
    ),
    st.builds(
        CancelAllOrders, contract=contracts, side=st.none() | st.sampled_from(["bid", "ask"])
    ),
    st.builds(AmendOrder, order_id=order_ids, price=prices.map(str), size=st.none() | sizes),
    st.builds(
        ListOrders,
        status=st.sampled_from(["open", "finished"]),
        contract=st.none() | contracts,
        limit=st.none() | st.integers(1, 1000),
        offset=st.none() | st.integers(0, 10**6),
    ),
    st.builds(GetOrder, order_id=order_ids),
)


@given(
    req=api_requests,
    wall_time=wall_times,
    req_id=st.integers(0, 2**31 - 1) | st.text(min_size=1).filter(str.isprintable),
    signed=st.booleans(),
    secret=secrets,
)
def test_trading_requests_round_trip_their_req_param(
    req: ApiRequest, wall_time: float, req_id: int | str, signed: bool, secret: str
) -> None:
    creds = Credentials(key="k", secret=secret) if signed else None
    text = encode_request(req, wall_time=wall_time, req_id=req_id, credentials=creds)
    frame = parse(text)
    payload = cast("dict[str, object]", frame["payload"])
    assert frame["channel"] == req.channel
    assert frame["event"] == "api"
    assert frame["time"] == int(wall_time)
    assert frame.get("id") == (req_id if isinstance(req_id, int) else None)
    assert payload["req_id"] == str(req_id)
    assert payload["req_param"] == req.req_param()
    param_text = compact(payload["req_param"])
    assert f'"req_param":{param_text}' in text
    if signed:
        assert payload["api_key"] == "k"
        assert payload["timestamp"] == str(int(wall_time))
        assert verify_api_sign(
            req.channel,
            param_text,
            str(int(wall_time)),
            signature=payload["signature"],
            secret=secret,
        )
    else:
        assert set(payload) == {"req_id", "req_param"}
