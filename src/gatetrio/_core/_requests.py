"""Outbound requests: what the client sends. Pure: no trio, no clock reads.

`ChannelSpec` is what `gatetrio.channels.*` builds and `Client.subscribe` takes: one channel, the
payloads to subscribe (positional channels need one subscribe frame per contract), and the routing
keys that select which pushed items belong to it.

Trading-API requests (spec section 8) are frozen records that validate the caller's arguments when
they are built, so a bad order fails at once with a `UsageError` instead of a round trip to Gate.
Each has a class-level `channel` and a `req_param()` giving the JSON value sent as
``payload.req_param``: sizes given as `int` go out as JSON integers, `Decimal` sizes as decimal
strings (the `X-Gate-Size-Decimal` header is on by default), prices always as strings, and fields
left at their default are omitted. `_encode.encode_request` turns them into frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import (
    TYPE_CHECKING,
    ClassVar,
    Final,
    Generic,
    Literal,
    Self,
    TypeAlias,
    TypeVar,
    get_args,
)

import attrs

from ._client_ids import is_client_id
from ._errors import UsageError
from ._request_base import JsonValue, RateGroup, TradingRequest
from ._results import (
    BatchOrderOutcome,
    CancelOutcome,
    LoginResult,
    read_batch,
    read_cancel_outcomes,
    read_login,
    read_order,
    read_orders,
)

if TYPE_CHECKING:
    from ._events import Order

WILDCARD: Final = "*"
"""Routing key meaning "every item of the channel" (payload `!all`, balances, ...)."""

ALL: Final = "!all"
"""Gate's payload element for "every contract"."""

TimeInForce: TypeAlias = Literal["gtc", "ioc", "poc", "fok"]
AutoSize: TypeAlias = Literal["close_long", "close_short"]
StpAction: TypeAlias = Literal["cn", "co", "cb"]
Side: TypeAlias = Literal["bid", "ask"]
OrderStatus: TypeAlias = Literal["open", "finished"]

_TIFS: Final = ("gtc", "ioc", "poc", "fok")
_AUTO_SIZES: Final = ("close_long", "close_short")
_STP_ACTS: Final = ("cn", "co", "cb")
_SIDES: Final = ("bid", "ask")
_STATUSES: Final = ("open", "finished")
MAX_BATCH_ORDERS: Final = 10
MAX_CANCEL_IDS: Final = 20
MAX_LIST_LIMIT: Final = 1000


# --------------------------------------------------------------------------- argument checks
# Shared with gatetrio.channels. Each returns the value to send or raises UsageError saying what
# to pass instead.


def check_contract(contract: object, *, what: str = "contract") -> str:
    """A contract name as Gate spells it: ``BASE_QUOTE`` upper case, non-ASCII letters allowed.

    Rejects what the server would answer with "unknown contract" anyway, but with a message that
    names the fix: empty or non-str values, whitespace or control characters, names without `_`,
    all-lower-case names (``btc_usdt``), and ``!``-prefixed words such as ``!all``.
    """
    if not isinstance(contract, str) or not contract:
        raise UsageError(f"{what} must be a non-empty str such as 'BTC_USDT', got {contract!r}")
    if " " in contract or not contract.isprintable():
        raise UsageError(
            f"{what} {contract!r} contains whitespace or control characters; "
            "pass the bare name, e.g. 'BTC_USDT'"
        )
    if contract.startswith("!"):
        raise UsageError(
            f"{what} {contract!r} is not a contract name; pass names like 'BTC_USDT'"
            + (
                " or call the builder with no contracts for every contract"
                if contract == ALL
                else ""
            )
        )
    if "_" not in contract:
        raise UsageError(
            f"{what} {contract!r} is not a Gate contract name; they look like BASE_QUOTE, "
            "e.g. 'BTC_USDT'"
        )
    # Gate's names are upper case; 'btc_usdt' is a typo the server would reject as unknown.
    # Mixed case and non-ASCII names (币安人生_USDT) pass: only the unambiguous mistake is caught.
    if contract.lower() == contract and contract.upper() != contract:
        raise UsageError(
            f"contract names are upper case: pass {contract.upper()!r}, not {contract!r}"
        )
    return contract


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        kind = "a float loses precision; " if isinstance(value, float) else ""
        raise UsageError(f"{what} must be a str or Decimal ({kind}e.g. '31503.28'), got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise UsageError(
            f"{what} {value!r} is not a decimal number; pass e.g. '31503.28'"
        ) from None
    if not number.is_finite():
        raise UsageError(f"{what} must be a finite number, got {value!r}")
    return number


