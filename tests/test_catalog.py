"""The channel catalogue (`_core/_catalog.py`) is the one list of channels; the rest derives.

- the static unions `DataEvent` and `Item` (typing cannot compute them) equal the catalogue;
- each row is self-consistent: its frame classes carry its name, its item class is what the
  frame's `result` holds;
- every row has a builder in `gatetrio.channels` that agrees with the row (private, batched,
  payload shape, allowed options), a routing key that works on every item, a decoder path, and
  its place in the CLI's lists;
- the fake exchange's own table of private channels (independent on purpose) agrees.
"""

from __future__ import annotations

import json
import typing
from collections import Counter
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatetrio import channels
from gatetrio._cli._channel_args import PRIVATE_CHANNELS, PUBLIC_CHANNELS, channel_spec
from gatetrio._core import _decode, _reference_decode
from gatetrio._core._catalog import CATALOG, CHANNELS, ROUTING_KEYS, Channel, Route
from gatetrio._core._decode import ROUTED_CHANNELS, decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._errors import ProtocolError, UsageError
from gatetrio._core._events import DATA_EVENT_TYPES, DataEvent, Item, record_fields
from gatetrio._core._protocol import Delivery, GateProtocol
from gatetrio._core._requests import ALL, WILDCARD, ChannelSpec
from gatetrio.testing import _subscriptions

from . import strategies
from .helpers import DOCS_CREDS

ROUTES: list[tuple[Channel, Route]] = [(row, route) for row in CATALOG for route in row.routes]
ROUTE_IDS = [route.frame.__name__ for _, route in ROUTES]
ROW_IDS = [row.short for row in CATALOG]
BTC = "BTC_USDT"
UID = "20011"


def sample_spec(row: Channel) -> ChannelSpec[Any]:
    """The row's builder called with the least it needs (one contract, or a user id)."""
    builder = getattr(channels, row.short)
    if row.payload in {"user_contract", "user"}:
        return builder(UID)  # type: ignore[no-any-return]
    if row.payload == "target":
        return builder()  # type: ignore[no-any-return]
    return builder(BTC)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------- unions = catalogue


def test_data_event_union_is_exactly_the_catalogues_frames() -> None:
    frames = [route.frame for _, route in ROUTES]
    assert len(frames) == len(set(frames))  # no frame class in two rows
    assert set(frames) == set(typing.get_args(DataEvent))
    assert len(typing.get_args(DataEvent)) == len(frames)


def test_item_union_is_exactly_the_catalogues_items() -> None:
    items = [route.item for _, route in ROUTES]
    assert len(items) == len(set(items))
    assert set(items) == set(typing.get_args(Item))


def test_data_event_types_agree_with_the_catalogue() -> None:
    assert {name: set(classes) for name, classes in DATA_EVENT_TYPES.items()} == {
        row.name: {route.frame for route in row.routes} for row in CATALOG
    }


def test_channel_names_are_unique() -> None:
    assert [name for name, n in Counter(row.name for row in CATALOG).items() if n > 1] == []
    assert list(CHANNELS) == [row.name for row in CATALOG]


@pytest.mark.parametrize(("row", "route"), ROUTES, ids=ROUTE_IDS)
def test_route_frame_carries_the_channel_and_holds_the_item(row: Channel, route: Route) -> None:
    assert route.frame.__struct_config__.tag == row.name
    assert row.name.startswith("futures.")
    result = record_fields(route.frame)[0]
    assert result.name == "result"
    assert result.annotation in {route.item.__name__, f"tuple[{route.item.__name__}, ...]"}


def test_shape_switching_channels_have_one_frame_per_shape() -> None:
    # The reference decoder picks among a row's frames by the shape of `result`.
    for row in CATALOG:
        shapes = [record_fields(r.frame)[0].annotation.startswith("tuple[") for r in row.routes]
        assert len(shapes) == len(set(shapes)), row.name
        assert len(row.routes) == 1 or not row.typed_decode, row.name  # msgspec: one per tag


# ------------------------------------------------------------------------------- builders


def test_every_row_has_a_builder_and_every_builder_a_row() -> None:
    builders = {
        name for name in channels.__all__ if callable(getattr(channels, name)) and name[0].islower()
    }
    assert builders == {row.short for row in CATALOG}


