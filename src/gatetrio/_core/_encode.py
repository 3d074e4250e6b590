"""Pure encoders: requests to frames (`encode_request`) and events to frames (`encode_event`).

`encode_event` serves the fake exchange and the round-trip tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._auth import sign_api, sign_subscription
from ._errors import UsageError
from ._events import (
    DATA_EVENT_TYPES,
    REQUIRED,
    ApiAck,
    ApiError,
    ApiResult,
    ErrorReply,
    Event,
    Pong,
    PublicLiquidationsUpdate,
    SubscribeAck,
    SystemNotice,
    Ticker,
    UnknownEvent,
    UpgradeRequested,
    record_classes,
    record_fields,
)
from ._events._ticker import ticker_text
from ._requests import ApiRequest, Login, Ping, Request, Subscribe, Unsubscribe

if TYPE_CHECKING:
    from ._config import Credentials

# --------------------------------------------------------------------------- encode_request
# Outbound frames (spec 2.1, 4.2, 8.1). Compact JSON, keys in a fixed order, no clock reads:
# the same arguments always give the same text.
#
# Canonical req_param text: the trading-API signature covers the req_param JSON text, and Gate
# does not document how it canonicalises it (spec 8.2, 15.1). We sign the exact bytes we send:
# req_param is encoded once (msgspec: compact separators, keys in the order the request record
# builds them, non-ASCII as raw UTF-8, as JavaScript's JSON.stringify would write it) and that
# same text is spliced into the frame with msgspec.Raw, so the signed and sent texts cannot drift.

_INT32_MAX: Final = 2**31 - 1
_JSON: Final = msgspec.json.Encoder()
EXPTIME_HEADER: Final = "x-gate-exptime"


def exptime_header(deadline_wall_time: float) -> dict[str, str]:
    """A `req_header` telling Gate to reject the request if it arrives after the deadline.

    `deadline_wall_time` is unix seconds; Gate wants whole milliseconds as a string (spec 8.1).

    Example::

        encode_request(order, wall_time=now, req_id=7, req_header=exptime_header(now + 2.0))
    """
    _check_wall_time(deadline_wall_time, "deadline_wall_time")
    return {EXPTIME_HEADER: str(int(deadline_wall_time * 1000))}


def _check_wall_time(wall_time: object, what: str) -> float:
    if (
        isinstance(wall_time, bool)
        or not isinstance(wall_time, int | float)
        or not math.isfinite(wall_time)
        or wall_time < 0
    ):
        raise UsageError(f"{what} must be unix seconds (a finite number >= 0), got {wall_time!r}")
    return wall_time


def _frame_head(time_s: int, frame_id: object) -> dict[str, object]:
    """A frame's leading ``time`` and, unless `frame_id` is None, ``id``."""
    frame: dict[str, object] = {"time": time_s}
    if frame_id is not None:
        # ccxt was told by Gate support that ids must fit int32 (spec 13.15).
        if (
            isinstance(frame_id, bool)
            or not isinstance(frame_id, int)
            or not 0 <= frame_id <= _INT32_MAX
        ):
            raise UsageError(f"the frame id must be an int from 0 to 2**31-1, got {frame_id!r}")
        frame["id"] = frame_id
    return frame


def _subscription_frame(
    req: Subscribe | Unsubscribe, time_s: int, req_id: object, credentials: Credentials | None
) -> dict[str, object]:
    event = "subscribe" if isinstance(req, Subscribe) else "unsubscribe"
    if not isinstance(req.channel, str) or not req.channel:
        raise UsageError(f"channel must be a non-empty str, got {req.channel!r}")
    if not all(isinstance(item, str) for item in req.payload):
        raise UsageError(f"payload elements are always strings on the wire, got {req.payload!r}")
    frame = _frame_head(time_s, req_id)
    frame.update(channel=req.channel, event=event, payload=list(req.payload))
    if req.private:
        if credentials is None:
            raise UsageError(
                f"{req.channel} is a private channel: pass credentials=Credentials(key=..., "
                "secret=...) to sign it"
            )
        # Sign the real event: an unsubscribe signs "unsubscribe" (spec 5, pitfall 13).
        frame["auth"] = sign_subscription(
            req.channel, event, time_s, key=credentials.key, secret=credentials.secret
        )
    return frame