def _non_negative_decimal(value: object, what: str) -> Decimal:
    number = _decimal(value, what)
    if number < 0:
        raise UsageError(f"{what} must be >= 0, got {value!r}")
    return number


def _non_negative_decimal_text(value: object, what: str) -> str:
    # 'f' keeps the caller's digits ("100.00") but never emits exponent forms ("1E+2" -> "100").
    return format(_non_negative_decimal(value, what), "f")


def _size(value: object, what: str) -> int | Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise UsageError(
            f"{what} must be an int number of contracts or a Decimal (e.g. Decimal('1.5')), "
            f"got {value!r}"
        )
    if isinstance(value, Decimal) and not value.is_finite():
        raise UsageError(f"{what} must be a finite number, got {value!r}")
    return value


def size_json(size: int | Decimal) -> int | str:
    """An order size on the wire: ints stay JSON ints, Decimals become plain decimal strings."""
    return size if isinstance(size, int) else format(size, "f")


def _choice(value: object, choices: tuple[str, ...], what: str) -> str:
    if isinstance(value, str) and value in choices:
        return value
    hint = (
        f" (lower case: {value.lower()!r})"
        if isinstance(value, str) and value.lower() in choices
        else ""
    )
    raise UsageError(f"{what} must be one of {', '.join(choices)}, got {value!r}{hint}")


def _bool(value: object, what: str) -> None:
    if not isinstance(value, bool):
        raise UsageError(f"{what} must be True or False, got {value!r}")


def check_order_id(order_id: object, what: str = "order_id") -> str:
    """An order id as sent: a positive int, or a str of one (its digits) or of the order's
    `t-` text. Anything else Gate could only refuse (or take for another order's): at once."""
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        if order_id <= 0:
            raise UsageError(f"{what} must be a positive order id, got {order_id!r}")
        return str(order_id)
    if isinstance(order_id, str) and (
        (order_id.isascii() and order_id.isdigit() and order_id.strip("0"))
        or is_client_id(order_id)
    ):
        return order_id
    raise UsageError(
        f"{what} must be the order's id (int or str) or its 't-...' text, got {order_id!r}"
    )


# --------------------------------------------------------------------------- subscriptions


ItemT_co = TypeVar("ItemT_co", covariant=True)


@attrs.frozen(kw_only=True)
class ChannelSpec(Generic[ItemT_co]):
    """A subscription target: `channel`, its subscribe `payloads`, and routing `keys`.

    Build these with the functions in `gatetrio.channels`, which validate their arguments.
    The type parameter is the item type the subscription yields (`ChannelSpec[Trade]`).
    """

    channel: str
    payloads: tuple[tuple[str, ...], ...]
    keys: frozenset[str]
    private: bool = False
    # True when each payload element is an independent target (trades: contracts; obu: streams),
    # so overlapping subscriptions can share elements; False for positional payloads.
    batched: bool = False
    # True when the payloads start with the account's user id, not given: `Client.subscribe`
    # puts the one it learned from Gate there (`with_user_id`) before anything is sent.
    learns_user_id: bool = False

    def with_user_id(self, user_id: str) -> ChannelSpec[ItemT_co]:
        """This spec with `user_id` as the first element of every payload."""
        payloads = tuple((user_id, *payload[1:]) for payload in self.payloads)
        return attrs.evolve(self, payloads=payloads, learns_user_id=False)


@attrs.frozen(kw_only=True)
class Subscribe:
    channel: str
    payload: tuple[str, ...]
    private: bool = False


@attrs.frozen(kw_only=True)
class Unsubscribe:
    channel: str
    payload: tuple[str, ...]
    private: bool = False


