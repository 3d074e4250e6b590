"""Typed results of trading requests, and Gate's error labels as typed exceptions. Pure.

Gate answers a trading request with plain JSON (spec 8.3): an order object, an array of them,
per-order outcomes, or `errs` with a label. Each request class names its result type and reads
it with a function here (`PlaceOrder.read_result` is `read_order`), so `client.request` returns
records a type checker knows. The input is JSON as the reference decoder parses it (integers as
`int`, other numbers as exact `Decimal`), or as the REST helper parses it (other numbers as
`float`, read back exactly from their shortest text).

The order record is `Order`, the one `futures.orders` pushes carry, so an order from a result, a
REST body or a push compares field by field. Results differ from pushes on the wire (spec 8.5):
times are float seconds (`create_time` 1727227280.916) where pushes send int seconds plus a
`*_ms` twin, `update_time` is float seconds where pushes send ms, and `user` is an int where
pushes send a string. `read_order` converts to the push conventions. Anything it cannot read
raises `ProtocolError`, which the caller turns into `ReplyUnreadable`.
"""

from __future__ import annotations

import re
import typing
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import attrs

from ._errors import (
    InvalidArgument,
    OrderNotFound,
    ProtocolError,
    RateLimited,
    RequestExpired,
    RequestRejected,
    RequestUnauthorized,
)
from ._events import Order, with_raw
from ._json_values import json_ms, json_object
from ._reference_decode import build_record

if TYPE_CHECKING:
    from collections.abc import Mapping

# ---------------------------------------------------------------------------------- labels

REJECTIONS: Final[Mapping[str, type[RequestRejected]]] = {
    "TOO_MANY_REQUESTS": RateLimited,
    "ORDER_NOT_FOUND": OrderNotFound,
    "INVALID_ARGUMENT": InvalidArgument,
    "INVALID_PARAM_VALUE": InvalidArgument,
    "INVALID_REQUEST_BODY": InvalidArgument,
    "MISSING_REQUIRED_PARAM": InvalidArgument,
    "CONTRACT_NOT_FOUND": InvalidArgument,
    "INVALID_KEY": RequestUnauthorized,
    "INVALID_SIGNATURE": RequestUnauthorized,
    "AUTHENTICATION_FAILED": RequestUnauthorized,
    "MISSING_REQUIRED_HEADER": RequestUnauthorized,
    "INVALID_CREDENTIALS": RequestUnauthorized,
    "IP_FORBIDDEN": RequestUnauthorized,
    "READ_ONLY": RequestUnauthorized,
    "FORBIDDEN": RequestUnauthorized,
    "REQUEST_EXPIRED": RequestExpired,
}
"""Gate's labels (spec 8.13, REST) that have their own exception class."""

_BY_STATUS: Final[Mapping[str, type[RequestRejected]]] = {
    "429": RateLimited,
    "401": RequestUnauthorized,
    "403": RequestUnauthorized,
}
# "label: ORDER_NOT_FOUND, message: " -> the part after "message:" (spec 8.7, 8.13)
_PREFIXED: Final = re.compile(r"\s*label:\s*([A-Za-z0-9_]*)\s*,\s*message:\s*(.*)", re.DOTALL)
_TRAILING: Final = re.compile(r"[\s,]+$")
_MESSAGE_CHARS: Final = 300


def clean_message(label: str, message: str) -> str:
    """Gate's message without what it repeats: the "label: X, message: " prefix, trailing commas
    and blanks, and a message that only restates the label. "" when nothing is left."""
    text = message.strip()
    found = _PREFIXED.fullmatch(text)
    if found is not None and found.group(1) in ("", label):
        text = found.group(2)
    text = _TRAILING.sub("", text[:_MESSAGE_CHARS]).strip()
    return "" if text == label else text


