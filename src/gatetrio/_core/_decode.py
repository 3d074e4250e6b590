"""The decode hot path: one Gate frame in, one typed event out. Pure: no trio, no clock reads.

`decode_message` makes one msgspec call, into the union of the public frame classes: they are
Structs tagged by `channel`, so msgspec picks the channel's types itself, in C, from the frame's
own top-level `channel`. It then checks that the result means what the reference decoder
(`_reference_decode.py`, which defines the semantics) would say; whenever it is not certain it
hands the frame to the reference decoder. So the two agree by construction, and every quirk of
the spec lives in one place.

The typed result stands only if (each guards a way it could differ from the reference):
- msgspec decoded it: a JSON object whose top-level `channel` is a routed data channel (msgspec
  rejects duplicate `channel` keys that disagree), every field of the documented type, and no
  top-level key beyond Gate's envelope (`forbid_unknown_fields`): so a frame with an `error`
  key, which may make it an ErrorReply, or an old `"id":null`, goes to the reference;
- its `event` is not subscribe/unsubscribe, an ack (`PushEvent` makes msgspec refuse both);
- every Decimal is finite (msgspec, like `Decimal()`, accepts "NaN" and "Infinity");
- every int fits in int64: msgspec checks that itself, in C, because `_events` gives it each
  int field as `Int64` (a 401-digit `time_ms` fails there and the reference says why);
- the frame has no backslash (one memchr): an escaped lone surrogate (`"\\ud800"`) is not text,
  and the reference refuses it. Gate escapes nothing in its hot frames (none in the captures).
Anything else (acks, errors, pongs, system notices, trading-API replies, unknown channels,
the shape-switching legacy order book, free-form autoorders) takes the reference path.
Measured design choices and figures: benchmarks/README.md, "Decode".
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Union

import msgspec

from ._catalog import CATALOG
from ._events import Event, Frame, TickersUpdate, record_classes, record_fields
from ._events._ticker import TickerText, wrap_ticker
from ._reference_decode import decode_message_reference

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["decode_message"]

# Any escape at all: one memchr (~10 ns a frame); searching for the two characters "\\u"
# costs ~400 ns, as much as a fifth of a decode.
_ESCAPE: Final = "\\"
_ESCAPE_BYTES: Final = b"\\"


def decode_message(frame: str | bytes) -> Event:
    """Decode one frame Gate sent. Returns an event or raises `ProtocolError`, nothing else."""
    try:
        event = _DECODE(frame)
    except Exception:  # noqa: BLE001  # not a routed data frame as expected: the reference decides
        return decode_message_reference(frame)
    if (_ESCAPE if frame.__class__ is str else _ESCAPE_BYTES) in frame:  # type: ignore[operator]
        return decode_message_reference(frame)  # an escape may be a lone surrogate
    finish = _FINISH[event.__class__]
    if finish is None:
        return event  # type: ignore[no-any-return]
    return finish(event) or decode_message_reference(frame)


def _decode_typed(frame: str | bytes) -> Event | None:
    """The typed path alone: its event, or None where `decode_message` asks the reference.

    For tests and the benchmark, which must know that the fast path did the work.
    """
    try:
        event = _DECODE(frame)
    except Exception:  # noqa: BLE001
        return None
    if (_ESCAPE if frame.__class__ is str else _ESCAPE_BYTES) in frame:  # type: ignore[operator]
        return None
    finish = _FINISH[event.__class__]
    return event if finish is None else finish(event)


# ------------------------------------------------------------------------------------ routes

_RECORDS: Final = record_classes()


def _finite_lines(cls: type[msgspec.Struct], var: str, depth: int) -> list[str]:
    """Source lines that `return None` if a Decimal in record `var` is not finite."""
    lines: list[str] = []
    for field in record_fields(cls):
        get = f"{var}.{field.name}"
        if field.annotation == "Decimal":
            lines.append(f"if not {get}.is_finite(): return None")
        elif field.annotation == "Decimal | None":
            lines.append(f"v = {get}")
            lines.append("if v is not None and not v.is_finite(): return None")
        elif field.annotation in {"Size", "Size | None"}:  # an int, mostly
            lines.append(f"v = {get}")
            lines.append("if v.__class__ is Decimal and not v.is_finite(): return None")
        else:
            inner = field.annotation.removesuffix(" | None")
            many = inner.startswith("tuple[") and inner.endswith(", ...]")
            nested = _RECORDS.get(inner[6:-6] if many else inner)
            body = [] if nested is None else _finite_lines(nested, f"r{depth}", depth + 1)
            if body:
                source = get if many else f"({get},)"
                if inner != field.annotation:
                    source = f"({get} or ())" if many else f"(() if {get} is None else ({get},))"
                lines.append(f"for r{depth} in {source}:")
                lines.extend("    " + line for line in body)
    return lines


def _finisher(annotation: str) -> Callable[[Any], Event | None] | None:
    """For a frame whose `result` has this annotation: a function returning the frame if every
    Decimal in it is finite, else None (ask the reference); None if the result holds no Decimal.

    Generated source, as attrs generates `__init__`: it runs on every decoded frame, and a
    generic loop over field names cost 3-5x more (benchmarks/README.md, "Decode"). The names come
    from the record classes, which are identifiers, so nothing foreign reaches `exec`.
    """
    many = annotation.startswith("tuple[")
    cls = _RECORDS[annotation[6:-6] if many else annotation]
    body = _finite_lines(cls, "r", 1)
    if not body:
        return None
    if many:
        body = ["for r in event.result:", *("    " + line for line in body)]
    else:
        body = ["r = event.result", *body]
    source = "def finish(event):\n" + "".join(f"    {line}\n" for line in [*body, "return event"])
    namespace: dict[str, Any] = {"Decimal": Decimal}
    exec(compile(source, f"<finite check for {cls.__name__}>", "exec"), namespace)  # noqa: S102
    finish: Callable[[Any], Event | None] = namespace["finish"]
    return finish


class _TickersText(Frame, tag="futures.tickers", frozen=True):
    """A tickers frame with wire-text tickers; `_tickers` turns it into a TickersUpdate."""

    result: tuple[TickerText, ...]


def _tickers(text: _TickersText) -> TickersUpdate:
    tickers = tuple(map(wrap_ticker, text.result))
    return TickersUpdate(tickers, text.time, text.time_ms, text.event)


def _routes() -> dict[type[msgspec.Struct], Callable[[Any], Event | None] | None]:
    """The union's members (the public frame classes, tickers aside), each with what is left to
    do after msgspec: None, or a function returning the event or None (ask the reference)."""
    finish: dict[type[msgspec.Struct], Callable[[Any], Event | None] | None] = {
        _TickersText: _tickers
    }
    for row in CATALOG:
        # Rows the catalogue leaves to the reference: free-form JSON (autoorders: its depth
        # limit and Decimal floats are the reference's), or a result whose shape picks the class.
        if not row.typed_decode:
            continue
        for route in row.routes:
            if route.frame is not TickersUpdate:
                finish[route.frame] = _finisher(record_fields(route.frame)[0].annotation)
    return finish


_FINISH: Final = _routes()
ROUTED_CHANNELS: Final = frozenset(str(cls.__struct_config__.tag) for cls in _FINISH)
_DECODE: Final = msgspec.json.Decoder(Union[tuple(_FINISH)]).decode  # noqa: UP007  # built at runtime
