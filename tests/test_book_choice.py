"""Book facts once, in the catalogue (issue 18.2): which streams each book channel has, which
endpoints serve obu, and the NATS bus's table, all derived from `_core/_catalog.py`."""

from __future__ import annotations

import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio import channels
from gatetrio._core._book import choose_depth, choose_method
from gatetrio._core._catalog import CATALOG, CHANNELS, Depth
from gatetrio._core._config import Endpoint, parse_endpoint
from gatetrio._core._errors import UsageError
from gatetrio.nats import _wire


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("wss://fx-ws.gateio.ws/v4/ws/usdt", "usdt"),
        ("wss://fx-ws.gateio.ws/v4/ws/usd1/", "usd1"),
        ("wss://ws-testnet.gate.com/v4/ws/futures/usdt", "usdt"),
        ("wss://fx-ws.gateio.ws/v4/ws/delivery/btc", "delivery/btc"),
        ("wss://fx-ws.gateio.ws/v4/ws", "legacy"),
        ("ws://127.0.0.1:9/v4/ws/BTC", "btc"),
    ],
)
def test_endpoints_by_path(url: str, key: str) -> None:
    assert parse_endpoint(url).key == key
    assert Endpoint("btc", legacy=True).settle == "btc"


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("wss://ws-testnet.gate.com/v4/ws/futures/usdt", "obu"),
        ("ws://127.0.0.1:9/v4/ws/btc", "obu"),
        ("ws://127.0.0.1:9/v4/ws/delivery/usdt", "order_book_update"),
        ("ws://127.0.0.1:9/v4/ws", "order_book_update"),
    ],
)
def test_auto_picks_obu_where_the_catalogue_says(url: str, method: str) -> None:
    assert choose_method(url, "auto") == method
    assert choose_method(url, "order_book_update") == "order_book_update"
    with pytest.raises(UsageError, match="method must be"):
        choose_method(url, "fast")  # type: ignore[arg-type]


@given(depth=st.integers(1, 400))
def test_the_shallowest_deep_enough_fastest_stream(depth: int) -> None:
    obu = choose_depth("obu", depth)
    assert (obu.level, obu.interval) == (("50", "20ms") if depth <= 50 else ("400", "100ms"))
    if depth > 100:
        with pytest.raises(UsageError, match="at most 100 levels"):
            choose_depth("order_book_update", depth)
        return
    update = choose_depth("order_book_update", depth)
    expected = {20: ("20", "20ms"), 50: ("50", "100ms"), 100: ("100", "100ms")}
    bound = min(b for b in expected if depth <= b)
    assert (update.level, update.interval) == expected[bound]


@pytest.mark.parametrize("depth", [0, -1, 401, 1.5, True, "20"])
def test_bad_depths_say_what_to_pass(depth: object) -> None:
    with pytest.raises(UsageError):
        choose_depth("obu", depth)  # type: ignore[arg-type]


def test_depths_and_options_agree() -> None:
    for row in CATALOG:
        if not row.depths:
            continue
        assert {d.level for d in row.depths} == set(row.options["level"])
        if "frequency" in row.options:
            assert {d.interval for d in row.depths} == set(row.options["frequency"])
    # the builder refuses the combinations the catalogue lacks, with what to pass instead
    with pytest.raises(
        UsageError, match=r"only supports level '20'.*level='20' or frequency='100ms'"
    ):
        channels.order_book_update("BTC_USDT", "20ms", "50")
    for depth in CHANNELS["futures.order_book_update"].depths:
        channels.order_book_update("BTC_USDT", depth.interval, depth.level)
    assert Depth("20", "20ms").interval_ms == 20


def test_the_bus_publishes_exactly_the_public_items_the_catalogue_streams() -> None:
    published = {
        route.item
        for row in CATALOG
        if not row.private
        for route in row.routes
        if route.stream is not None
    }
    assert published == set(typing.get_args(_wire.BusItem))
    assert set(_wire._PUBLISHED) == published
    private = {route.item for row in CATALOG if row.private for route in row.routes}
    assert not private & published