@pytest.mark.parametrize("row", CATALOG, ids=ROW_IDS)
def test_builder_agrees_with_its_row(row: Channel) -> None:
    spec = sample_spec(row)
    assert spec.channel == row.name
    assert spec.private == row.private
    assert spec.batched == row.batched
    (payload,) = spec.payloads
    match row.payload:
        case "contracts":
            assert payload in {(BTC,), (ALL,)}
        case "streams":
            assert payload == (f"ob.{BTC}.{row.options['level'][0]}",)
        case "positional":
            assert BTC in payload or any(p.endswith(BTC) for p in payload)
        case "user_contract":
            assert payload == (UID, ALL)
        case "user":
            assert payload == (UID,)
        case "target":
            assert payload == (ALL,)
        case _:
            typing.assert_never(row.payload)


@pytest.mark.parametrize("row", [r for r in CATALOG if r.payload == "contracts"], ids=str)
def test_list_builders_take_all_exactly_when_the_row_says(row: Channel) -> None:
    builder = getattr(channels, row.short)
    if row.allow_all:
        assert builder().payloads == ((ALL,),)
        assert builder().keys == {WILDCARD}
    else:
        with pytest.raises(UsageError, match="'BTC_USDT'"):
            builder()
        with pytest.raises(UsageError, match="no '!all' form"):
            builder(ALL)


# Options valid only together with another (20 ms updates exist only at level 20).
COMPANIONS: dict[tuple[str, str, str], dict[str, str]] = {
    ("futures.order_book_update", "frequency", "20ms"): {"level": "20"},
}
OPTIONS = [
    (row, option, value)
    for row in CATALOG
    for option, values in row.options.items()
    for value in values
]


@pytest.mark.parametrize(
    ("row", "option", "value"), OPTIONS, ids=[f"{r.short}-{o}-{v}" for r, o, v in OPTIONS]
)
def test_builders_accept_every_option_value_of_their_row(
    row: Channel, option: str, value: str
) -> None:
    extra = COMPANIONS.get((row.name, option, value), {})
    spec = getattr(channels, row.short)(BTC, **{option: value}, **extra)
    (payload,) = spec.payloads
    if option != "price":
        assert any(value in element for element in payload)


@pytest.mark.parametrize(
    ("row", "option"),
    [(row, option) for row in CATALOG for option in row.options],
    ids=[f"{row.short}-{option}" for row in CATALOG for option in row.options],
)
def test_builders_refuse_option_values_outside_their_row(row: Channel, option: str) -> None:
    with pytest.raises(UsageError, match=f"{row.short} {option} must be|price must be"):
        getattr(channels, row.short)(BTC, **{option: "7w"})


def test_intervals_are_written_once() -> None:
    assert CHANNELS["futures.candlesticks"].options["interval"] is channels.CANDLESTICK_INTERVALS
    assert (
        CHANNELS["futures.contract_stats"].options["interval"] is channels.CONTRACT_STATS_INTERVALS
    )


# ---------------------------------------------------------------------------- routing keys


def test_every_frame_has_a_routing_key() -> None:
    assert set(ROUTING_KEYS) == {route.frame for _, route in ROUTES}


@st.composite
def route_events(draw: st.DrawFn) -> tuple[Channel, DataEvent]:
    row, route = draw(st.sampled_from(ROUTES))
    event: DataEvent = draw(strategies.EVENT_STRATEGIES[route.frame])
    return row, event


def items_of(event: DataEvent) -> tuple[Any, ...]:
    return event.result if isinstance(event.result, tuple) else (event.result,)


@settings(max_examples=200)
@given(route_events())
def test_routing_keys_work_on_every_item_of_their_frame(drawn: tuple[Channel, DataEvent]) -> None:
    _, event = drawn
    for item in items_of(event):
        key = ROUTING_KEYS[type(event)](item)
        assert key is None or isinstance(key, str)


def acked(proto: GateProtocol, spec: ChannelSpec[Any]) -> int:
    sub_id, frames = proto.subscribe(spec, wall_time=1_786_540_578.0)
    for frame in frames:
        sent = json.loads(frame)
        reply = {
            "id": sent["id"],
            "channel": sent["channel"],
            "event": "subscribe",
            "payload": sent["payload"],
            "result": {"status": "success"},
        }
        proto.receive_text(json.dumps(reply), now=0.0)
    assert proto.is_ready(sub_id)
    return sub_id


