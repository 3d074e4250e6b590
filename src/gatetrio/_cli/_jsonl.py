"""Event records as JSON lines, for `python -m gatetrio stream` and anything that pipes events.

One record per line: `{"type": "<record class name>", <fields in declaration order>}`. Decimals
are written as strings (exact; `"63994.5"`, never `63994.5`), ints stay ints, enums are their
value, tuples are arrays. Order-book levels keep Gate's wire shape: `BookLevel` is `{"p", "s"}`
and `ObuLevel` is `[price, size]`. A `Ticker` writes its fields as Gate sent them (decimal text,
`null` when absent). Records nested inside a record (a frame's `result` items, an API header) are
written without a `type` key: their place says what they are. A record's own field named `type`
(`Balance`, `SystemNotice`) is written as `type_` at the top level, where `type` is taken.

msgspec does the encoding (about 1 us per trade line, benchmarks/README.md "End-to-end"); this
module only decides field names and order, once per class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias

import attrs
import msgspec

from gatetrio._core._events import Ticker, TickerText

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["encode_line", "encode_lines"]

_Writer: TypeAlias = "Callable[[object], dict[str, object]]"

_WRITERS: Final[dict[type, _Writer | None]] = {}  # top-level: with the "type" key
_NESTED_WRITERS: Final[dict[type, _Writer | None]] = {}


def _writer(cls: type, *, nested: bool = False) -> _Writer | None:
    """`record -> dict` for a record class, or None if it is not one (built once per class)."""
    cache = _NESTED_WRITERS if nested else _WRITERS
    try:
        return cache[cls]
    except KeyError:
        pass
    names: tuple[str, ...] | None
    prefix = "o."
    if cls is Ticker:
        names, prefix = TickerText.__struct_fields__, "o._text."
    elif attrs.has(cls):
        names = tuple(field.name for field in attrs.fields(cls))
    elif issubclass(cls, msgspec.Struct):
        names = cls.__struct_fields__
    else:
        names = None
    writer = None
    if names is not None:
        writer = _compile_writer(None if nested else cls.__name__, names, prefix)
    cache[cls] = writer
    return writer


def _compile_writer(type_name: str | None, names: tuple[str, ...], prefix: str) -> _Writer:
    # A generated dict display, the way attrs generates __init__: 3x cheaper than looping over
    # the field names per record, and the writer is the stream command's whole per-item cost.
    # Names are class and field identifiers, checked, so nothing foreign reaches exec.
    if not all(name.isidentifier() for name in (type_name or "_", *names)):
        raise TypeError(f"cannot write {type_name}: field names are not identifiers")
    items = [] if type_name is None else [f"'type': {type_name!r}"]
    for name in names:
        # a record's own `type` field (Balance, SystemNotice) would overwrite the record type
        key = "type_" if name == "type" and type_name is not None else name
        items.append(f"{key!r}: {prefix}{name}")
    source = f"def write(o):\n    return {{{', '.join(items)}}}\n"
    namespace: dict[str, _Writer] = {}
    exec(compile(source, f"<gatetrio jsonl writer for {type_name}>", "exec"), namespace)  # noqa: S102
    return namespace["write"]


def _encode_nested(obj: object) -> object:
    # msgspec calls this for what it cannot encode itself. It already writes attrs classes and
    # Structs, so in practice this sees a Ticker nested in a TickersUpdate frame.
    writer = _writer(type(obj), nested=True)
    if writer is None:
        raise TypeError(f"cannot write {type(obj).__name__} as JSON")
    return writer(obj)


# The default order writes a dict in insertion order, i.e. declaration order here (msgspec itself
# writes attrs classes with sorted keys, which is why top-level records go through a dict).
_encoder: Final = msgspec.json.Encoder(enc_hook=_encode_nested)
_NEWLINE: Final = b"\n"


def encode_line(record: object) -> bytes:
    """One event record as a JSON line, newline included.

    Raises:
        TypeError: `record` (or something inside it) has no JSON form.
    """
    cls = type(record)
    writer = _WRITERS[cls] if cls in _WRITERS else _writer(cls)
    return _encoder.encode(record if writer is None else writer(record)) + _NEWLINE


def encode_lines(records: Iterable[object]) -> bytes:
    """Several records as consecutive JSON lines: one write for a batch."""
    return b"".join(map(encode_line, records))