def rejection(
    label: str,
    message: str,
    *,
    status: str,
    req_id: str,
    channel: str,
    reset_at: float | None = None,
) -> RequestRejected:
    """The typed exception for Gate's error (`label` first, then `status`), one clean message;
    `reset_at` (unix seconds, Gate's clock) is kept on a `RateLimited`."""
    cls = REJECTIONS.get(label) or _BY_STATUS.get(status, RequestRejected)
    text = clean_message(label, message)
    if cls is RateLimited:
        return RateLimited(
            text,
            label=label or "TOO_MANY_REQUESTS",
            status=status,
            req_id=req_id,
            channel=channel,
            reset_at=reset_at,
        )
    return cls(text, label=label, status=status, req_id=req_id, channel=channel)


# ---------------------------------------------------------------------------------- records


@typing.final
@attrs.frozen
class LoginResult:
    """`futures.login`'s result: the account's user id (UID), as Gate returned it."""

    uid: str


@typing.final
@attrs.frozen
class BatchOrderOutcome:
    """One order of a `BatchPlaceOrders`, in the order sent.

    `text` is the client order id it was sent with. `succeeded` with the `order` as Gate
    placed it, else Gate's `label` and `message` (`error` gives the typed exception). `raw` is
    the entry as Gate sent it.
    """

    succeeded: bool
    text: str
    order: Order | None = None
    label: str = ""
    message: str = ""
    raw: Mapping[str, object] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def error(self) -> RequestRejected | None:
        """The failure as the exception a single PlaceOrder would have raised; None if placed."""
        if self.succeeded:
            return None
        return rejection(
            self.label, self.message, status="", req_id="", channel="futures.order_batch_place"
        )


@typing.final
@attrs.frozen
class CancelOutcome:
    """One id of a `CancelOrders`: `succeeded`, else Gate's reason (`label`, e.g.
    "ORDER_NOT_FOUND"; `error` gives the typed exception). `raw` is the entry as sent."""

    order_id: str
    succeeded: bool
    label: str = ""
    message: str = ""
    raw: Mapping[str, object] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def error(self) -> RequestRejected | None:
        if self.succeeded:
            return None
        return rejection(
            self.label, self.message, status="", req_id="", channel="futures.order_cancel_ids"
        )


# ---------------------------------------------------------------------------------- readers


def read_order(value: object, what: str = "order") -> Order:
    """An `Order` from a trading result or REST body (spec 8.5) in the push's conventions."""
    raw = json_object(value, what)
    fields = dict(raw)
    for name in ("create_time", "finish_time"):
        if name in fields and fields[name] is not None:
            ms = json_ms(fields[name], f"{what}.{name}")
            fields[name] = ms // 1000
            fields.setdefault(f"{name}_ms", ms)
    if fields.get("update_time") is not None:
        fields["update_time"] = json_ms(fields["update_time"], f"{what}.update_time")
    user = fields.get("user")
    if type(user) is int:
        fields["user"] = str(user)
    order_id = fields.get("id")
    if type(order_id) is str and order_id.isascii() and order_id.isdigit():
        fields["id"] = int(order_id)  # some REST shapes send ids as strings
    for name, field in fields.items():
        if type(field) is float:  # REST bodies parsed by json.loads: exact from its shortest text
            fields[name] = Decimal(repr(field))
    for name in ("fill_price", "tkfr", "mkfr", "fee", "point_fee", "leverage", "refr"):
        if fields.get(name) == "":
            fields[name] = None
    return with_raw(build_record(Order, fields, what), raw)


def read_orders(value: object, what: str = "orders") -> list[Order]:
    """A JSON array of orders (order_list, order_cancel_cp, REST lists)."""
    if type(value) is not list:
        raise ProtocolError(f"{what}: expected a JSON array, got {type(value).__name__}")
    return [read_order(item, f"{what}[{i}]") for i, item in enumerate(value)]


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise ProtocolError(f"{what}: expected a string, got {type(value).__name__}")
    return value


