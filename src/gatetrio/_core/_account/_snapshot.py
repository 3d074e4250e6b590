"""An account snapshot from Gate's REST API, and the readers of its bodies. Pure.

A snapshot is what `AccountSync.load_snapshot` merges: the open orders
(``GET /futures/{settle}/orders?status=open``), the latest finished ones (``status=finished``,
so an order that finished unseen gets its real end), the positions (``/positions``), the
account (``/accounts``: the balance and the user id) and, after the first, the trades since the
previous one (``/my_trades_timerange``). `as_of_ms` is when the server took the requests: Gate's
``X-In-Time`` answer header (microseconds), or the local wall time they were sent.

Orders are read by `_results.read_order`, as the trading API's results are. The readers here
turn the JSON the REST helper returns (`json.loads` values: non-integer numbers as
float, read back exactly from their shortest text) into the records pushes carry, in the
pushes' conventions: REST positions say `update_time` in seconds where position pushes say
`time` and `time_ms`; trades say `create_time` as float seconds and their id as `id` (an int)
or `trade_id` (a string). Anything they cannot read raises `ProtocolError`.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import attrs

from gatetrio._core._errors import ProtocolError
from gatetrio._core._events import Position, UserTrade, record_fields
from gatetrio._core._json_values import MS_THRESHOLD, json_list, json_ms, json_number, json_object
from gatetrio._core._reference_decode import build_record

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gatetrio._core._events import Order

_US_THRESHOLD: Final = 100_000_000_000_000  # 1e14: as us, 1973; as ms, year 5138
_POSITION_FIELDS: Final = frozenset(f.name for f in record_fields(Position))
_TRADE_FIELDS: Final = frozenset(f.name for f in record_fields(UserTrade))


@typing.final
@attrs.frozen(kw_only=True)
class AccountSnapshot:
    """The account as Gate's REST API showed it at `as_of_ms` (unix ms, the server's clock)."""

    as_of_ms: int
    """When the server received the requests (``X-In-Time``), or the local time they left."""
    orders: tuple[Order, ...]
    """The open orders."""
    positions: tuple[Position, ...]
    balance: Decimal
    """The settle currency's total (REST ``total``; pushes call it ``balance``)."""
    currency: str = ""
    user_id: str = ""
    finished: tuple[Order, ...] = ()
    """Finished orders: the latest ones, and any looked up by id."""
    trades: tuple[UserTrade, ...] = ()
    """The account's trades since shortly before the previous snapshot (or this one)."""
    read_by_ms: int = 0
    """When the server had answered (``X-Out-Time``), or the local time the answers came; the
    server read the account between `as_of_ms` and this (0: at `as_of_ms`)."""


def _fields(raw: Mapping[str, object], names: frozenset[str]) -> dict[str, object]:
    """The record's fields of a REST object, floats exact (from their shortest text)."""
    return {
        name: Decimal(repr(value)) if type(value) is float else value
        for name, value in raw.items()
        if name in names
    }


def read_position(value: object, what: str = "position") -> Position:
    """A `Position` from a ``GET /positions`` entry, in the push's conventions."""
    raw = json_object(value, what)
    fields = _fields(raw, _POSITION_FIELDS)
    if raw.get("update_time") is not None and "time_ms" not in raw:
        ms = json_ms(raw["update_time"], f"{what}.update_time")
        fields["time"], fields["time_ms"] = ms // 1000, ms
    if type(fields.get("user")) is int:
        fields["user"] = str(fields["user"])
    for name in ("liq_price", "lever", "leverage"):
        if fields.get(name) == "":
            fields[name] = None
    position: Position = build_record(Position, fields, what)
    return position


def read_positions(value: object) -> tuple[Position, ...]:
    return tuple(
        read_position(item, f"positions[{i}]")
        for i, item in enumerate(json_list(value, "positions"))
    )


@typing.final
@attrs.frozen
class FuturesAccount:
    """What an account snapshot takes from ``GET /futures/{settle}/accounts``."""

    total: Decimal
    currency: str
    user_id: str


def read_account(value: object) -> FuturesAccount:
    """``GET /accounts``: `total`, `currency` and `user` (an int live; kept as its digits)."""
    raw = json_object(value, "account")
    if "total" not in raw:
        raise ProtocolError("account: no total")
    user = raw.get("user", "")
    if type(user) is int:
        user = str(user)
    if type(user) is not str:
        raise ProtocolError(f"account.user: expected the user id, got {user!r:.40}")
    currency = raw.get("currency", "")
    if type(currency) is not str:
        raise ProtocolError(f"account.currency: expected text, got {currency!r:.40}")
    return FuturesAccount(json_number(raw["total"], "account.total"), currency.lower(), user)


def read_trade(value: object, what: str = "trade") -> UserTrade:
    """A `UserTrade` from a ``my_trades`` entry (``id``) or a ``my_trades_timerange`` one
    (``trade_id``), in the push's conventions (string ids, int seconds plus milliseconds)."""
    raw = json_object(value, what)
    fields = _fields(raw, _TRADE_FIELDS)
    trade_id = raw.get("trade_id", raw.get("id"))
    if type(trade_id) is int:
        trade_id = str(trade_id)
    if type(trade_id) is not str or not trade_id:
        raise ProtocolError(f"{what}: no trade id: {trade_id!r:.40}")
    fields["id"] = trade_id
    order_id = raw.get("order_id")
    if type(order_id) is int:
        fields["order_id"] = str(order_id)
    if raw.get("create_time") is not None:
        ms = json_ms(raw["create_time"], f"{what}.create_time")
        fields["create_time"], fields["create_time_ms"] = ms // 1000, ms
    for name in ("fee", "point_fee", "close_size"):
        if fields.get(name) == "":
            fields[name] = None
    trade: UserTrade = build_record(UserTrade, fields, what)
    return trade


def read_trades(value: object) -> tuple[UserTrade, ...]:
    return tuple(
        read_trade(item, f"trades[{i}]") for i, item in enumerate(json_list(value, "trades"))
    )


def server_time_ms(headers: Mapping[str, str], fallback_ms: int) -> int:
    """When Gate's gateway took a request, in unix ms: its ``X-In-Time`` header (microseconds),
    else `fallback_ms` (the local wall time the request went out)."""
    text = headers.get("x-in-time", "")
    if text.isascii() and text.isdigit():
        stamp = int(text)
        if stamp >= _US_THRESHOLD:
            return stamp // 1000
        if stamp >= MS_THRESHOLD:
            return stamp
    return fallback_ms
