"""`export_parquet`: a recording as typed tables, one per channel (pyarrow, the `parquet` extra).

Each data push is decoded with gatetrio's own records (`decode_message`); every item of its
`result` becomes a row of its channel's table, typed as `_tables` says (decimals, UTC
timestamps, one shape per concept), with the frame's arrival, shard, connection and push
time. `frames.parquet` holds every raw frame, `events.parquet` the connection events and drop
marks, `rest_snapshots.parquet` the REST snapshots (their JSON body as text), so every table
joins back to the capture. A frame whose items cannot be typed (a malformed value Gate sent)
is in `frames.parquet` only; how many there were is logged.

Why decimals and not strings or floats: exact, like the records they come from, and typed
for the reader: pandas reads them as `decimal.Decimal` objects (`pd.ArrowDtype` keeps them
columnar), polars as its `Decimal` type, DuckDB as `DECIMAL(38,18)`.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from gatetrio._core._catalog import ROUTING_KEYS
from gatetrio._core._decode import decode_message
from gatetrio._core._errors import ProtocolError, UsageError

from ._files import DIRECTORY_MODE, FILE_MODE
from ._format import DropLine, EventLine, FrameLine, RestSnapshotLine
from ._read import read_recording
from ._tables import (
    COMMON,
    SCHEMA_VERSION,
    TABLES,
    TIER_FIELDS,
    contract_of,
    decimals_in,
    fits,
    generic_columns,
    ms,
)

if TYPE_CHECKING:
    from ._tables import Column, Kind

log: Final = logging.getLogger("gatetrio.recording")


def _import_pyarrow() -> Any:
    try:
        import pyarrow as pa  # noqa: PLC0415 - optional dependency
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError:
        from gatetrio._install import install_hint  # noqa: PLC0415 - cold path

        raise UsageError(f"export needs pyarrow: {install_hint('parquet')}") from None
    return pa, pq


class _Table:
    """Rows of one table, column by column, with each column's kind."""

    def __init__(self, kinds: list[tuple[str, Kind]]) -> None:
        self.kinds = kinds
        self.columns: list[list[object]] = [[] for _ in kinds]

    def add(self, values: list[object]) -> None:
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)

    def __len__(self) -> int:
        return len(self.columns[0])


class _Tables:
    """Every table of one export, filled frame by frame."""

    def __init__(self) -> None:
        self.tables: dict[str, _Table] = {}
        self.layouts: dict[type, tuple[str, tuple[Column, ...]]] = dict(TABLES)
        self.untyped = 0  # frames whose items could not be typed (in frames.parquet only)

    def table(self, name: str, kinds: list[tuple[str, Kind]]) -> _Table:
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = _Table(kinds)
        return table

    def layout(self, cls: type, channel: str) -> tuple[str, tuple[Column, ...]]:
        layout = self.layouts.get(cls)
        if layout is None:  # a private channel's record: typed by rule
            layout = self.layouts[cls] = (channel.removeprefix("futures."), generic_columns(cls))
        return layout

    def frame(self, line: FrameLine) -> None:
        try:
            event = decode_message(line.text)
        except ProtocolError:
            return
        if type(event) not in ROUTING_KEYS:  # not a data push (an ack, a pong, a reply)
            return
        result = getattr(event, "result", None)
        channel = getattr(event, "channel", None)
        kind = getattr(event, "event", "")
        if result is None or not isinstance(channel, str) or not isinstance(kind, str):
            return
        items = result if isinstance(result, tuple) else (result,)
        common = [line.ns, line.s, line.c, channel, kind, ms(getattr(event, "time_ms", 0))]
        rows = []
        try:
            for item in items:
                name, columns = self.layout(type(item), channel)
                rows.append((name, columns, [contract_of(item), *(c.get(item) for c in columns)]))
        except (ProtocolError, ArithmeticError, ValueError, TypeError):
            self.untyped += 1  # a malformed value: the whole frame stays in frames.parquet
            return
        for name, columns, values in rows:
            kinds = [*COMMON, *((c.name, c.kind) for c in columns)]
            self.table(name, kinds).add([*common, *values])


_FRAMES: Final[list[tuple[str, Kind]]] = [
    ("received", "time"),
    ("shard", "int32"),
    ("conn", "int64"),
    ("text", "string"),
]
_EVENTS: Final[list[tuple[str, Kind]]] = [
    ("received", "time"),
    ("shard", "int32"),
    ("kind", "string"),
    ("at", "json"),  # trio time, a float: typed apart below
    ("reason", "string"),
    ("channel", "string"),
    ("attempt", "int64"),
    ("url", "string"),
    ("count", "int64"),
]
_SNAPSHOTS: Final[list[tuple[str, Kind]]] = [
    ("received", "time"),
    ("shard", "int32"),
    ("contract", "string"),
    ("limit", "int32"),
    ("book_id", "int64"),
    ("body", "string"),
]