@attrs.frozen(kw_only=True)
class Ping:
    """Application-level futures.ping."""


# --------------------------------------------------------------------------- trading API


@attrs.frozen(kw_only=True)
class Login(TradingRequest[LoginResult]):
    """``futures.login``: authenticate the connection for the trading API (spec 8.4).

    It carries no arguments: `encode_request` takes the credentials and signs
    ``api\\nfutures.login\\n\\n<timestamp>``. The client logs in by itself before the first
    request on each connection; the result holds the account's user id.
    """

    channel: ClassVar[str] = "futures.login"

    def req_param(self) -> JsonValue:
        return None

    def read_result(self, result: object) -> LoginResult:
        return read_login(result)


@attrs.frozen(kw_only=True)
class PlaceOrder(TradingRequest["Order"]):
    """``futures.order_place``: one order (spec 8.5, REST ``POST /futures/{settle}/orders``).

    `size` is signed (+ buy, - sell) and non-zero, except with ``close=True`` or `auto_size`,
    which need ``size=0``. `price` ``"0"`` with ``tif="ioc"`` or ``"fok"`` is a market order.
    `text` is the client order id: ``"t-"`` and 1-28 characters of ``[0-9A-Za-z_.-]``; the
    client gives the order a unique one when you leave it out, so an order whose reply never
    came can be looked up (`Client.resolve`); one you give must be unique for that too. The
    result is the `Order` as Gate placed it.

    Example::

        PlaceOrder(contract="BTC_USDT", size=10, price="31503.28", text="t-my-id")
        PlaceOrder(contract="ETH_USDT", size=Decimal("-0.5"), price="0", tif="ioc")  # market sell
    """

    channel: ClassVar[str] = "futures.order_place"
    mutates: ClassVar[bool] = True
    rate_group: ClassVar[RateGroup | None] = "orders"

    contract: str
    size: int | Decimal
    price: str | Decimal
    tif: TimeInForce = "gtc"
    text: str | None = None
    reduce_only: bool = False
    close: bool = False
    iceberg: int | Decimal | None = None
    auto_size: AutoSize | None = None
    stp_act: StpAction | None = None
    market_order_slip_ratio: str | Decimal | None = None

    def __attrs_post_init__(self) -> None:
        check_contract(self.contract)
        size = _size(self.size, "size")
        price = _non_negative_decimal(self.price, "price")
        _choice(self.tif, _TIFS, "tif")
        _bool(self.reduce_only, "reduce_only")
        _bool(self.close, "close")
        if self.auto_size is not None:
            _choice(self.auto_size, _AUTO_SIZES, "auto_size")
            if self.close:
                raise UsageError(
                    "close=True is for single position mode and auto_size for dual mode; "
                    "pass only one of them"
                )
        closing = self.close or self.auto_size is not None
        if closing and size != 0:
            raise UsageError(
                f"size must be 0 with close=True or auto_size (Gate closes the whole position), "
                f"got {self.size!r}"
            )
        if not closing and size == 0:
            raise UsageError(
                "size must be non-zero: positive to buy, negative to sell "
                "(use close=True or auto_size=... with size=0 to close a position)"
            )
        if price == 0 and self.tif not in ("ioc", "fok"):
            raise UsageError(
                "price '0' is a market order, which needs tif='ioc' or tif='fok'; "
                "pass one of those or a limit price"
            )
        if self.text is not None and (
            not isinstance(self.text, str) or not is_client_id(self.text)
        ):
            raise UsageError(
                "text must be 't-' followed by 1-28 characters of [0-9A-Za-z_.-], "
                f"e.g. 't-my-order-1', got {self.text!r}"
            )
        if self.iceberg is not None and _size(self.iceberg, "iceberg") < 0:
            raise UsageError(f"iceberg is a visible size and must be >= 0, got {self.iceberg!r}")
        if self.stp_act is not None:
            _choice(self.stp_act, _STP_ACTS, "stp_act")
        if self.market_order_slip_ratio is not None:
            _non_negative_decimal(self.market_order_slip_ratio, "market_order_slip_ratio")

    def read_result(self, result: object) -> Order:
        return read_order(result)

    def with_client_ids(self, new_id: Callable[[], str]) -> Self:
        return self if self.text is not None else attrs.evolve(self, text=new_id())

    def client_order_ids(self) -> tuple[str, ...]:
        return () if self.text is None else (self.text,)

    def req_param(self) -> dict[str, JsonValue]:
        # Field order follows the spec's table; it fixes the signed text (see encode_request).
        param: dict[str, JsonValue] = {"contract": self.contract, "size": size_json(self.size)}
        if self.iceberg is not None:  # a string on the wire since the docs of 2026-03-30
            param["iceberg"] = str(size_json(self.iceberg))
        param["price"] = _non_negative_decimal_text(self.price, "price")
        if self.close:
            param["close"] = True
        if self.reduce_only:
            param["reduce_only"] = True
        param["tif"] = self.tif
        if self.text is not None:
            param["text"] = self.text
        if self.auto_size is not None:
            param["auto_size"] = self.auto_size
        if self.stp_act is not None:
            param["stp_act"] = self.stp_act
        if self.market_order_slip_ratio is not None:
            param["market_order_slip_ratio"] = _non_negative_decimal_text(
                self.market_order_slip_ratio, "market_order_slip_ratio"
            )
        return param


