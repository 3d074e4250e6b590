from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio import channels
from gatetrio._core._errors import UsageError
from gatetrio._core._requests import WILDCARD, ChannelSpec

W = WILDCARD


def spec(
    channel: str,
    payload: tuple[str, ...],
    keys: set[str],
    *,
    private: bool = False,
    batched: bool = False,
) -> ChannelSpec[object]:
    return ChannelSpec(
        channel=f"futures.{channel}",
        payloads=(payload,),
        keys=frozenset(keys),
        private=private,
        batched=batched,
    )


BTC, ETH = "BTC_USDT", "ETH_USDT"


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        # public list channels: one payload of independent targets
        (channels.tickers(BTC, ETH), spec("tickers", (BTC, ETH), {BTC, ETH}, batched=True)),
        (channels.trades(BTC), spec("trades", (BTC,), {BTC}, batched=True)),
        (channels.book_ticker(ETH), spec("book_ticker", (ETH,), {ETH}, batched=True)),
        (
            channels.trades("币安人生_USDT"),
            spec("trades", ("币安人生_USDT",), {"币安人生_USDT"}, batched=True),
        ),
        (
            channels.obu(BTC, ETH),  # level 50 by default, as every book
            spec(
                "obu",
                ("ob.BTC_USDT.50", "ob.ETH_USDT.50"),
                {"ob.BTC_USDT.50", "ob.ETH_USDT.50"},
                batched=True,
            ),
        ),
        (
            channels.obu(BTC, ETH, level=400),
            spec(
                "obu",
                ("ob.BTC_USDT.400", "ob.ETH_USDT.400"),
                {"ob.BTC_USDT.400", "ob.ETH_USDT.400"},
                batched=True,
            ),
        ),
        (
            channels.obu(BTC, level=50),
            spec("obu", ("ob.BTC_USDT.50",), {"ob.BTC_USDT.50"}, batched=True),
        ),
        (
            channels.obu(BTC, level="50"),
            spec("obu", ("ob.BTC_USDT.50",), {"ob.BTC_USDT.50"}, batched=True),
        ),
        (channels.public_liquidates(), spec("public_liquidates", ("!all",), {W}, batched=True)),
        (
            channels.public_liquidates("!all"),
            spec("public_liquidates", ("!all",), {W}, batched=True),
        ),
        (channels.public_liquidates(BTC), spec("public_liquidates", (BTC,), {BTC}, batched=True)),
        (channels.contract_info(), spec("contract_info", ("!all",), {W}, batched=True)),
        (
            channels.contract_info(BTC, ETH),
            spec("contract_info", (BTC, ETH), {BTC, ETH}, batched=True),
        ),
        (channels.adl_warning(), spec("adl_warning", ("!all",), {W}, batched=True)),
        (channels.adl_warning(ETH), spec("adl_warning", (ETH,), {ETH}, batched=True)),
        # public positional channels: one payload per contract
        (channels.order_book(BTC), spec("order_book", (BTC, "20", "0"), {BTC})),
        (channels.order_book(BTC, limit=100), spec("order_book", (BTC, "100", "0"), {BTC})),
        (channels.order_book_update(BTC), spec("order_book_update", (BTC, "100ms", "100"), {BTC})),
        (
            channels.order_book_update(BTC, "20ms", 20),
            spec("order_book_update", (BTC, "20ms", "20"), {BTC}),
        ),
        (
            channels.order_book_update(BTC, level="50"),
            spec("order_book_update", (BTC, "100ms", "50"), {BTC}),
        ),
        (channels.candlesticks(BTC), spec("candlesticks", ("1m", BTC), {"1m_BTC_USDT"})),
        (
            channels.candlesticks(BTC, "10s", price="mark"),
            spec("candlesticks", ("10s", "mark_BTC_USDT"), {"10s_mark_BTC_USDT"}),
        ),
        (
            channels.candlesticks(ETH, "7d", price="index"),
            spec("candlesticks", ("7d", "index_ETH_USDT"), {"7d_index_ETH_USDT"}),
        ),
        (channels.contract_stats(BTC), spec("contract_stats", (BTC, "1m"), {BTC})),
        (channels.contract_stats(BTC, "3d"), spec("contract_stats", (BTC, "3d"), {BTC})),
        # private [user_id, contract] channels
        (channels.orders("20011"), spec("orders", ("20011", "!all"), {W}, private=True)),
        (channels.orders(20011, BTC), spec("orders", ("20011", BTC), {BTC}, private=True)),
        (channels.usertrades("1", BTC), spec("usertrades", ("1", BTC), {BTC}, private=True)),
        (channels.liquidates("1"), spec("liquidates", ("1", "!all"), {W}, private=True)),
        (
            channels.auto_deleverages("1"),
            spec("auto_deleverages", ("1", "!all"), {W}, private=True),
        ),
        (
            channels.position_closes("1", ETH),
            spec("position_closes", ("1", ETH), {ETH}, private=True),
        ),
        (
            channels.reduce_risk_limits("1"),
            spec("reduce_risk_limits", ("1", "!all"), {W}, private=True),
        ),
        (channels.positions("1", BTC), spec("positions", ("1", BTC), {BTC}, private=True)),
        (channels.autoorders("1"), spec("autoorders", ("1", "!all"), {W}, private=True)),
        (channels.balances("15564602"), spec("balances", ("15564602",), {W}, private=True)),
        (channels.position_adl_rank(), spec("position_adl_rank", ("!all",), {W}, private=True)),
        (channels.position_adl_rank(BTC), spec("position_adl_rank", (BTC,), {BTC}, private=True)),
    ],
)
def test_builders(built: ChannelSpec[object], expected: ChannelSpec[object]) -> None:
    assert built == expected


