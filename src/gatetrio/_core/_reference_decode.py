"""The reference decoder: the executable definition of what a Gate frame means.

Plain on purpose: stdlib `json`, then explicit construction of the event records of `_events`.
`decode_message` (the msgspec hot path in `_decode.py`) must return exactly what this returns,
and falls back to it for anything it is not sure about; tests/test_decode.py holds the two
together. Pure: no trio, no clock reads.

The rules, in the order they are applied (spec sections in brackets):

1. The frame is UTF-8 text holding one JSON object, nested at most `MAX_DEPTH` levels deep.
   NaN/Infinity literals are not JSON, and neither is a lone surrogate escape (`"\\ud800"`:
   a string nobody could print or encode). Anything else is a `ProtocolError`.
2. A frame with a `channel` key is a channel envelope [2.2, 2.3]; without one, a frame with a
   `header` key is a trading-API reply [8.3]; without either, a frame with a `type` key is the
   bare system notice of the pre-2026-07 docs [4.4]. Nothing else is a Gate frame.
3. Channel envelopes: an `error` that is not empty (null, `{}`, `[]`, `""`, false, 0) makes an
   `ErrorReply` whatever the channel or event (the docs: "check `error` is empty and ignore
   `result`") [2.2, 2.4]. It is read leniently, never refused: `code` defaults to 0, `message`
   to ""; a code that is not an integer (nor an integer's text) is 0 with its text added to the
   message; an error that is not an object is the message; an unreadable `id`, `payload` or
   stamp takes its default. Otherwise event
   `subscribe`/`unsubscribe` makes a `SubscribeAck`, except that a reply whose `result.status`
   is "fail"/"failed" with no error object is an `ErrorReply` with code 0 (never seen, but
   reporting it as a success would be worse). `futures.pong` makes a `Pong` whatever its
   `event`/`result` [4.2]; `futures.system` makes `UpgradeRequested` for `type == "upgrade"`
   and a `SystemNotice` otherwise [4.4]; a known data channel makes its typed event; any other
   channel makes an `UnknownEvent` carrying `result` as plain JSON, never an error.
4. A data channel's `result` is required and must have the documented shape: `{"channel":
   "futures.trades"}` alone is a `ProtocolError`, not an empty update. `event` and `time` may be
   absent (obu pushes omit them [6.6]); the record's default is used.
5. Field types follow the annotations in `_events`; a required field that is missing, or any
   field of the wrong JSON type, is a `ProtocolError`; unknown keys are ignored. Ints are JSON
   integers (not bools, not floats). `Decimal` fields take a JSON number (exactly, from its
   text) or a string as `Decimal()` reads it (exponents included), which must be finite; an
   optional one is None for `""`, null or absent. `Size` is a JSON integer as `int`, anything
   else as above as `Decimal` [10]. Every integer taken as an `int` (ids, times, update ids,
   integer sizes, level sizes, error codes) must fit in int64, as Gate's own do: a 401-digit
   `time_ms` is a `ProtocolError` here, not a big int that overflows float arithmetic later.
   Order-book level prices/sizes and ticker decimals keep Gate's text unvalidated; they are
   checked when read (`BookLevel.price`, `Ticker.last`), see `_events`. A level price sent as
   a JSON number (gocryptotrader's obu fixture) keeps the number's text.
6. Quirks: `public_liquidates.result` may be one object or an array [6.8]; a `tickers` result may
   be one object [6.1, tardis]; `futures.order_book` with an array result is the legacy
   incremental form, with an object the snapshot [6.4]; obu levels are arrays of which the first
   two elements count [6.6]. `time` seconds-vs-milliseconds is kept as sent
   (`PublicLiquidation.time_ms` normalises). Which channel has which quirk is its catalogue row
   (`_catalog.py`: `lone_object`, and a row with one frame class per result shape).
7. Trading-API replies: `ack: true` makes an `ApiAck`; else a non-empty `data.errs` makes an
   `ApiError` (label and message as text, whatever JSON they were: an error reply is one);
   else an `ApiResult` with `data.result` as plain JSON [8.3]. The header needs a readable
   `status` (a string, or an integer) and `channel`; another header stamp of the wrong type is
   left at its default rather than losing the reply.

Plain JSON (`result` of unknown channels, API results, autoorder sub-objects) is what `json`
gives, except that non-integer numbers are `Decimal` (exact) rather than float.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import msgspec

from . import _events
from ._catalog import CATALOG
from ._errors import ProtocolError
from ._events import (
    REQUIRED,
    ApiAck,
    ApiError,
    ApiHeader,
    ApiResult,
    BookLevel,
    ErrorReply,
    Event,
    Int64,
    ObuLevel,
    Pong,
    SubscribeAck,
    SystemNotice,
    Ticker,
    UnknownEvent,
    UpgradeRequested,
    record_fields,
)
from ._events._ticker import TickerText, wrap_ticker

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._catalog import Channel

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
"""Gate's integers are int64 (Go's `int64`); anything outside is not a value Gate sends."""

MAX_DEPTH: Final = 64
"""Deepest JSON nesting accepted. Gate nests about 5 deep; the bound makes the outcome for
pathological input independent of the interpreter's recursion limit and current stack depth."""