def _api_frame(
    req: ApiRequest,
    time_s: int,
    req_id: object,
    credentials: Credentials | None,
    req_header: Mapping[str, str] | None,
) -> dict[str, object]:
    if req_id is None:
        raise UsageError(
            f"{req.channel} needs req_id=...: Gate echoes it as request_id to match the reply"
        )
    if isinstance(req_id, str) and (not req_id or not req_id.isprintable()):
        raise UsageError(f"req_id must be a non-empty printable str or an int, got {req_id!r}")
    frame = _frame_head(time_s, None if isinstance(req_id, str) else req_id)
    frame.update(channel=req.channel, event="api")
    param = req.req_param()
    param_bytes = None if isinstance(req, Login) else _JSON.encode(param)
    payload: dict[str, object] = {}
    if credentials is not None:
        timestamp = str(time_s)
        param_text = "" if param_bytes is None else param_bytes.decode()
        payload["api_key"] = credentials.key
        payload["signature"] = sign_api(req.channel, param_text, timestamp, credentials.secret)
        payload["timestamp"] = timestamp
    elif isinstance(req, Login):
        raise UsageError("futures.login signs with your API secret: pass credentials=...")
    payload["req_id"] = str(req_id)
    if req_header:
        payload["req_header"] = _check_req_header(req_header)
    if param_bytes is not None:
        payload["req_param"] = msgspec.Raw(param_bytes)
    frame["payload"] = payload
    return frame


def _check_req_header(req_header: object) -> dict[str, str]:
    if not isinstance(req_header, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in req_header.items()
    ):
        raise UsageError(f"req_header must map str names to str values, got {req_header!r}")
    exptime = req_header.get(EXPTIME_HEADER)
    if exptime is not None and not (exptime.isascii() and exptime.isdigit()):
        raise UsageError(
            f"{EXPTIME_HEADER} is a deadline in unix milliseconds, e.g. exptime_header(now + 2), "
            f"got {exptime!r}"
        )
    return dict(req_header)


def encode_request(
    req: Request,
    *,
    wall_time: float,
    req_id: int | str | None = None,
    credentials: Credentials | None = None,
    req_header: Mapping[str, str] | None = None,
) -> str:
    """The JSON text frame for `req`. Pure: `wall_time` (unix seconds) is the only clock input.

    - Subscribe/Unsubscribe: ``{"time", "id"?, "channel", "event", "payload", "auth"?}``;
      private ones are signed with `credentials` (UsageError without them).
    - Ping: ``{"time", "id"?, "channel": "futures.ping"}``.
    - Trading API: ``{"time", "id"?, "channel", "event": "api", "payload": {...}}`` where payload
      holds ``req_id`` (required, as a str), ``req_header`` when given, ``req_param`` and, when
      `credentials` are given, ``api_key``/``signature``/``timestamp`` signing the exact req_param
      text sent. `Login` requires credentials and sends no req_param.

    `time` is ``int(wall_time)``. `req_id` becomes the frame's ``id`` when it is an int (it must
    fit int32); a str `req_id` is only allowed for trading requests.

    Raises:
        UsageError: missing credentials or req_id, a bad id, time or header.
    """
    time_s = int(_check_wall_time(wall_time, "wall_time"))
    if req_header is not None and not isinstance(req, ApiRequest):
        raise UsageError("req_header only applies to trading-API requests (PlaceOrder, ...)")
    if isinstance(req, Subscribe | Unsubscribe):
        frame = _subscription_frame(req, time_s, req_id, credentials)
    elif isinstance(req, Ping):
        frame = _frame_head(time_s, req_id)
        frame["channel"] = "futures.ping"
    elif isinstance(req, ApiRequest):
        frame = _api_frame(req, time_s, req_id, credentials, req_header)
    else:
        raise UsageError(f"encode_request takes a gatetrio request, got {req!r}")
    return _JSON.encode(frame).decode()