def test_every_builder_is_covered() -> None:
    builders = {
        name for name in channels.__all__ if callable(getattr(channels, name)) and name[0].islower()
    }
    assert builders == {
        "tickers", "trades", "book_ticker", "order_book", "order_book_update", "obu",
        "candlesticks", "public_liquidates", "contract_stats", "contract_info", "adl_warning",
        "orders", "usertrades", "liquidates", "auto_deleverages", "position_closes",
        "reduce_risk_limits", "positions", "balances", "position_adl_rank", "autoorders",
    }  # fmt: skip


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(channels).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == channels.__name__
    }
    assert public <= set(channels.__all__)
    assert len(set(channels.__all__)) == len(channels.__all__)
    for name in channels.__all__:
        assert hasattr(channels, name)


@pytest.mark.parametrize("interval", channels.CANDLESTICK_INTERVALS)
def test_every_candle_interval(interval: str) -> None:
    assert channels.candlesticks(BTC, interval).payloads == ((interval, BTC),)


@pytest.mark.parametrize("interval", channels.CONTRACT_STATS_INTERVALS)
def test_every_stats_interval(interval: str) -> None:
    assert channels.contract_stats(BTC, interval).payloads == ((BTC, interval),)


@pytest.mark.parametrize("limit", ["100", "50", "20", "10", "5", "1", 5])
def test_every_order_book_limit(limit: str | int) -> None:
    assert channels.order_book(BTC, limit).payloads == ((BTC, str(limit), "0"),)


Builder = Callable[..., ChannelSpec[object]]