def _orders_tuple(orders: Iterable[PlaceOrder]) -> tuple[PlaceOrder, ...]:
    # Typed for callers; checked at run time too, for untyped callers.
    if isinstance(orders, PlaceOrder | str | bytes) or not isinstance(orders, Iterable):
        raise UsageError(f"orders must be a list of PlaceOrder, got {orders!r}")
    return tuple(orders)


@attrs.frozen(kw_only=True)
class BatchPlaceOrders(TradingRequest[list[BatchOrderOutcome]]):
    """``futures.order_batch_place``: 1 to 10 orders in one request (spec 8.6).

    The result is one `BatchOrderOutcome` per order, in order, each with its own `succeeded`
    and the order or Gate's label. Every order carries a distinct `text` (the client fills in
    those left out), which is how the entries and an in-doubt batch are matched.

    Example::

        BatchPlaceOrders(orders=[PlaceOrder(contract="BTC_USDT", size=1, price="60000")])
    """

    channel: ClassVar[str] = "futures.order_batch_place"
    mutates: ClassVar[bool] = True
    rate_group: ClassVar[RateGroup | None] = "orders"

    orders: tuple[PlaceOrder, ...] = attrs.field(converter=_orders_tuple)

    def __attrs_post_init__(self) -> None:
        if not 1 <= len(self.orders) <= MAX_BATCH_ORDERS:
            raise UsageError(
                f"a batch holds 1 to {MAX_BATCH_ORDERS} orders, got {len(self.orders)}; "
                "split it into several BatchPlaceOrders"
            )
        for order in self.orders:
            if not isinstance(order, PlaceOrder):
                raise UsageError(f"orders must be PlaceOrder instances, got {order!r}")
        texts = [order.text for order in self.orders if order.text is not None]
        if len(set(texts)) != len(texts):
            raise UsageError(
                "two orders of the batch have the same text; give each its own client order id "
                "(or leave text out and the client picks unique ones)"
            )

    def read_result(self, result: object) -> list[BatchOrderOutcome]:
        return read_batch(result, tuple(order.text or "" for order in self.orders))

    def with_client_ids(self, new_id: Callable[[], str]) -> Self:
        if all(order.text is not None for order in self.orders):
            return self
        return attrs.evolve(self, orders=[order.with_client_ids(new_id) for order in self.orders])

    def client_order_ids(self) -> tuple[str, ...]:
        return tuple(order.text for order in self.orders if order.text is not None)

    def req_param(self) -> list[JsonValue]:
        return [order.req_param() for order in self.orders]