# ----------------------------------------------------------------------------- encode_event
# Inbound frames as Gate writes them, for the fake exchange and the round-trip tests:
# decode_message(encode_event(ev)) == ev for every event. Wire conventions (spec 10): prices and
# other Decimals are strings, int sizes stay JSON ints, Decimal sizes become strings, None means
# "absent" and is omitted, and fields Gate only sends when set (trade `is_internal`, book `full`,
# ticker `event_type`, obu `U` on full snapshots, obu `a`/`b` on id-only deltas) are omitted at
# their defaults. Free-form JSON (API results, unknown channels) keeps Decimals as JSON numbers,
# which is how the decoder read them.

_EVENT_JSON: Final = msgspec.json.Encoder(decimal_format="number")
_KEEP: Final = object()  # "no omit-at-default rule for this field"
_REQUIRED: Final = object()  # a field without default: None is written as Gate's ""
_DECIMAL_ANNOTATIONS: Final = frozenset({"Decimal", "Decimal | None", "Size", "Size | None"})
_OMIT_AT_DEFAULT: Final[dict[str, frozenset[str]]] = {
    "Trade": frozenset({"is_internal"}),
    "BookDelta": frozenset({"full", "l"}),
    "ObuDelta": frozenset({"full", "U", "b", "a"}),
    "BookSnapshot": frozenset({"l"}),
    "ApiHeader": frozenset(
        {"client_id", "conn_id", "conn_trace_id", "trace_id", "x_in_time", "x_out_time"}
    ),
}


def _decimal_text(value: Any) -> Any:
    return str(value) if value.__class__ is Decimal else value


def _record_plan(cls: type[msgspec.Struct]) -> tuple[tuple[str, Any, object], ...]:
    """(name, converter or None, omit rule) for each field of a record."""
    omit = _OMIT_AT_DEFAULT.get(cls.__name__, frozenset())
    plan = []
    for field in record_fields(cls):
        inner = field.annotation.removesuffix(" | None")
        many = inner.startswith("tuple[") and inner.endswith(", ...]")
        nested = _RECORD_CLASSES.get(inner[6:-6] if many else inner)
        convert: Any = None
        if field.annotation in _DECIMAL_ANNOTATIONS:
            convert = _decimal_text
        elif nested is not None and many:
            convert = _encode_records
        elif nested is not None:
            convert = _encode_record
        if field.name in omit:
            rule = field.default
        elif field.default is REQUIRED:
            rule = _REQUIRED
        else:
            rule = _KEEP
        plan.append((field.name, convert, rule))
    return tuple(plan)


def _encode_record(record: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, convert, omit in _PLANS[record.__class__]:
        value = getattr(record, name)
        if value is None:
            if omit is _REQUIRED:  # an empty required field: book_ticker `b`/`a` (spec 6.3)
                out[name] = ""
            continue
        if omit is not _KEEP and value == omit:
            continue
        out[name] = value if convert is None else convert(value)
    return out


def _encode_records(records: tuple[Any, ...]) -> list[Any]:
    return [_encode_record(record) for record in records]


def _encode_ticker(ticker: Ticker) -> dict[str, Any]:
    text = ticker_text(ticker)
    out = {
        name: value for name in text.__struct_fields__ if (value := getattr(text, name)) is not None
    }
    if not out["event_type"]:  # only the first push after connecting carries it (spec 6.1)
        del out["event_type"]
    return out


def _envelope(event: Any, result: object) -> dict[str, Any]:
    frame: dict[str, Any] = {}
    if event.time:
        frame["time"] = event.time
    if event.time_ms:
        frame["time_ms"] = event.time_ms
    frame["channel"] = event.channel
    frame["event"] = event.event
    frame["result"] = result
    return frame


def _reply_ids(event: SubscribeAck | ErrorReply) -> dict[str, Any]:
    frame: dict[str, Any] = {"time": event.time, "time_ms": event.time_ms}
    if event.id is not None:
        frame["id"] = event.id
    if event.conn_id:
        frame["conn_id"] = event.conn_id
    if event.trace_id:
        frame["trace_id"] = event.trace_id
    frame["channel"] = event.channel
    frame["event"] = event.event
    if event.payload is not None:
        frame["payload"] = list(event.payload)
    return frame


def _api_frame_out(event: ApiAck | ApiResult | ApiError, data: dict[str, Any]) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "header": _encode_record(event.header),
        "data": data,
        "request_id": event.request_id,
    }
    if isinstance(event, ApiAck):
        frame["ack"] = True
    return frame