@pytest.mark.parametrize(
    ("builder", "args", "kwargs", "fix"),
    [
        (channels.trades, (), {}, "at least one contract"),
        (channels.tickers, (), {}, "at least one contract"),
        (channels.book_ticker, ("",), {}, "non-empty str such as 'BTC_USDT'"),
        (channels.trades, (BTC, BTC), {}, "listed twice; pass each contract once"),
        (channels.trades, ("!all",), {}, "no '!all' form; list the contracts"),
        (channels.tickers, ("btc_usdt",), {}, "pass 'BTC_USDT'"),
        (channels.tickers, ("BTC_USDT ",), {}, "whitespace"),
        (channels.tickers, ("BTCUSDT",), {}, "BASE_QUOTE"),
        (channels.tickers, (["BTC_USDT"],), {}, "non-empty str"),
        (channels.public_liquidates, ("!all", BTC), {}, "cannot be mixed"),
        (channels.contract_info, (BTC, "!all"), {}, "cannot be mixed"),
        (channels.adl_warning, (ETH, ETH), {}, "listed twice"),
        (channels.obu, (), {}, "at least one contract"),
        (channels.obu, (BTC,), {"level": 100}, "'50', '400'"),
        (channels.obu, (BTC,), {"level": True}, "'50', '400'"),
        (channels.obu, (BTC, BTC), {}, "listed twice"),
        (channels.order_book, (BTC,), {"limit": "25"}, "'100', '50', '20', '10', '5', '1'"),
        (channels.order_book, (BTC,), {"interval": "0.1"}, "interval must be one of '0'"),
        (channels.order_book, ("!all",), {}, "pass names like"),
        (channels.order_book_update, (BTC, "1000ms"), {}, "'100ms', '20ms'"),
        (channels.order_book_update, (BTC, "100ms", "10"), {}, "'100', '50', '20'"),
        (channels.order_book_update, (BTC, "20ms"), {}, "pass level='20' or frequency='100ms'"),
        (channels.order_book_update, (BTC, "20ms", "50"), {}, "only supports level '20'"),
        (channels.candlesticks, (BTC, "3d"), {}, "'10s', '1m'"),
        (channels.candlesticks, (BTC, "1M"), {}, "candlesticks interval"),
        (channels.candlesticks, (BTC,), {"price": "bid"}, "'last', 'mark' or 'index'"),
        (
            channels.candlesticks,
            ("mark_BTC_USDT",),
            {},
            r"candlesticks\('BTC_USDT', price='mark'\)",
        ),
        (channels.candlesticks, ("index_BTC_USDT",), {}, "price='index'"),
        (channels.contract_stats, (BTC, "10s"), {}, "'1m', '5m'"),
        (channels.orders, ("",), {}, "numeric Gate UID"),
        (channels.orders, ("abc",), {}, "numeric Gate UID, e.g. '20011'"),
        (channels.orders, (-1,), {}, "numeric Gate UID"),
        (channels.orders, ("٣",), {}, "numeric Gate UID"),  # a non-ASCII digit
        (channels.usertrades, ("1", "eth_usdt"), {}, "pass 'ETH_USDT'"),
        (channels.positions, ("1", ""), {}, "non-empty str"),
        (channels.balances, (True,), {}, "numeric Gate UID"),
        (channels.position_adl_rank, ("all",), {}, "BASE_QUOTE"),
        (channels.autoorders, (1.5,), {}, "numeric Gate UID"),
    ],
)
def test_bad_arguments(
    builder: Builder, args: tuple[object, ...], kwargs: dict[str, object], fix: str
) -> None:
    with pytest.raises(UsageError, match=fix):
        builder(*args, **kwargs)


contracts = st.from_regex(r"[A-Z0-9]{2,10}_(USDT|USD|BTC)", fullmatch=True)


@given(names=st.lists(contracts, min_size=1, max_size=6, unique=True))
def test_list_channels_route_by_contract(names: list[str]) -> None:
    for builder in (channels.tickers, channels.trades, channels.book_ticker, channels.adl_warning):
        built = builder(*names)
        assert built.payloads == (tuple(names),)
        assert built.keys == frozenset(names)
        assert built.batched
        assert not built.private


@given(
    names=st.lists(contracts, min_size=1, max_size=6, unique=True),
    level=st.sampled_from([400, 50]),
)
def test_obu_keys_are_the_streams(names: list[str], level: int) -> None:
    built = channels.obu(*names, level=level)
    (payload,) = built.payloads
    assert built.keys == frozenset(payload)
    # Gate's obu `s` field splits back into contract and level (spec 6.6)
    assert [s.split(".", 1)[1].rsplit(".", 1) for s in payload] == [[n, str(level)] for n in names]


@given(
    contract=contracts,
    interval=st.sampled_from(channels.CANDLESTICK_INTERVALS),
    price=st.sampled_from(["last", "mark", "index"]),
)
def test_candle_key_is_the_pushed_n_field(contract: str, interval: str, price: str) -> None:
    built = channels.candlesticks(contract, interval, price)  # type: ignore[arg-type]
    (payload,) = built.payloads
    # a push's `n` is "<interval>_<payload contract>"; its split on the first "_" gives them back
    (key,) = built.keys
    assert key.split("_", 1) == list(payload)


def test_a_private_builder_without_a_user_id_leaves_it_to_the_client() -> None:
    for builder in (channels.orders, channels.usertrades, channels.positions, channels.balances):
        spec = builder()
        assert spec.learns_user_id
        assert all(payload[0] == "" for payload in spec.payloads)
        filled = spec.with_user_id("20011")
        assert not filled.learns_user_id
        assert filled == builder("20011")
    assert channels.orders(None, "BTC_USDT").with_user_id("7") == channels.orders("7", "BTC_USDT")
    assert not channels.position_adl_rank().learns_user_id  # it has no user id (spec 7.9)
