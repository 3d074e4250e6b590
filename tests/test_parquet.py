"""Recordings as data: the typed parquet schema, read back with pandas and polars; and the
manifest a killed recorder leaves, repaired when the recording is read."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import hypothesis
import msgspec
import pytest
import trio
import trio.testing
from hypothesis import strategies as st

pytest.importorskip("pyarrow")
pytest.importorskip("zstandard")

import gatetrio
from gatetrio import channels
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._events import (
    AdlWarning,
    AdlWarningUpdate,
    Candlestick,
    CandlesticksUpdate,
    LegacyBookEntry,
    LegacyOrderBookUpdate,
)
from gatetrio.recording import FrameLine, Line, open_recorder, read_manifest, read_recording
from gatetrio.recording._files import PartWriter, writer_gone
from gatetrio.recording._format import DropLine, EventLine, Manifest, encode_line
from gatetrio.recording._parquet import export_parquet
from gatetrio.recording._tables import TABLES, fits
from gatetrio.testing import FakeGateServer

from . import strategies
from .helpers import client_config

PUBLIC = (
    channels.trades("BTC_USDT"),
    channels.tickers("BTC_USDT"),
    channels.book_ticker("BTC_USDT"),
    channels.obu("BTC_USDT", level=50),
    channels.order_book_update("BTC_USDT", level="20"),
    channels.order_book("BTC_USDT"),
    channels.candlesticks("BTC_USDT", "1m"),
    channels.candlesticks("BTC_USDT", "1m", price="mark"),
    channels.public_liquidates("BTC_USDT"),
    channels.contract_stats("BTC_USDT", "1m"),
    channels.contract_info("BTC_USDT"),
    channels.adl_warning("BTC_USDT"),
)


async def _drain(client: gatetrio.Client, spec: Any) -> None:
    async with client.subscribe(spec) as sub:
        async for _ in sub:
            pass


async def _record_every_public_channel(directory: Path) -> None:
    async with trio.open_nursery() as nursery:
        gate = FakeGateServer(seed=3)
        await nursery.start(gate.run)
        async with (
            gatetrio.open_client(
                connector=gate.connector, config=client_config(), wall_clock=gate.wall_time
            ) as client,
            open_recorder(
                client, directory, wall_clock=gate.wall_time, in_thread=False, book_snapshots=False
            ),
        ):
            with trio.move_on_after(20):
                async with trio.open_nursery() as inner:
                    for spec in PUBLIC:
                        inner.start_soon(_drain, client, spec)
                    await trio.sleep(5)
                    # what the fake's market does not send by itself
                    warning = AdlWarning(contract="BTC_USDT", settle="usdt", state="warning")
                    gate.push(AdlWarningUpdate(result=msgspec.structs.replace(warning)))
                    legacy = (LegacyBookEntry(p="63000.5", s=-12, c="BTC_USDT", id=7),)
                    gate.push(LegacyOrderBookUpdate(result=legacy, event="update"))
                    gate.push('{"channel":"futures.tickers","event":"update","time_ms":1,'
                              '"result":[{"contract":"BTC_USDT","last":"1e"}]}')  # fmt: skip
        nursery.cancel_scope.cancel()


async def test_every_public_channel_exports_typed_and_reads_back_in_pandas_and_polars(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    import pyarrow as pa
    import pyarrow.parquet as pq

    capture = tmp_path / "capture"
    await _record_every_public_channel(capture)
    caplog.set_level(logging.WARNING, logger="gatetrio.recording")
    written = export_parquet(capture, tmp_path / "tables")
    names = {path.stem for path in written}
    expected = {name for name, _ in TABLES.values()} | {"frames", "events"}
    assert names == expected, expected ^ names  # every public channel has its table
    assert any("could not be typed" in r.getMessage() for r in caplog.records)  # the "1e"

    decimal, ms = pa.decimal128(38, 18), pa.timestamp("ms", tz="UTC")
    book_side = pa.list_(pa.struct([("price", decimal), ("size", decimal)]))
    common = {
        "received": pa.timestamp("ns", tz="UTC"),
        "shard": pa.int32(),
        "conn": pa.int64(),
        "channel": pa.string(),
        "event": pa.string(),
        "push_time": ms,
        "contract": pa.string(),
    }
    expected_types = {
        "trades": {"id": pa.int64(), "time": ms, "price": decimal, "size": decimal},
        "tickers": {"time": ms, "last": decimal, "funding_interval": pa.duration("s")},
        "book_ticker": {"update_id": pa.int64(), "bid_price": decimal, "ask_size": decimal},
        "candlesticks": {"open_time": ms, "open": decimal, "closed": pa.bool_()},
        "public_liquidates": {"time": ms, "price": decimal, "size": decimal},
        "contract_stats": {"time": ms, "lsr_taker": decimal},
        "adl_warning": {"time": ms, "state": pa.string()},
        "order_book_legacy": {"side": pa.string(), "size": decimal},
    }
    for book in ("obu", "order_book_update", "order_book"):  # one shape for one concept
        expected_types[book] = {
            "time": ms,
            "level": pa.int32(),
            "first_update_id": pa.int64(),
            "last_update_id": pa.int64(),
            "full": pa.bool_(),
            "bids": book_side,
            "asks": book_side,
        }
    for path in written:
        schema = pq.read_schema(path)
        assert schema.metadata[b"gatetrio.schema"] == b"gatetrio-parquet/1"
        if path.stem in expected_types:
            for name, arrow_type in {**common, **expected_types[path.stem]}.items():
                assert schema.field(name).type == arrow_type, (path.stem, name)
        frame = pd.read_parquet(path)  # both readers take every table
        table = pl.read_parquet(path)
        assert len(frame) == table.height == written[path]
    for column in common:  # no wire short names anywhere
        assert column in pq.read_schema(tmp_path / "tables" / "trades.parquet").names
    assert not {"t", "s", "u", "U", "b", "a", "B", "A"} & set(
        pq.read_schema(tmp_path / "tables" / "book_ticker.parquet").names
    )

    trades = pl.read_parquet(tmp_path / "tables" / "trades.parquet")
    assert trades.schema["price"] == pl.Decimal(38, 18)
    assert trades.schema["time"] == pl.Datetime("ms", "UTC")
    frames = [line for line in read_recording(capture) if isinstance(line, FrameLine)]
    recorded = [
        trade
        for line in frames
        if '"futures.trades"' in line.text and '"update"' in line.text
        for trade in decode_message(line.text).result  # type: ignore[union-attr]
    ]
    assert trades["id"].to_list() == [t.id for t in recorded]
    assert trades["price"].to_list() == [t.price for t in recorded]
    assert [int(v.timestamp() * 1000) for v in trades["time"].to_list()] == [
        t.create_time_ms for t in recorded
    ]
    candles = pd.read_parquet(tmp_path / "tables" / "candlesticks.parquet")
    assert set(candles["contract"]) == {"BTC_USDT"}
    assert set(candles["price_kind"]) == {"last", "mark"}
    assert isinstance(candles["open"].iloc[0], Decimal)
    legacy = pl.read_parquet(tmp_path / "tables" / "order_book_legacy.parquet")
    assert legacy.row(0, named=True)["side"] == "ask"
    assert legacy.row(0, named=True)["size"] == Decimal(12)
    obu = pl.read_parquet(tmp_path / "tables" / "obu.parquet")
    first = obu.row(0, named=True)
    assert first["full"]
    assert first["first_update_id"] is None
    assert set(first["bids"][0]) == {"price", "size"}
    frames_table = pq.read_table(tmp_path / "tables" / "frames.parquet")
    assert frames_table.num_rows == len(frames)  # the untypable frame is there, raw


# pyarrow rounds a decimal with 40 fractional digits into decimal128(38, 18) silently (to 0)
_TINY_LOW: Final = CandlesticksUpdate(
    result=(
        Candlestick(
            t=0,
            o=Decimal(1),
            h=Decimal(0),
            l=Decimal("5.2899999999999593745571526814873742334708E-37"),
            c=Decimal("0.000000"),
            n="",
            v=None,
            a=None,
            w=False,
        ),
    ),
    time=0,
    time_ms=0,
    event="",
)


@hypothesis.settings(max_examples=30, deadline=None)
@hypothesis.given(st.lists(strategies.data_events, min_size=1, max_size=6))
@hypothesis.example([_TINY_LOW])
def test_any_data_frame_exports_exactly_or_stays_raw(events: list[Any]) -> None:
    """Whatever the values (extreme decimals, int64 ends, private channels), an exported cell
    equals the record's value exactly: a decimal too wide for 38 digits widens, then falls back
    to its text; never rounded, never a crash."""
    import tempfile

    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "capture"
        writer = PartWriter(directory, Manifest(), max_part_bytes=1 << 20)
        data = b"".join(
            encode_line(FrameLine(ns=i, s=0, c=1, t=encode_event(event)))
            for i, event in enumerate(events)
        )
        writer.write_batch(data, len(events), 0, len(events))
        writer.close()
        written = export_parquet(directory, Path(tmp) / "out")
        rows = {
            path.stem: pq.read_table(path).to_pylist()
            for path in written
            if path.stem not in {"frames", "events"}
        }
    typed = 0
    for event in events:
        result = event.result if isinstance(event.result, tuple) else (event.result,)
        typed += len(result)
    assert sum(map(len, rows.values())) <= typed
    for table in rows.values():
        for row in table:
            for name, value in row.items():
                if isinstance(value, Decimal):
                    assert value.is_finite(), name
    for event in events:
        items = event.result if isinstance(event.result, tuple) else (event.result,)
        expected = [_expected(item) for item in items]
        if any(values is None for values in expected):
            continue  # a malformed value: the frame is in frames.parquet only
        for item, values in zip(items, expected, strict=True):
            layout = TABLES.get(type(item))
            if layout is None or values is None:
                continue
            matches = [
                row
                for row in rows.get(layout[0], [])
                if all(_same(row[name], value) for name, value in values.items())
            ]
            assert matches, (layout[0], item)


def _expected(item: object) -> dict[str, object] | None:
    layout = TABLES.get(type(item))
    if layout is None:
        return {}
    try:
        return {column.name: column.get(item) for column in layout[1]}
    except (ArithmeticError, ValueError, TypeError, gatetrio.ProtocolError):
        return None


def _same(cell: object, value: object) -> bool:
    if isinstance(value, Decimal):
        return (isinstance(cell, Decimal) and cell == value) or cell == str(value)
    if isinstance(value, list):
        return isinstance(cell, list) and len(cell) == len(value)
    if isinstance(cell, dt.datetime):  # a timestamp: compare in ms
        return isinstance(value, int) and round(cell.timestamp() * 1000) == value
    if isinstance(cell, dt.timedelta):
        return cell.total_seconds() == value
    return bool(cell == value)


# ------------------------------------------------------------------------- the manifest


def _killed_recording(directory: Path, batches: int, *, max_part_bytes: int = 1 << 20) -> int:
    """A recording whose writer died after `batches` batches (a trailing half batch too): its
    lock released by death, its manifest never closed. Returns how many frames it holds."""
    writer = PartWriter(directory, Manifest(), max_part_bytes=max_part_bytes)
    frames = 0
    for batch in range(batches):
        lines: list[Line] = [
            FrameLine(ns=batch * 100 + i, s=0, c=1, t=json.dumps({"n": i, "pad": "x" * 300}))
            for i in range(50)
        ]
        lines.append(EventLine(ns=batch * 100 + 60, s=0, kind="connected"))
        lines.append(DropLine(ns=batch * 100 + 61, s=0, what="frames", n=3))
        data = b"".join(encode_line(line) for line in lines)
        writer.write_batch(data, len(lines), batch * 100, batch * 100 + 61)
        frames += 50
    fd = writer._fd
    assert fd is not None
    os.write(fd, b"\x28\xb5\x2f\xfd\x00")  # the first bytes of a batch that never finished
    lock = writer._lock
    if lock is not None:
        os.close(lock)  # what the kernel does when the process dies
    return frames


def test_reading_a_killed_recording_repairs_its_manifest(tmp_path: Path) -> None:
    frames = _killed_recording(tmp_path / "rec", 7, max_part_bytes=1500)
    stale = json.loads((tmp_path / "rec" / "manifest.json").read_text())
    assert stale["frames"] == 0
    manifest = read_manifest(tmp_path / "rec")
    assert manifest.repaired
    assert not manifest.closed
    assert (manifest.frames, manifest.events, manifest.frames_dropped) == (frames, 7, 21)
    assert len(manifest.parts) > 1  # it rotated
    assert sum(part.lines for part in manifest.parts) == frames + 14
    assert [part.complete for part in manifest.parts] == [True] * (len(manifest.parts) - 1) + [
        False
    ]
    assert manifest.parts[0].first_ns == 0
    assert manifest.parts[-1].last_ns == 661
    again = json.loads((tmp_path / "rec" / "manifest.json").read_text())
    assert again["frames"] == frames  # written back: the next reader does not recount
    assert again["repaired"]
    assert sum(1 for line in read_recording(tmp_path / "rec") if isinstance(line, FrameLine)) == (
        frames
    )


def test_a_recording_still_being_written_is_not_touched(tmp_path: Path) -> None:
    writer = PartWriter(tmp_path / "live", Manifest(), max_part_bytes=1 << 20)
    line = encode_line(FrameLine(ns=1, s=0, c=1, t="{}"))
    writer.write_batch(line, 1, 1, 1)
    assert not writer_gone(tmp_path / "live")
    before = (tmp_path / "live" / "manifest.json").read_bytes()
    manifest = read_manifest(tmp_path / "live")
    assert not manifest.repaired
    assert (tmp_path / "live" / "manifest.json").read_bytes() == before
    writer.close()
    assert writer_gone(tmp_path / "live")
    assert not (tmp_path / "live" / ".writer.lock").exists()
    assert read_manifest(tmp_path / "live").closed


def test_a_read_only_killed_recording_is_repaired_in_memory(tmp_path: Path) -> None:
    frames = _killed_recording(tmp_path / "ro", 3)
    (tmp_path / "ro").chmod(0o500)
    try:
        manifest = read_manifest(tmp_path / "ro")
        assert (manifest.frames, manifest.repaired) == (frames, True)
    finally:
        (tmp_path / "ro").chmod(0o700)
    if os.geteuid() != 0:  # root writes anyway
        assert json.loads((tmp_path / "ro" / "manifest.json").read_text())["frames"] == 0


@hypothesis.given(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([(38, 18), (76, 38), (5, 2)]),
)
@hypothesis.example(Decimal("5.2899999999999593745571526814873742334708E-37"), (38, 18))
@hypothesis.example(Decimal("1.500000000000000000000000000000"), (38, 18))
@hypothesis.example(Decimal("-99999999999999999999.999999999999999999"), (38, 18))
@hypothesis.example(Decimal("1E+20"), (38, 18))
@hypothesis.example(Decimal("0E-100"), (38, 18))
def test_a_decimal_fits_a_column_exactly_when_nothing_is_lost(
    value: Decimal, shape: tuple[int, int]
) -> None:
    import decimal

    precision, scale = shape
    with decimal.localcontext(decimal.Context(prec=1000, Emax=10**6, Emin=-(10**6))):
        exact = (
            value.quantize(Decimal(1).scaleb(-scale)) == value if value.adjusted() < 900 else False
        )
        small = abs(value) < Decimal(10) ** (precision - scale)
    assert fits(value, precision, scale) == (exact and small)
