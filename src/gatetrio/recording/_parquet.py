"""`export_parquet`: a recording as typed tables, one per channel (pyarrow, the `parquet` extra).

Each data push is decoded with gatetrio's own records (`decode_message`); every item of its
`result` becomes a row, with the frame's `received_ns`, `shard`, `conn` and `time_ms`.
Decimals are exported as strings (exact); book levels as lists of `[price, size]` strings.
`frames.parquet` holds every raw frame, `events.parquet` the connection events and
`rest_snapshots.parquet` the REST snapshots (their JSON body as text), so the tables can be
joined back to the capture.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from gatetrio._core._decode import decode_message
from gatetrio._core._errors import ProtocolError, UsageError
from gatetrio._core._events import Ticker
from gatetrio._core._events._ticker import ticker_text

from ._files import DIRECTORY_MODE, FILE_MODE
from ._format import DropLine, EventLine, FrameLine
from ._read import read_recording


def _import_pyarrow() -> Any:
    try:
        import pyarrow as pa  # noqa: PLC0415 - optional dependency
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError:
        from gatetrio._install import install_hint  # noqa: PLC0415 - cold path

        raise UsageError(f"export needs pyarrow: {install_hint('parquet')}") from None
    return pa, pq


def _builtin(value: object) -> object:
    return msgspec.to_builtins(value, enc_hook=_enc_hook)


def _enc_hook(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Ticker):  # a facade over its wire text, not a Struct itself
        return ticker_text(value)
    raise NotImplementedError(type(value))


def _rows(line: FrameLine) -> tuple[str, list[dict[str, object]]] | None:
    try:
        event = decode_message(line.text)
    except ProtocolError:
        return None
    result = getattr(event, "result", None)
    channel = getattr(event, "channel", None)
    if (
        result is None
        or not isinstance(channel, str)
        or getattr(event, "event", "")
        not in (
            "update",
            "all",
        )
    ):
        return None
    items = result if isinstance(result, tuple) else (result,)
    base = {
        "received_ns": line.ns,
        "shard": line.s,
        "conn": line.c,
        "time_ms": getattr(event, "time_ms", None),
    }
    rows = []
    for item in items:
        data = _builtin(item)
        row = dict(base)
        if isinstance(data, dict):
            row.update(data)
        else:
            row["value"] = data
        rows.append(row)
    return channel.removeprefix("futures."), rows


def _table(pa: Any, rows: list[dict[str, object]]) -> Any:
    """A table whose columns keep one type each: a mixed column (int and str sizes) is text."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns: dict[str, list[object]] = {name: [row.get(name) for row in rows] for name in names}
    for name, values in columns.items():
        kinds = {type(v) for v in values if v is not None}
        if len(kinds) > 1 and not kinds <= {int, float}:
            columns[name] = [None if v is None else str(v) for v in values]
    return pa.table(columns)


def export_parquet(directory: str | Path, dest: str | Path | None = None) -> dict[Path, int]:
    """Write `DEST/<channel>.parquet` per channel, `frames.parquet`, `events.parquet` and
    `rest_snapshots.parquet` (when the recording holds any);
    return each written path with its row count. `dest` defaults to `DIRECTORY/parquet`.

    Raises:
        UsageError: no recording in `directory`, or pyarrow is not installed.
    """
    pa, pq = _import_pyarrow()
    source = Path(directory)
    out = Path(dest) if dest is not None else source / "parquet"
    tables: dict[str, list[dict[str, object]]] = {}
    frames: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    snapshots: list[dict[str, object]] = []
    for line in read_recording(source):
        if isinstance(line, FrameLine):
            frames.append(
                {"received_ns": line.ns, "shard": line.s, "conn": line.c, "text": line.text}
            )
            found = _rows(line)
            if found is not None:
                tables.setdefault(found[0], []).extend(found[1])
        elif isinstance(line, EventLine):
            events.append(msgspec.to_builtins(line))
        elif isinstance(line, DropLine):
            events.append({"ns": line.ns, "s": line.s, "kind": f"dropped_{line.what}", "n": line.n})
        else:
            snapshots.append(
                {
                    "received_ns": line.ns,
                    "shard": line.s,
                    "contract": line.contract,
                    "limit": line.limit,
                    "id": line.body.get("id"),
                    "body": msgspec.json.encode(line.body).decode(),
                }
            )
    written: dict[Path, int] = {}
    extra = {"frames": frames, "events": events, "rest_snapshots": snapshots}
    try:
        # private like the recording they come from (recording/_files.py)
        out.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        for name, rows in sorted({**tables, **extra}.items()):
            if not rows:
                continue
            path = out / f"{name}.parquet"
            pq.write_table(_table(pa, rows), path)
            path.chmod(FILE_MODE)
            written[path] = len(rows)
    except OSError as exc:
        raise UsageError(f"cannot export into {out}: {exc.strerror or exc}") from exc
    return written