def read_batch(value: object, texts: tuple[str, ...]) -> list[BatchOrderOutcome]:
    """`order_batch_place`'s array (spec 8.6): one entry per order sent, in order."""
    if type(value) is not list:
        raise ProtocolError(f"batch result: expected a JSON array, got {type(value).__name__}")
    if len(value) != len(texts):
        # Gate answers each order in order; any other count leaves every entry unattributable
        raise ProtocolError(f"batch result: {len(value)} entries for {len(texts)} orders")
    outcomes: list[BatchOrderOutcome] = []
    for i, (item, text) in enumerate(zip(value, texts, strict=True)):
        what = f"batch result[{i}]"
        entry = json_object(item, what)
        succeeded = entry.get("succeeded")
        if type(succeeded) is not bool:
            raise ProtocolError(f"{what}: succeeded must be true or false, got {succeeded!r:.40}")
        if succeeded:
            order = read_order({k: v for k, v in entry.items() if k != "succeeded"}, what)
            if order.text and text and order.text != text:  # out of order: none can be trusted
                raise ProtocolError(f"{what}: the order sent as {order.text}, not {text}")
            outcomes.append(
                BatchOrderOutcome(succeeded=True, text=order.text or text, order=order, raw=entry)
            )
        else:
            label = _text(entry.get("label"), f"{what}.label")
            message = _text(entry.get("message", entry.get("detail")), f"{what}.message")
            outcomes.append(
                BatchOrderOutcome(
                    succeeded=False,
                    text=text,
                    label=label,
                    message=clean_message(label, message),
                    raw=entry,
                )
            )
    return outcomes


def read_cancel_outcomes(value: object, order_ids: tuple[str, ...]) -> list[CancelOutcome]:
    """`order_cancel_ids`' array (spec 8.8): `{"id", "succeeded"}` or `{"id", "message"}` where
    the message is the label (ORDER_NOT_FOUND). Each entry names its id: every id sent must be
    answered exactly once (an id left out would leave its order's fate unknown, so the reply
    is unreadable and the request in doubt). The outcomes come in the order the ids were sent."""
    if type(value) is not list:
        raise ProtocolError(f"cancel result: expected a JSON array, got {type(value).__name__}")
    sent = set(order_ids)
    outcomes: dict[str, CancelOutcome] = {}
    for i, item in enumerate(value):
        what = f"cancel result[{i}]"
        entry = json_object(item, what)
        order_id = entry.get("id")
        if type(order_id) is int:
            order_id = str(order_id)
        if type(order_id) is not str or order_id not in sent:
            raise ProtocolError(f"{what}: id {order_id!r:.40} is not one of the ids sent")
        if order_id in outcomes:
            raise ProtocolError(f"{what}: id {order_id} answered twice")
        succeeded = entry.get("succeeded", False)
        if type(succeeded) is not bool:
            raise ProtocolError(f"{what}: succeeded must be true or false, got {succeeded!r:.40}")
        message = _text(entry.get("message"), f"{what}.message")
        label = _text(entry.get("label"), f"{what}.label")
        if not succeeded and not label and re.fullmatch(r"[A-Z][A-Z0-9_]*", message):
            label, message = message, ""  # Gate puts the label in `message` here (spec 8.8)
        outcomes[order_id] = CancelOutcome(
            order_id, succeeded, label, clean_message(label, message), raw=entry
        )
    missing = [i for i in order_ids if i not in outcomes]
    if missing:
        raise ProtocolError(f"cancel result: no outcome for {len(missing)} id(s) sent: {missing}")
    return [outcomes[i] for i in order_ids]


def read_login(value: object) -> LoginResult:
    """`futures.login`'s result: `{"uid": "15564602", "api_key": ...}` (the key is not kept)."""
    entry = json_object(value, "login result")
    uid = entry.get("uid")
    if type(uid) is int:
        uid = str(uid)
    if type(uid) is not str:
        raise ProtocolError(f"login result: uid must be a string, got {uid!r:.40}")
    return LoginResult(uid)