def encode_event(ev: Event, *, liquidation_object: bool = False) -> str:
    """The JSON text frame Gate would send for `ev`; `decode_message` turns it back into `ev`.

    Args:
        ev: any event `decode_message` can return.
        liquidation_object: write a one-item `PublicLiquidationsUpdate` in the live 2026-08
            object form (`"result": {...}`) instead of the documented array (spec 6.8).

    Raises:
        UsageError: `ev` is not an event, or `liquidation_object` with other than one item.
    """
    frame: dict[str, Any]
    cls = ev.__class__
    if cls in _DATA_FRAME_CLASSES:
        result: Any = ev.result  # type: ignore[union-attr]
        if result.__class__ is tuple:
            if result and result[0].__class__ is Ticker:
                encoded: Any = [_encode_ticker(item) for item in result]
            else:
                encoded = _encode_records(result)
        else:
            encoded = _encode_record(result)
        if liquidation_object and cls is PublicLiquidationsUpdate:
            if len(encoded) != 1:
                raise UsageError("the object form holds exactly one liquidation")
            encoded = encoded[0]
        frame = _envelope(ev, encoded)
    elif isinstance(ev, SubscribeAck):
        frame = _reply_ids(ev) | {"result": {"status": "success"}}
    elif isinstance(ev, ErrorReply):
        error = {"code": ev.code, "message": ev.message}
        frame = _reply_ids(ev) | {"error": error, "result": {"status": "fail"}}
    elif isinstance(ev, Pong):
        frame = {"time": ev.time, "time_ms": ev.time_ms}
        if ev.conn_id:
            frame["conn_id"] = ev.conn_id
        frame |= {"channel": "futures.pong", "event": "", "result": None}
    elif isinstance(ev, UpgradeRequested):
        upgrade = {"type": "upgrade", "msg": ev.msg}
        frame = {"time": ev.time, "time_ms": ev.time_ms, "channel": "futures.system"}
        frame |= {"event": "update", "result": upgrade}
    elif isinstance(ev, SystemNotice):
        notice: dict[str, object] = {"type": ev.type, "msg": ev.msg}
        if ev.data is not None:
            notice["data"] = ev.data
        frame = {"time": ev.time, "time_ms": ev.time_ms, "channel": "futures.system"}
        frame |= {"event": "update", "result": notice}
    elif isinstance(ev, ApiAck | ApiResult):
        frame = _api_frame_out(ev, {"result": ev.result})
    elif isinstance(ev, ApiError):
        frame = _api_frame_out(ev, {"errs": {"label": ev.label, "message": ev.message}})
    elif isinstance(ev, UnknownEvent):
        frame = _envelope(ev, ev.result)
        if ev.result is None:
            del frame["result"]
    else:
        raise UsageError(f"encode_event takes a gatetrio event, got {ev!r:.80}")
    return _EVENT_JSON.encode(frame).decode()


_RECORD_CLASSES: Final = record_classes()
_DATA_FRAME_CLASSES: Final = frozenset(cls for group in DATA_EVENT_TYPES.values() for cls in group)
_PLANS: Final = {
    cls: _record_plan(cls) for cls in _RECORD_CLASSES.values() if cls not in _DATA_FRAME_CLASSES
}
