from __future__ import annotations

import json
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio._core._errors import UsageError
from gatetrio._core._requests import (
    API_CHANNELS,
    AmendOrder,
    BatchPlaceOrders,
    CancelAllOrders,
    CancelOrder,
    CancelOrders,
    ChannelSpec,
    GetOrder,
    ListOrders,
    Login,
    PlaceOrder,
    check_contract,
    size_json,
)

BASE: dict[str, object] = {"contract": "BTC_USDT", "size": 1, "price": "100"}


def place(**changes: object) -> PlaceOrder:
    return PlaceOrder(**{**BASE, **changes})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- PlaceOrder


def test_minimal_order() -> None:
    assert place().req_param() == {
        "contract": "BTC_USDT",
        "size": 1,
        "price": "100",
        "tif": "gtc",
    }


def test_every_field_in_table_order() -> None:
    order = place(
        size=Decimal("-1.50"),
        price=Decimal("31503.280"),
        tif="poc",
        text="t-a_b.c-9",
        reduce_only=True,
        iceberg=Decimal("0.5"),
        stp_act="cn",
        market_order_slip_ratio=Decimal("0.03"),
    )
    param = order.req_param()
    assert list(param) == [
        "contract",
        "size",
        "iceberg",
        "price",
        "reduce_only",
        "tif",
        "text",
        "stp_act",
        "market_order_slip_ratio",
    ]
    assert param == {
        "contract": "BTC_USDT",
        "size": "-1.50",  # Decimal sizes are strings, digits kept
        "iceberg": "0.5",
        "price": "31503.280",
        "reduce_only": True,
        "tif": "poc",
        "text": "t-a_b.c-9",
        "stp_act": "cn",
        "market_order_slip_ratio": "0.03",
    }


def test_close_and_auto_size_send_size_zero() -> None:
    assert place(size=0, close=True).req_param() == {
        "contract": "BTC_USDT",
        "size": 0,
        "price": "100",
        "close": True,
        "tif": "gtc",
    }
    assert place(size=0, auto_size="close_short").req_param()["auto_size"] == "close_short"


@pytest.mark.parametrize("tif", ["ioc", "fok"])
def test_market_order(tif: str) -> None:
    assert place(price="0", tif=tif).req_param()["price"] == "0"


def test_exponent_prices_are_sent_plain() -> None:
    assert place(price="1E+2").req_param()["price"] == "100"
    assert place(price=Decimal("1.5E-3")).req_param()["price"] == "0.0015"
    assert place(size=Decimal("1E+1")).req_param()["size"] == "10"


def test_non_ascii_contract_is_accepted() -> None:
    assert place(contract="币安人生_USDT").req_param()["contract"] == "币安人生_USDT"


@pytest.mark.parametrize(
    ("changes", "fix"),
    [
        ({"contract": ""}, "non-empty str such as 'BTC_USDT'"),
        ({"contract": "btc_usdt"}, "pass 'BTC_USDT'"),
        ({"contract": "!all"}, "pass names like"),
        ({"size": 0}, "non-zero: positive to buy"),
        ({"size": Decimal(0)}, "non-zero"),
        ({"size": 1.5}, "Decimal\\('1.5'\\)"),
        ({"size": "1"}, "int number of contracts"),
        ({"size": True}, "int number of contracts"),
        ({"size": Decimal("NaN")}, "finite"),
        ({"size": 1, "close": True}, "size must be 0 with close=True"),
        ({"size": 1, "auto_size": "close_long"}, "size must be 0"),
        ({"size": 0, "close": True, "auto_size": "close_long"}, "pass only one of them"),
        ({"auto_size": "close"}, "close_long, close_short"),
        ({"price": 100.5}, "float loses precision"),
        ({"price": "abc"}, "not a decimal number"),
        ({"price": "-1"}, ">= 0"),
        ({"price": "Infinity"}, "finite"),
        ({"price": "0"}, "tif='ioc' or tif='fok'"),
        ({"price": "0", "tif": "poc"}, "market order"),
        ({"tif": "GTC"}, "lower case: 'gtc'"),
        ({"tif": "day"}, "gtc, ioc, poc, fok"),
        ({"text": "my-order"}, "'t-' followed by 1-28"),
        ({"text": "t-"}, "1-28 characters"),
        ({"text": "t-" + "x" * 29}, "1-28 characters"),
        ({"text": "t-a b"}, "\\[0-9A-Za-z_.-\\]"),
        ({"text": "t-ü"}, "\\[0-9A-Za-z_.-\\]"),
        ({"reduce_only": 1}, "True or False"),
        ({"close": "yes"}, "True or False"),
        ({"iceberg": -1}, "iceberg is a visible size"),
        ({"stp_act": "xx"}, "cn, co, cb"),
        ({"market_order_slip_ratio": "-0.1"}, ">= 0"),
        ({"market_order_slip_ratio": 0.03}, "float loses precision"),
    ],
)
def test_bad_orders(changes: dict[str, object], fix: str) -> None:
    with pytest.raises(UsageError, match=fix):
        place(**changes)