@attrs.frozen(kw_only=True)
class CancelOrder(TradingRequest["Order"]):
    """``futures.order_cancel``: cancel one order by id or by its ``t-`` text (spec 8.7).

    Example::

        CancelOrder(order_id=74046514)
    """

    channel: ClassVar[str] = "futures.order_cancel"
    mutates: ClassVar[bool] = True
    rate_group: ClassVar[RateGroup | None] = "cancels"

    order_id: str | int

    def __attrs_post_init__(self) -> None:
        check_order_id(self.order_id)

    def read_result(self, result: object) -> Order:
        return read_order(result)

    def req_param(self) -> dict[str, JsonValue]:
        return {"order_id": str(self.order_id)}


def _ids_tuple(order_ids: Iterable[str | int]) -> tuple[str | int, ...]:
    if isinstance(order_ids, str | bytes) or not isinstance(order_ids, Iterable):
        raise UsageError(f"order_ids must be a list of order ids, got {order_ids!r}")
    return tuple(order_ids)


@attrs.frozen(kw_only=True)
class CancelOrders(TradingRequest[list[CancelOutcome]]):
    """``futures.order_cancel_ids``: cancel up to 20 orders by id (spec 8.8).

    The result is one `CancelOutcome` per id: `succeeded`, or Gate's reason (ORDER_NOT_FOUND).

    Example::

        CancelOrders(order_ids=["1694883366", 123])
    """

    channel: ClassVar[str] = "futures.order_cancel_ids"
    mutates: ClassVar[bool] = True
    rate_group: ClassVar[RateGroup | None] = "cancels"

    order_ids: tuple[str | int, ...] = attrs.field(converter=_ids_tuple)

    def __attrs_post_init__(self) -> None:
        if not 1 <= len(self.order_ids) <= MAX_CANCEL_IDS:
            raise UsageError(
                f"order_ids holds 1 to {MAX_CANCEL_IDS} ids, got {len(self.order_ids)}; "
                "split them into several CancelOrders"
            )
        texts = [check_order_id(order_id, "each of order_ids") for order_id in self.order_ids]
        if len(set(texts)) != len(texts):
            raise UsageError(f"order_ids has duplicates; pass each id once: {self.order_ids!r}")

    def read_result(self, result: object) -> list[CancelOutcome]:
        return read_cancel_outcomes(result, tuple(str(order_id) for order_id in self.order_ids))

    def req_param(self) -> list[JsonValue]:
        return [str(order_id) for order_id in self.order_ids]


@attrs.frozen(kw_only=True)
class CancelAllOrders(TradingRequest[list["Order"]]):
    """``futures.order_cancel_cp``: cancel every open order of a contract (spec 8.9).

    `side` ``"bid"`` or ``"ask"`` limits it to buy or sell orders. The result lists the orders
    cancelled (empty when there were none).

    Example::

        CancelAllOrders(contract="BTC_USDT", side="bid")
    """

    channel: ClassVar[str] = "futures.order_cancel_cp"
    mutates: ClassVar[bool] = True
    rate_group: ClassVar[RateGroup | None] = "cancels"

    contract: str
    side: Side | None = None

    def __attrs_post_init__(self) -> None:
        check_contract(self.contract)
        if self.side is not None:
            _choice(self.side, _SIDES, "side")

    def read_result(self, result: object) -> list[Order]:
        return read_orders(result)

    def req_param(self) -> dict[str, JsonValue]:
        param: dict[str, JsonValue] = {"contract": self.contract}
        if self.side is not None:
            param["side"] = self.side
        return param