_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800-\udfff, pairs included
_STRING_OR_BRACKET: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_REPLY_EVENTS: Final = frozenset({"subscribe", "unsubscribe"})
_FAILED: Final = frozenset({"fail", "failed"})


def decode_message_reference(frame: str | bytes) -> Event:
    """Decode one frame Gate sent. Returns an event or raises `ProtocolError`, nothing else."""
    obj = _parse(frame)
    if "channel" in obj:
        channel = obj["channel"]
        if type(channel) is not str:
            raise ProtocolError("channel is not a string", raw=frame)
        return _channel_frame(obj, channel, frame)
    if "header" in obj:
        return _api_reply(obj, frame)
    if "type" in obj:
        return _system(obj, obj, frame)
    raise ProtocolError("frame has neither channel nor header", raw=frame)


# ------------------------------------------------------------------------------------ parsing


def _parse(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes | bytearray | memoryview):
        try:
            text = bytes(frame).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("frame is not UTF-8", raw=bytes(frame)) from None
    elif isinstance(frame, str):
        text = frame
    else:
        raise ProtocolError(f"frame must be str or bytes, not {type(frame).__name__}")
    if _too_deep(text):
        raise ProtocolError(f"JSON nested deeper than {MAX_DEPTH}", raw=text)
    try:
        obj = json.loads(text, parse_float=Decimal, parse_int=_parse_int, parse_constant=_no_nan)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ProtocolError(f"not JSON: {exc}", raw=text) from None
    if type(obj) is not dict:
        raise ProtocolError("frame is not a JSON object", raw=text)
    if "\\" in text and _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(obj):
        raise ProtocolError("a string holds a lone surrogate (\\ud800-\\udfff): not text", raw=text)
    return obj