def test_text_limit_is_28_characters_after_prefix() -> None:
    assert place(text="t-" + "x" * 28).text == "t-" + "x" * 28


# --------------------------------------------------------------------------- other requests


def test_channels_and_login() -> None:
    assert Login().req_param() is None
    assert {
        "futures.login",
        "futures.order_place",
        "futures.order_batch_place",
        "futures.order_cancel",
        "futures.order_cancel_ids",
        "futures.order_cancel_cp",
        "futures.order_amend",
        "futures.order_list",
        "futures.order_status",
    } == API_CHANNELS


def test_batch_accepts_any_iterable_and_keeps_order() -> None:
    orders = [place(text=f"t-{i}") for i in range(10)]
    batch = BatchPlaceOrders(orders=iter(orders))
    assert batch.orders == tuple(orders)
    assert batch.req_param() == [order.req_param() for order in orders]


@pytest.mark.parametrize(
    ("orders", "fix"),
    [
        ([], "1 to 10 orders, got 0"),
        ([place()] * 11, "1 to 10 orders, got 11; split"),
        ([BASE], "PlaceOrder instances"),
        (place(), "a list of PlaceOrder"),
        (None, "a list of PlaceOrder"),
    ],
)
def test_bad_batches(orders: object, fix: str) -> None:
    with pytest.raises(UsageError, match=fix):
        BatchPlaceOrders(orders=orders)  # type: ignore[arg-type]


@pytest.mark.parametrize("factory", [CancelOrder, GetOrder])
def test_single_order_ids(factory: type[CancelOrder | GetOrder]) -> None:
    assert factory(order_id=58828270140012048).req_param() == {"order_id": "58828270140012048"}
    assert factory(order_id="t-abc").req_param() == {"order_id": "t-abc"}


@pytest.mark.parametrize(
    "order_id",
    [0, -5, True, "", "1 2", None, 1.0, "abc", "0", "000", "-1", "t-", "t-a b", "\uff11\uff12"],
)
@pytest.mark.parametrize("factory", [CancelOrder, GetOrder])
def test_bad_order_ids(factory: type[CancelOrder | GetOrder], order_id: object) -> None:
    with pytest.raises(UsageError, match="order_id must be"):
        factory(order_id=order_id)  # type: ignore[arg-type]


def test_cancel_orders() -> None:
    ids = [str(i) for i in range(1, 21)]
    assert CancelOrders(order_ids=ids).req_param() == ids


@pytest.mark.parametrize(
    ("order_ids", "fix"),
    [
        ([], "1 to 20 ids, got 0"),
        ([str(i) for i in range(1, 22)], "1 to 20 ids, got 21; split"),
        (["1", 1], "duplicates"),
        ("123", "a list of order ids"),
        (123, "a list of order ids"),
        ([0], "each of order_ids must be a positive"),
    ],
)
def test_bad_cancel_orders(order_ids: object, fix: str) -> None:
    with pytest.raises(UsageError, match=fix):
        CancelOrders(order_ids=order_ids)  # type: ignore[arg-type]