def _blank(text: str) -> str | None:
    return text or None


class _Arrow:
    """Arrow types and arrays for the kinds of `_tables`."""

    def __init__(self, pa: Any) -> None:
        self.pa = pa
        self.decimals = (pa.decimal128(38, 18), pa.decimal256(76, 38))

    def _levels(self, decimal: Any) -> Any:
        pa = self.pa
        return pa.list_(pa.struct([("price", decimal), ("size", decimal)]))

    def _tiers(self, decimal: Any) -> Any:
        pa = self.pa
        fields = [("tier", pa.int64()), *((name, decimal) for name in TIER_FIELDS)]
        return pa.list_(pa.struct(fields))

    def array(self, name: str, kind: Kind, values: list[object]) -> Any:
        pa = self.pa
        if kind in {"decimal", "levels", "tiers"}:
            make = {"decimal": lambda d: d, "levels": self._levels, "tiers": self._tiers}[kind]
            numbers = list(decimals_in(values))
            for decimal in self.decimals:  # exact: widened rather than rounded
                if not all(fits(n, decimal.precision, decimal.scale) for n in numbers):
                    continue  # (pyarrow would round some of them silently)
                try:
                    return pa.array(values, type=make(decimal))
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                    continue
            # wider than 76 digits (never seen from Gate): the exact text, same shape
            return pa.array(_as_text(values), type=make(pa.string()))
        if name == "received":
            return pa.array(values, type=pa.timestamp("ns", tz="UTC"))
        if name == "at":
            return pa.array(values, type=pa.float64())
        if kind == "json":
            text = [None if v is None else msgspec.json.encode(v).decode() for v in values]
            return pa.array(text, type=pa.string())
        types = {
            "int64": pa.int64(),
            "int32": pa.int32(),
            "bool": pa.bool_(),
            "string": pa.string(),
            "time": pa.timestamp("ms", tz="UTC"),
            "duration": pa.duration("s"),
        }
        return pa.array(values, type=types[kind])

    def table(self, name: str, table: _Table) -> Any:
        arrays = [
            self.array(column, kind, values)
            for (column, kind), values in zip(table.kinds, table.columns, strict=True)
        ]
        names = [column for column, _ in table.kinds]
        metadata = {"gatetrio.schema": SCHEMA_VERSION, "gatetrio.table": name}
        return self.pa.Table.from_arrays(arrays, names=names, metadata=metadata)


def _as_text(value: Any) -> Any:
    """Every Decimal inside `value` (lists, dicts) as its exact text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_text(v) for k, v in value.items()}
    return value


def export_parquet(directory: str | Path, dest: str | Path | None = None) -> dict[Path, int]:
    """Write `DEST/<channel>.parquet` per channel, `frames.parquet`, `events.parquet` and
    `rest_snapshots.parquet` (when the recording holds any); return each written path with its
    row count. `dest` defaults to `DIRECTORY/parquet`. The schema is `_tables`'.

    Raises:
        UsageError: no recording in `directory`, pyarrow is not installed, or `dest` cannot
            be written.
    """
    pa, pq = _import_pyarrow()
    source = Path(directory)
    out = Path(dest) if dest is not None else source / "parquet"
    tables = _Tables()
    frames = tables.table("frames", _FRAMES)
    events = tables.table("events", _EVENTS)
    snapshots = tables.table("rest_snapshots", _SNAPSHOTS)
    for line in read_recording(source):
        match line:
            case FrameLine():
                frames.add([line.ns, line.s, line.c, line.text])
                tables.frame(line)
            case EventLine():
                events.add(
                    [
                        line.ns,
                        line.s,
                        line.kind,
                        line.at,
                        _blank(line.reason),
                        _blank(line.channel),
                        line.attempt,
                        _blank(line.url),
                        None,
                    ]
                )
            case DropLine():
                kind = f"dropped_{line.what}"
                events.add([line.ns, line.s, kind, None, None, None, None, None, line.n])
            case RestSnapshotLine():
                book_id = line.body.get("id")
                snapshots.add(
                    [
                        line.ns,
                        line.s,
                        line.contract,
                        line.limit,
                        book_id if isinstance(book_id, int) else None,
                        msgspec.json.encode(line.body).decode(),
                    ]
                )
    if tables.untyped:
        log.warning(
            "export: %d frames held a value that could not be typed; they are in frames.parquet",
            tables.untyped,
        )
    arrow = _Arrow(pa)
    written: dict[Path, int] = {}
    try:
        # private like the recording they come from (recording/_files.py)
        out.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        for name, table in sorted(tables.tables.items()):
            if not len(table):
                continue
            path = out / f"{name}.parquet"
            pq.write_table(arrow.table(name, table), path)
            path.chmod(FILE_MODE)
            written[path] = len(table)
    except OSError as exc:
        raise UsageError(f"cannot export into {out}: {exc.strerror or exc}") from exc
    return written