@attrs.frozen(kw_only=True)
class AmendOrder(TradingRequest["Order"]):
    """``futures.order_amend``: change an open order's price and/or size (spec 8.10).

    `size` is the new total including what already filled, with the order's sign; a size at or
    below the filled part cancels the order. At least one of `price` and `size` is required.
    `amend_text` tags the change; the client gives it a unique one when you leave it out, so
    `Client.resolve` can tell whether an amend whose reply never came took effect. The result
    is the `Order` as amended.

    Example::

        AmendOrder(order_id=74046543, price="31303.18")
    """

    channel: ClassVar[str] = "futures.order_amend"
    mutates: ClassVar[bool] = True
    rate_group: ClassVar[RateGroup | None] = "orders"

    order_id: str | int
    price: str | Decimal | None = None
    size: int | Decimal | None = None
    amend_text: str | None = None

    def __attrs_post_init__(self) -> None:
        check_order_id(self.order_id)
        if self.price is None and self.size is None:
            raise UsageError("AmendOrder changes nothing: pass price=..., size=..., or both")
        if self.price is not None:
            _non_negative_decimal(self.price, "price")
        if self.size is not None and _size(self.size, "size") == 0:
            raise UsageError("size 0 would cancel the order; use CancelOrder instead")
        if self.amend_text is not None and (
            not isinstance(self.amend_text, str) or not self.amend_text
        ):
            raise UsageError(f"amend_text must be a non-empty str, got {self.amend_text!r}")

    def read_result(self, result: object) -> Order:
        return read_order(result)

    def with_client_ids(self, new_id: Callable[[], str]) -> Self:
        return self if self.amend_text is not None else attrs.evolve(self, amend_text=new_id())

    def req_param(self) -> dict[str, JsonValue]:
        param: dict[str, JsonValue] = {"order_id": str(self.order_id)}
        if self.price is not None:
            param["price"] = _non_negative_decimal_text(self.price, "price")
        if self.size is not None:
            param["size"] = size_json(self.size)
        if self.amend_text is not None:
            param["amend_text"] = self.amend_text
        return param


@attrs.frozen(kw_only=True)
class ListOrders(TradingRequest[list["Order"]]):
    """``futures.order_list``: list open or finished orders (spec 8.11).

    Example::

        ListOrders(status="open", contract="BTC_USDT", limit=100)
    """

    channel: ClassVar[str] = "futures.order_list"

    status: OrderStatus
    contract: str | None = None
    limit: int | None = None
    offset: int | None = None
    last_id: str | None = None

    def __attrs_post_init__(self) -> None:
        _choice(self.status, _STATUSES, "status")
        if self.contract is not None:
            check_contract(self.contract)
        if self.limit is not None and (
            isinstance(self.limit, bool)
            or not isinstance(self.limit, int)
            or not 1 <= self.limit <= MAX_LIST_LIMIT
        ):
            raise UsageError(f"limit must be an int from 1 to {MAX_LIST_LIMIT}, got {self.limit!r}")
        if self.offset is not None and (
            isinstance(self.offset, bool) or not isinstance(self.offset, int) or self.offset < 0
        ):
            raise UsageError(f"offset must be an int >= 0, got {self.offset!r}")
        if self.last_id is not None:
            check_order_id(self.last_id, "last_id")

    def read_result(self, result: object) -> list[Order]:
        return read_orders(result)

    def req_param(self) -> dict[str, JsonValue]:
        param: dict[str, JsonValue] = {}
        if self.contract is not None:
            param["contract"] = self.contract
        param["status"] = self.status
        if self.limit is not None:
            param["limit"] = self.limit
        if self.offset is not None:
            param["offset"] = self.offset
        if self.last_id is not None:
            param["last_id"] = self.last_id
        return param


@attrs.frozen(kw_only=True)
class GetOrder(TradingRequest["Order"]):
    """``futures.order_status``: one order by id or ``t-`` text (spec 8.12).

    Example::

        GetOrder(order_id="t-my-id")
    """

    channel: ClassVar[str] = "futures.order_status"

    order_id: str | int

    def __attrs_post_init__(self) -> None:
        check_order_id(self.order_id)

    def read_result(self, result: object) -> Order:
        return read_order(result)

    def req_param(self) -> dict[str, JsonValue]:
        return {"order_id": str(self.order_id)}


ApiRequest: TypeAlias = (
    Login
    | PlaceOrder
    | BatchPlaceOrders
    | CancelOrder
    | CancelOrders
    | CancelAllOrders
    | AmendOrder
    | ListOrders
    | GetOrder
)
"""Every trading-API request: each has a class-level `channel` and a `req_param()` method."""

Request: TypeAlias = Subscribe | Unsubscribe | Ping | ApiRequest
"""Everything `encode_request` turns into a frame."""

API_CHANNELS: Final[frozenset[str]] = frozenset(cls.channel for cls in get_args(ApiRequest))