def test_cancel_all() -> None:
    assert CancelAllOrders(contract="BTC_USDT").req_param() == {"contract": "BTC_USDT"}
    with pytest.raises(UsageError, match="bid, ask"):
        CancelAllOrders(contract="BTC_USDT", side="buy")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="upper case"):
        CancelAllOrders(contract="btc_usdt")


def test_amend() -> None:
    assert AmendOrder(order_id=1, size=-3).req_param() == {"order_id": "1", "size": -3}
    assert AmendOrder(order_id=1, price="1e1").req_param() == {"order_id": "1", "price": "10"}


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({}, "changes nothing: pass price=..., size=..."),
        ({"amend_text": "x"}, "changes nothing"),
        ({"size": 0}, "use CancelOrder"),
        ({"price": "-1"}, ">= 0"),
        ({"price": "1", "amend_text": ""}, "non-empty str"),
    ],
)
def test_bad_amends(kwargs: dict[str, object], fix: str) -> None:
    with pytest.raises(UsageError, match=fix):
        AmendOrder(order_id=1, **kwargs)  # type: ignore[arg-type]


def test_list_orders() -> None:
    assert ListOrders(status="finished").req_param() == {"status": "finished"}


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"status": "closed"}, "open, finished"),
        ({"status": "open", "limit": 0}, "1 to 1000"),
        ({"status": "open", "limit": 1001}, "1 to 1000"),
        ({"status": "open", "limit": True}, "1 to 1000"),
        ({"status": "open", "offset": -1}, ">= 0"),
        ({"status": "open", "contract": "BTCUSDT"}, "BASE_QUOTE"),
        ({"status": "open", "last_id": ""}, "last_id must be"),
    ],
)
def test_bad_list_orders(kwargs: dict[str, object], fix: str) -> None:
    with pytest.raises(UsageError, match=fix):
        ListOrders(**kwargs)  # type: ignore[arg-type]


def test_requests_are_frozen() -> None:
    order = place()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        order.size = 2  # type: ignore[misc]


def test_channel_spec_keeps_its_fields() -> None:
    spec: ChannelSpec[object] = ChannelSpec(
        channel="futures.trades", payloads=(("A_B",),), keys=frozenset({"A_B"})
    )
    assert (spec.private, spec.batched) == (False, False)


# --------------------------------------------------------------------------- contract names


@pytest.mark.parametrize(
    "name",
    ["BTC_USDT", "BTC_USD", "BTC_USD1", "BTC_USDT_20260327", "币安人生_USDT", "1000PEPE_USDT"],
)
def test_valid_contracts(name: str) -> None:
    assert check_contract(name) == name


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("", "non-empty str"),
        (None, "non-empty str"),
        ("BTC USDT", "whitespace"),
        (" BTC_USDT", "whitespace"),
        ("BTC_USDT\n", "whitespace"),
        ("BTC_USDT\u3000", "whitespace"),
        ("BTCUSDT", "BASE_QUOTE"),
        ("eth_usdt", "pass 'ETH_USDT'"),
        ("!all", "with no contracts for every contract"),
    ],
)
def test_invalid_contracts(name: object, fix: str) -> None:
    with pytest.raises(UsageError, match=fix):
        check_contract(name)


# --------------------------------------------------------------------------- properties

sizes = st.integers(-(10**12), 10**12).filter(bool) | st.decimals(
    allow_nan=False, allow_infinity=False
).filter(bool)


@given(size=sizes, price=st.decimals(min_value=0, allow_nan=False, allow_infinity=False))
def test_sizes_and_prices_keep_their_value(size: int | Decimal, price: Decimal) -> None:
    param = place(size=size, price=price, tif="ioc").req_param()
    sent_size = param["size"]
    if isinstance(size, int):
        assert sent_size == size
    else:
        assert isinstance(sent_size, str)
        assert "E" not in sent_size.upper()  # plain decimal text, never exponent form
        assert Decimal(sent_size) == size
    assert isinstance(param["price"], str)
    assert Decimal(param["price"]) == price
    assert json.loads(json.dumps(param)) == param
    assert size_json(size) == sent_size