@settings(max_examples=200)
@given(route_events())
def test_builder_specs_receive_exactly_the_items_their_keys_select(
    drawn: tuple[Channel, DataEvent],
) -> None:
    row, event = drawn
    spec = sample_spec(row)
    proto = GateProtocol(
        ping_interval=5.0,
        pong_timeout=3.0,
        credentials=DOCS_CREDS,
    )
    proto.on_connected(0.0, wall_time=1_786_540_578.0)
    sub_id = acked(proto, spec)
    outputs = proto.receive_text(encode_event(event), now=0.0)
    got = [out.item for out in outputs if isinstance(out, Delivery) and out.sub_id == sub_id]
    key = ROUTING_KEYS[type(event)]
    wanted = [
        item
        for item in items_of(event)
        if WILDCARD in spec.keys or key(item) is None or key(item) in spec.keys
    ]
    assert got == wanted


# -------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("row", CATALOG, ids=ROW_IDS)
def test_every_row_has_a_decoder_path(row: Channel) -> None:
    assert row.name in _reference_decode._DATA_BUILDERS
    assert (row.name in ROUTED_CHANNELS) == row.typed_decode
    for route in row.routes:
        if route.frame.__name__ != "TickersUpdate":  # decoded as wire text, then wrapped
            assert (route.frame in _decode._FINISH) == row.typed_decode


@settings(max_examples=200)
@given(route_events())
def test_every_frame_of_the_catalogue_round_trips(drawn: tuple[Channel, DataEvent]) -> None:
    _, event = drawn
    decoded = decode_message(encode_event(event))
    assert type(decoded) is type(event)
    assert decoded == event


LIST_ROUTES = [
    (row, route)
    for row, route in ROUTES
    if len(row.routes) == 1 and record_fields(route.frame)[0].annotation.startswith("tuple[")
]


@settings(max_examples=20)
@given(data=st.data())
@pytest.mark.parametrize(
    ("row", "route"), LIST_ROUTES, ids=[route.frame.__name__ for _, route in LIST_ROUTES]
)
def test_a_lone_result_object_is_a_one_item_list_only_where_the_row_says(
    row: Channel, route: Route, data: st.DataObject
) -> None:
    one_item = strategies.EVENT_STRATEGIES[route.frame].filter(lambda ev: len(ev.result) == 1)
    event: DataEvent = data.draw(one_item)
    # Raw JSON, so that numbers keep their exact text: `[item]` becomes `item`.
    frame = msgspec.json.decode(encode_event(event), type=dict[str, msgspec.Raw])
    listed = bytes(frame["result"]).strip()
    assert listed[:1] + listed[-1:] == b"[]"
    frame["result"] = msgspec.Raw(listed[1:-1])
    text = msgspec.json.encode(frame)
    if row.lone_object:
        assert decode_message(text) == event
    else:
        with pytest.raises(ProtocolError):
            decode_message(text)


# ------------------------------------------------------------------------------------- CLI


def test_cli_streams_exactly_the_public_rows() -> None:
    assert list(PUBLIC_CHANNELS) == [row.short for row in CATALOG if not row.private]
    assert frozenset(PRIVATE_CHANNELS) == {row.short for row in CATALOG if row.private}
    for name, builder in PUBLIC_CHANNELS.items():
        assert builder is getattr(channels, name)


@pytest.mark.parametrize("row", CATALOG, ids=ROW_IDS)
def test_cli_builds_every_row(row: Channel) -> None:
    if row.private:
        # the user id comes from the environment (GATE_USER_ID), not the command line; without
        # it the client learns it when it subscribes
        assert channel_spec(row.name, [], user_id=UID) == sample_spec(row)
        if row.payload != "target":
            learned = channel_spec(row.name, [])
            assert learned.learns_user_id
            assert learned.with_user_id(UID) == sample_spec(row)
    else:
        assert channel_spec(row.name, [BTC]) == sample_spec(row)


# ---------------------------------------------------------------------------- the fake's view


def test_the_fakes_own_private_table_agrees() -> None:
    # The fake keeps independent tables on purpose; they must still say the same thing.
    assert {row.name for row in CATALOG if row.private} == _subscriptions.PRIVATE_CHANNELS


def test_records_are_msgspec_structs() -> None:
    # The catalogue's key functions and the decoders rely on item records being Structs
    # (Ticker aside: a facade over one).
    for _, route in ROUTES:
        assert issubclass(route.frame, msgspec.Struct)
        assert route.item.__name__ == "Ticker" or issubclass(route.item, msgspec.Struct)