def _has_lone_surrogate(value: object) -> bool:
    """Whether a string in `value` (keys included) cannot be encoded: a lone surrogate that a
    JSON escape made. (Surrogate pairs are one character after json.loads.)"""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
        elif type(item) is dict:
            stack.extend(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return False


def _too_deep(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False  # cannot be deeper than the number of openers, brackets in strings included
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        piece = match.group()
        if piece in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif piece in "]}":
            depth -= 1
    return False


def _parse_int(text: str) -> int | Decimal:
    # Python refuses int() of more than 4300 digits; such a number can still be a valid Decimal
    # field value (msgspec agrees), and an int field rejects the Decimal.
    try:
        return int(text)
    except ValueError:
        return Decimal(text)


def _no_nan(text: str) -> object:
    raise ValueError(f"{text} is not JSON")


# ----------------------------------------------------------------------------- field values
# One converter per annotation text used in _events. `what` names the field in errors.


def _bad(what: str, value: object) -> ProtocolError:
    return ProtocolError(f"{what}: unexpected {type(value).__name__} {value!r:.60}")


def _int(value: object, what: str) -> int:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise _bad(what, value)
    return value


def _str(value: object, what: str) -> str:
    if type(value) is not str:
        raise _bad(what, value)
    return value


def _bool(value: object, what: str) -> bool:
    if type(value) is not bool:
        raise _bad(what, value)
    return value


def _decimal(value: object, what: str) -> Decimal:
    if type(value) is Decimal:  # a JSON number with a fraction or exponent, or a huge integer
        number = value
    elif type(value) is int:
        number = Decimal(value)
    elif type(value) is str:
        try:
            number = Decimal(value)
        except ArithmeticError:  # decimal.InvalidOperation
            raise _bad(what, value) from None
    else:
        raise _bad(what, value)
    if not number.is_finite():
        raise _bad(what, value)
    return number


def _optional_decimal(value: object, what: str) -> Decimal | None:
    return None if value is None or value == "" else _decimal(value, what)


def _size(value: object, what: str) -> int | Decimal:
    return _int(value, what) if type(value) is int else _decimal(value, what)


def _optional_size(value: object, what: str) -> int | Decimal | None:
    return None if value is None or value == "" else _size(value, what)


def _str_or_int(value: object, what: str) -> str | int:
    if type(value) is int:
        return _int(value, what)
    if type(value) is not str:
        raise _bad(what, value)
    return value


def _optional_int(value: object, what: str) -> int | None:
    return None if value is None else _int(value, what)


def _plain(value: object, what: str) -> object:  # noqa: ARG001  # the converter signature
    return value


def _strings(value: object, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if type(value) is not list:
        raise _bad(what, value)
    return tuple(_str(item, what) for item in value)


def _level_text(value: object, what: str) -> str:
    # a number keeps its JSON text (Decimal from parse_float keeps it exactly; ints print as is)
    if type(value) is str:
        return value
    if type(value) is int or type(value) is Decimal:
        return str(value)
    raise _bad(what, value)


def _level_size(value: object, what: str) -> int | str:
    return _int(value, what) if type(value) is int else _level_text(value, what)


def _book_level(value: object, what: str) -> BookLevel:
    if type(value) is not dict:
        raise _bad(what, value)
    if "p" not in value or "s" not in value:
        raise ProtocolError(f"{what}: level without p or s: {value!r:.60}")
    return BookLevel(_level_text(value["p"], what), _level_size(value["s"], what))


def _obu_level(value: object, what: str) -> ObuLevel:
    if type(value) is not list or len(value) < 2:
        raise _bad(what, value)
    return ObuLevel(_level_text(value[0], what), _level_size(value[1], what))


def _array_of(item: Callable[[object, str], object]) -> Callable[[object, str], tuple[object, ...]]:
    def convert(value: object, what: str) -> tuple[object, ...]:
        if type(value) is not list:
            raise _bad(what, value)
        return tuple(item(element, what) for element in value)

    return convert


def _record(cls: type[msgspec.Struct]) -> Callable[[object, str], object]:
    def convert(value: object, what: str) -> object:
        return _build(cls, value, what)

    return convert


def _ticker(value: object, what: str) -> Ticker:
    if type(value) is not dict:
        raise _bad(what, value)
    kwargs: dict[str, object] = {}
    for field in _TICKER_FIELDS:
        if field.name not in value:
            if field.required:
                raise ProtocolError(f"ticker without {field.name}: {value!r:.80}")
            continue
        raw = value[field.name]
        where = f"Ticker.{field.name}"
        if field.name in _TICKER_INTS:
            kwargs[field.name] = _int(raw, where)
        elif field.name in _TICKER_PLAIN_STRINGS:
            kwargs[field.name] = _str(raw, where)
        else:  # decimal text, kept unconverted (see Ticker); a number keeps its JSON text
            optional = raw is None and not field.required
            kwargs[field.name] = None if optional else _level_text(raw, where)
    return wrap_ticker(TickerText(**kwargs))  # type: ignore[arg-type]  # checked above


_TICKER_FIELDS: Final = msgspec.structs.fields(TickerText)
_TICKER_INTS: Final = frozenset(f.name for f in _TICKER_FIELDS if f.type in {int, Int64})
_TICKER_PLAIN_STRINGS: Final = frozenset(
    {"contract", "quanto_base_rate", "price_type", "change_from", "event_type"}
)


_SCALARS: Final[dict[str, Callable[[object, str], object]]] = {
    "int": _int,
    "str": _str,
    "PushEvent": _str,
    "bool": _bool,
    "Decimal": _decimal,
    "Decimal | None": _optional_decimal,
    "Size": _size,
    "Size | None": _optional_size,
    "str | int": _str_or_int,
    "int | str": _str_or_int,
    "int | None": _optional_int,
    "object": _plain,
    "tuple[str, ...] | None": _strings,
    "tuple[BookLevel, ...]": _array_of(_book_level),
    "tuple[ObuLevel, ...]": _array_of(_obu_level),
    "Ticker": _ticker,  # not a Struct: a facade over wire text
}


def _converter(annotation: str) -> Callable[[object, str], object]:
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    optional = annotation.endswith(" | None")
    inner = annotation.removesuffix(" | None")
    convert: Callable[[object, str], object]
    if inner.startswith("tuple[") and inner.endswith(", ...]"):
        convert = _array_of(_named(inner[6:-6]))
    else:
        convert = _named(inner)
    if optional:
        return lambda value, what: None if value is None else convert(value, what)
    return convert


def _named(name: str) -> Callable[[object, str], object]:
    return _SCALARS.get(name) or _record(getattr(_events, name))


# (field name, converter, required) per record class, built on first use.
_PLANS: dict[type, tuple[tuple[str, Callable[[object, str], object], bool], ...]] = {}


def _plan(
    cls: type[msgspec.Struct],
) -> tuple[tuple[str, Callable[[object, str], object], bool], ...]:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = tuple(
            (field.name, _converter(field.annotation), field.default is REQUIRED)
            for field in record_fields(cls)
        )
        _PLANS[cls] = plan
    return plan


def _build(cls: type[msgspec.Struct], value: object, what: str) -> Any:
    """A record from a JSON object: every field by its own name, as its annotation says."""
    if type(value) is not dict:
        raise _bad(f"{what} ({cls.__name__})", value)
    kwargs: dict[str, object] = {}
    for name, convert, required in _plan(cls):
        if name in value:
            kwargs[name] = convert(value[name], f"{cls.__name__}.{name}")
        elif required:
            raise ProtocolError(f"{cls.__name__} without {name}: {value!r:.80}")
    return cls(**kwargs)


# --------------------------------------------------------------------------------- envelopes


def _envelope(cls: type, obj: dict[str, Any], result: object) -> Any:
    """A frame event: `result` already built, the envelope fields as sent or the defaults."""
    kwargs: dict[str, object] = _times(obj)
    if "event" in obj:
        kwargs["event"] = _str(obj["event"], "event")
    return cls(result, **kwargs)


def _channel_frame(obj: dict[str, Any], channel: str, frame: str | bytes) -> Event:
    error = obj.get("error")
    if error:  # not empty: null, {}, [], "", false and 0 all say "no error"
        return _error_reply(obj, error, "")
    event = _str(obj["event"], "event") if "event" in obj else None
    if event in _REPLY_EVENTS:
        result = obj.get("result")
        status = result.get("status") if type(result) is dict else None
        if type(status) is str and status in _FAILED:
            return _error_reply(obj, {}, f"result status {status!r}")
        return SubscribeAck(
            channel=channel,
            event=event,
            id=_optional_int(obj.get("id"), "id"),
            payload=_strings(obj.get("payload"), "payload"),
            trace_id=_str(obj.get("trace_id", ""), "trace_id"),
            **_conn_and_times(obj),
        )
    if channel == "futures.pong":
        return Pong(**_conn_and_times(obj))
    if channel == "futures.system":
        result = obj.get("result")
        return _system(obj, result if type(result) is dict else obj, frame)
    builder = _DATA_BUILDERS.get(channel)
    if builder is None:
        return UnknownEvent(
            channel=channel, event=event or "", result=obj.get("result"), **_times(obj)
        )
    if obj.get("result") is None:
        raise ProtocolError(f"{channel} push without result", raw=frame)
    built: Event = builder(obj)
    return built


def _times(obj: dict[str, Any]) -> dict[str, Any]:
    # `time` and `time_ms` as sent, else 0: the default of every event that has them.
    return {
        "time": _int(obj.get("time", 0), "time"),
        "time_ms": _int(obj.get("time_ms", 0), "time_ms"),
    }


def _conn_and_times(obj: dict[str, Any]) -> dict[str, Any]:
    return {"conn_id": _str(obj.get("conn_id", ""), "conn_id"), **_times(obj)}


def _error_reply(obj: dict[str, Any], error: object, message: str) -> ErrorReply:
    # Lenient on purpose: a server that says "error" has refused the request, whatever the
    # shape of the rest, and reading it as malformed would turn that clear refusal into a
    # subscribe timeout. So a field that cannot be read takes its default: a code that is not
    # an integer (nor an integer's text) is 0 and its text goes into the message, an id that is
    # not one is None (the reply then answers the oldest matching request, as for servers
    # that echo no id), and an error that is not an object is the message itself.
    if type(error) is not dict:
        error = {"message": error}
    raw_code = error.get("code", 0)
    code = _lenient_int(raw_code)
    text = error.get("message", message)
    if type(text) is not str:
        text = f"{text!r:.200}"
    if code is None:
        code = 0
        text = f"{text} (unreadable code {raw_code!r:.60})".lstrip()
    payload = obj.get("payload")
    if type(payload) is not list or not all(type(p) is str for p in payload):
        payload = None
    return ErrorReply(
        channel=obj["channel"],
        event=_text_or(obj.get("event"), ""),
        code=code,
        message=text,
        id=_lenient_int(obj.get("id")),
        payload=None if payload is None else tuple(payload),
        trace_id=_text_or(obj.get("trace_id"), ""),
        conn_id=_text_or(obj.get("conn_id"), ""),
        time=_lenient_int(obj.get("time")) or 0,
        time_ms=_lenient_int(obj.get("time_ms")) or 0,
    )


def _lenient_int(value: object) -> int | None:
    """An int64 from a JSON integer, an integral number or an integer's text; else None."""
    if type(value) is str:
        try:
            value = int(value.strip(), 10)
        except ValueError:
            return None
    elif type(value) is Decimal and value.is_finite() and value.adjusted() < 19:
        if value != value.to_integral_value():
            return None
        value = int(value)  # (adjusted() first: int() of 1e999999999 would never end)
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        return None
    return value


def _text_or(value: object, default: str) -> str:
    return value if type(value) is str else default


def _system(obj: dict[str, Any], notice: dict[str, Any], frame: str | bytes) -> Event:
    if "type" not in notice:
        raise ProtocolError("futures.system notice without type", raw=frame)
    kind = _str(notice["type"], "system type")
    msg = _str(notice.get("msg", ""), "system msg")
    if kind == "upgrade":
        return UpgradeRequested(msg=msg, **_times(obj))
    return SystemNotice(type=kind, msg=msg, data=notice.get("data"), **_times(obj))


def _api_reply(obj: dict[str, Any], frame: str | bytes) -> Event:
    header = _api_header(obj["header"], frame)
    request_id = _str(obj.get("request_id"), "request_id")
    data = obj.get("data")
    if data is None:
        data = {}
    elif type(data) is not dict:
        raise ProtocolError("API reply data is not an object", raw=frame)
    if _bool(obj.get("ack", False), "ack"):
        return ApiAck(request_id=request_id, header=header, result=data.get("result"))
    errs = data.get("errs")
    if errs is not None and errs != {}:
        # an answer that says "error" is one, whatever shape its details have: it must end
        # the request it answers as a refusal, not be dropped (and leave it to time out)
        if type(errs) is not dict:
            return ApiError(request_id=request_id, header=header, label="", message=_as_text(errs))
        return ApiError(
            request_id=request_id,
            header=header,
            label=_as_text(errs.get("label", "")),
            message=_as_text(errs.get("message", "")),
        )
    return ApiResult(request_id=request_id, header=header, result=data.get("result"))


_API_TEXT_CHARS: Final = 300
_API_HEADER_PLAN: Final = tuple(
    (field.name, field.annotation, field.default is REQUIRED) for field in record_fields(ApiHeader)
)


def _api_header(value: object, frame: str | bytes) -> ApiHeader:
    """Rule 7's header: `status` (a string, or an integer taken as its digits) and `channel`
    must be readable, since they say what the reply is; any other stamp Gate adds (times, rate
    limits, ids) that has the wrong type is left at its default rather than losing the reply."""
    if type(value) is not dict:
        raise ProtocolError("API reply header is not an object", raw=frame)
    status = value.get("status")
    if type(status) is int:
        status = str(status)
    kwargs: dict[str, object] = {"status": _str(status, "header.status")}
    for name, annotation, _ in _API_HEADER_PLAN:
        if name == "status" or name not in value:
            continue
        try:
            kwargs[name] = _converter(annotation)(value[name], f"header.{name}")
        except ProtocolError:
            if name == "channel":
                raise
    if "channel" not in kwargs:
        raise ProtocolError("API reply header without channel", raw=frame)
    return ApiHeader(**kwargs)  # type: ignore[arg-type]  # each field converted above


def _as_text(value: object) -> str:
    """Gate's label or message as text, whatever JSON it was (a hostile server's number or
    list included), truncated."""
    text = value if type(value) is str else json.dumps(value, default=str)
    return text[:_API_TEXT_CHARS]


# ------------------------------------------------------------------------------ data channels
# One builder per catalogue row; the row says which quirks apply (spec 6.1, 6.4, 6.8).


def _data_builder(
    cls: type[msgspec.Struct], *, lone_object: bool
) -> Callable[[dict[str, Any]], Any]:
    convert = _converter(record_fields(cls)[0].annotation)  # result

    def build(obj: dict[str, Any]) -> Any:
        result = obj["result"]
        if lone_object and type(result) is dict:
            result = [result]  # a lone object is a one-item list
        return _envelope(cls, obj, convert(result, f"{cls.__name__}.result"))

    return build


def _channel_builder(row: Channel) -> Callable[[dict[str, Any]], Any]:
    if len(row.routes) == 1:
        return _data_builder(row.routes[0].frame, lone_object=row.lone_object)
    # Gate switches the frame class on the result's shape (order_book: an array is the legacy
    # update, an object the snapshot): one frame class per shape.
    by_shape: dict[bool, Callable[[dict[str, Any]], Any]] = {}
    for route in row.routes:
        many = record_fields(route.frame)[0].annotation.startswith("tuple[")
        by_shape[many] = _data_builder(route.frame, lone_object=False)

    def build(obj: dict[str, Any]) -> Any:
        return by_shape[type(obj["result"]) is list](obj)

    return build


_DATA_BUILDERS: Final[dict[str, Callable[[dict[str, Any]], Any]]] = {
    row.name: _channel_builder(row) for row in CATALOG
}


def build_record(cls: type[msgspec.Struct], value: object, what: str) -> Any:
    """A record of `cls` from a JSON object (as parsed here), by rule 5.

    For JSON outside channel pushes that holds the same records: trading-API results and REST
    bodies (`_results.py`). Raises `ProtocolError` on a missing field or a wrong type.
    """
    return _build(cls, value, what)
