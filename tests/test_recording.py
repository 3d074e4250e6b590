"""Recording and timed replay: record the fake (with faults) and replay it into the client."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import trio
import trio.testing
from hypothesis import strategies as st

import gatetrio
import gatetrio.events
from gatetrio import channels
from gatetrio._core._book import BookSync, ObuStatus, ObuSync, parse_rest_snapshot
from gatetrio.recording import (
    DropLine,
    EventLine,
    FrameLine,
    RestSnapshotLine,
    open_recorder,
    read_manifest,
    read_recording,
)
from gatetrio.recording._files import PartWriter, part_paths, read_part
from gatetrio.recording._format import Manifest
from gatetrio.recording._snapshots import StreamWatch
from gatetrio.testing import FakeGateServer, ReplayServer, parse_fault

from .helpers import client_config

CONTRACTS = ("BTC_USDT", "ETH_USDT")
FAULTS = ("drop@8", "gap:BTC_USDT:5@12", "upgrade:2@18")

Book = tuple[list[tuple[object, ...]], list[tuple[object, ...]]]


def _levels(book: gatetrio.OrderBook) -> Book:
    return (
        [tuple(level) for level in book.bids()],
        [tuple(level) for level in book.asks()],
    )


async def _follow_trades(client: gatetrio.Client, into: list[int]) -> None:
    async with client.subscribe(channels.trades(*CONTRACTS)) as trades:
        async for trade in trades:
            into.append(trade.id)  # noqa: PERF401 - grows while the test runs


async def _follow_book(client: gatetrio.Client, into: list[tuple[int, Book]]) -> None:
    async with client.order_book("BTC_USDT", depth=50, method="obu") as live:
        async for update_id in live:
            into.append((update_id, _levels(live.book)))  # noqa: PERF401 - grows while running


async def _record(directory: Path, seconds: float) -> list[int]:
    """Record `seconds` of the fake with faults injected; the trade ids the client received."""
    trade_ids: list[int] = []
    async with trio.open_nursery() as nursery:
        gate = FakeGateServer(seed=3)
        await nursery.start(gate.run)
        nursery.start_soon(gate.run_faults, [parse_fault(f) for f in FAULTS])
        async with (
            gatetrio.open_client(
                connector=gate.connector, config=client_config(), wall_clock=gate.wall_time
            ) as client,
            open_recorder(
                client, directory, wall_clock=gate.wall_time, in_thread=False
            ) as recorder,
        ):
            with trio.move_on_after(seconds):
                async with trio.open_nursery() as inner:
                    inner.start_soon(_follow_trades, client, trade_ids)
                    inner.start_soon(_follow_book, client, [])
            assert recorder.statistics().frames_dropped == 0
        nursery.cancel_scope.cancel()
    return trade_ids


def _books_from_recording(directory: Path) -> dict[int, Book]:
    """Every book state of ob.BTC_USDT.50 the recording's frames lead to, by update id."""
    sync = ObuSync("BTC_USDT")
    books: dict[int, Book] = {}
    for line in read_recording(directory):
        if not isinstance(line, FrameLine) or '"ob.BTC_USDT.50"' not in line.text:
            continue
        event = gatetrio.events.decode_message(line.text)
        if not isinstance(event, gatetrio.events.ObuUpdate):
            continue
        if sync.feed(event.result) is ObuStatus.APPLIED and sync.book.update_id is not None:
            books[sync.book.update_id] = _levels(sync.book)
    return books


async def test_record_then_replay_at_10x_gives_the_same_trades_and_books(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recorded_trades = await _record(tmp_path, 30.0)
    lines = list(read_recording(tmp_path))
    kinds = {line.kind for line in lines if isinstance(line, EventLine)}
    # the faults are in the capture, explained by connection events
    assert {"disconnected", "upgrade", "book_resync"} - kinds == set() or "disconnected" in kinds
    assert read_manifest(tmp_path).closed
    assert len(recorded_trades) > 100
    expected_books = _books_from_recording(tmp_path)

    replay = ReplayServer.from_directory(tmp_path, speed=10.0)
    replayed_trades: list[int] = []
    replayed_books: list[tuple[int, Book]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(replay.run)
        started = trio.current_time()
        async with (
            gatetrio.open_client(
                connector=replay.connector, config=client_config(), wall_clock=replay.wall_time
            ) as client,
            trio.open_nursery() as inner,
        ):
            inner.start_soon(_follow_trades, client, replayed_trades)
            inner.start_soon(_follow_book, client, replayed_books)
            await replay.finished.wait()
            await trio.sleep(1.0)  # the last frames reach the consumers
            inner.cancel_scope.cancel()
        # 30 s at 10x, after a 1 s lead-in: the timing held
        assert 3.0 < trio.current_time() - started < 6.0
        nursery.cancel_scope.cancel()

    # the same trades in the same order; the recording also holds the few frames that arrived
    # after the recording client's consumer stopped, before the recorder closed
    assert replayed_trades[: len(recorded_trades)] == recorded_trades
    assert len(replayed_trades) - len(recorded_trades) <= 5
    assert len(replayed_books) > 50
    for update_id, book in replayed_books:
        assert book == expected_books[update_id], update_id


async def test_replay_as_fast_as_possible_serves_only_what_was_subscribed(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recorded = await _record(tmp_path, 5.0)
    btc_recorded = [i for i in recorded if i]  # ids of both contracts, in order
    replay = ReplayServer.from_directory(tmp_path, speed=math.inf)
    got: list[gatetrio.Trade] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(replay.run)
        async with (
            gatetrio.open_client(
                connector=replay.connector, config=client_config(), wall_clock=replay.wall_time
            ) as client,
            client.subscribe(channels.trades("ETH_USDT")) as trades,
        ):
            with trio.move_on_after(30):
                async for trade in trades:
                    got.append(trade)  # noqa: PERF401
        nursery.cancel_scope.cancel()
    assert got
    assert {t.contract for t in got} == {"ETH_USDT"}
    assert len(got) < len(btc_recorded)


async def test_a_slow_disk_drops_frames_and_counts_them_where_they_were_lost(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async def slow_disk(nbytes: int) -> None:
        await trio.sleep(1.0)  # a batch of 32 lines a second: slower than obu level 50

    async with trio.open_nursery() as nursery:
        gate = FakeGateServer(seed=1)
        await nursery.start(gate.run)
        async with (
            gatetrio.open_client(
                connector=gate.connector, config=client_config(), wall_clock=gate.wall_time
            ) as client,
            open_recorder(
                client,
                tmp_path,
                buffer=64,
                batch_lines=32,
                wall_clock=gate.wall_time,
                throttle=slow_disk,
                in_thread=False,
            ) as recorder,
            client.subscribe(channels.obu("BTC_USDT", level=50), buffer=100_000) as book,
        ):
            with trio.move_on_after(20):
                async for _ in book:
                    pass
            stats = recorder.statistics()
        nursery.cancel_scope.cancel()
    assert stats.frames_dropped > 0
    lines = list(read_recording(tmp_path))
    marked = sum(line.n for line in lines if isinstance(line, DropLine) and line.what == "frames")
    manifest = read_manifest(tmp_path)
    assert marked == manifest.frames_dropped >= stats.frames_dropped
    frames = sum(isinstance(line, FrameLine) for line in lines)
    assert frames == manifest.frames
    # every frame received is either in the recording or counted as dropped: the obu pushes,
    # plus the ack and the pongs (frames that are no subscription's items)
    non_items = sum(
        isinstance(line, FrameLine) and '"event":"update"' not in line.text for line in lines
    )
    assert 1 <= non_items <= frames + marked - book.statistics().messages_received <= 8


@hypothesis.settings(deadline=None, max_examples=60)
@hypothesis.given(
    batches=st.lists(
        st.lists(st.text(max_size=30).map(lambda t: f'{{"x":{len(t)}}}'), min_size=1, max_size=5),
        min_size=1,
        max_size=6,
    ),
    cut=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_part_cut_anywhere_reads_back_every_completed_batch(
    batches: list[list[str]], cut: float
) -> None:
    """What a SIGKILL mid-write leaves: whole zstd frames, then part of one at most."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        writer = PartWriter(directory, Manifest(), max_part_bytes=1 << 30)
        ends = []
        for batch in batches:
            writer.write_batch("".join(f"{line}\n" for line in batch).encode(), len(batch), 0, 0)
            ends.append(writer.bytes_written)
        (part,) = part_paths(directory)
        data = part.read_bytes()
        keep = round(len(data) * cut)
        part.write_bytes(data[:keep])
        whole = sum(1 for end in ends if end <= keep)
        expected = [line.encode() for batch in batches[:whole] for line in batch]
        assert list(read_part(part)) == expected


def test_open_recorder_checks_its_arguments(tmp_path: Path) -> None:
    (tmp_path / "part-00000.jsonl.zst").write_bytes(b"")
    with pytest.raises(gatetrio.UsageError, match="already holds a recording"):
        PartWriter(tmp_path, Manifest(), max_part_bytes=1)
    with pytest.raises(gatetrio.UsageError, match="holds no recording"):
        read_manifest(tmp_path / "nothing")


async def test_the_replays_rest_snapshot_is_the_replayed_book(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    await _record(tmp_path, 4.0)
    expected = _books_from_recording(tmp_path)
    replay = ReplayServer.from_directory(tmp_path, speed=1.0, start="now")
    async with trio.open_nursery() as nursery:
        await nursery.start(replay.run)
        await trio.sleep(2.0)
        body = await replay.fetch_order_book("BTC_USDT", 5)
        status, raw = replay.handle_http(
            "GET", "/api/v4/futures/usdt/order_book?contract=BTC_USDT&limit=5&with_id=true", {}
        )
        nursery.cancel_scope.cancel()
    assert status == 200
    assert json.loads(raw) == body
    update_id = body["id"]
    assert isinstance(update_id, int)
    bids, asks = expected[update_id]
    rest_bids: Any = body["bids"]
    assert [(Decimal(level["p"]), Decimal(level["s"])) for level in rest_bids] == [
        (Decimal(str(p)), Decimal(str(s))) for p, s in bids[:5]
    ]
    rest_asks: Any = body["asks"]
    assert len(rest_asks) == 5
    assert asks


async def test_raw_frames_checks_its_arguments(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        gate = FakeGateServer()
        await nursery.start(gate.run)
        async with gatetrio.open_client(connector=gate.connector, wall_clock=gate.wall_time) as c:
            with pytest.raises(gatetrio.UsageError, match="buffer"):
                async with c.raw_frames(buffer=0):
                    pass
            with pytest.raises(gatetrio.UsageError, match="CONFLATE"):
                async with c.raw_frames(overflow=gatetrio.OverflowPolicy.CONFLATE):
                    pass
        nursery.cancel_scope.cancel()


async def test_a_cancellation_from_outside_loses_no_line(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """`record --duration` and Ctrl-C end the recorder by cancelling around it: the batches
    still pending then must reach the disk, and the closing mark with them."""
    async with trio.open_nursery() as nursery:
        gate = FakeGateServer(seed=5)
        await nursery.start(gate.run)
        with trio.move_on_after(3.0):
            async with (
                gatetrio.open_client(
                    connector=gate.connector, config=client_config(), wall_clock=gate.wall_time
                ) as client,
                open_recorder(client, tmp_path, wall_clock=gate.wall_time, in_thread=False),
                client.subscribe(channels.trades("BTC_USDT")),
            ):
                await trio.sleep_forever()
        nursery.cancel_scope.cancel()
    lines = list(read_recording(tmp_path))
    frames = [line for line in lines if isinstance(line, FrameLine)]
    assert len(frames) == read_manifest(tmp_path).frames > 0
    last = lines[-1]
    assert isinstance(last, EventLine)
    assert last.kind == "recording_stopped"


# ---------------------------------------------------------------- order_book_update books

UPDATE_FAULTS = ("gap:BTC_USDT:5@6", "drop@12")
UPDATE_DEPTH = 20  # the level-20 stream, and REST snapshots of 20 levels


async def _follow_update_book(
    client: gatetrio.Client,
    fetcher: Any,
    into: list[tuple[int, Book]],
    ready: trio.Event | None = None,
) -> None:
    async with client.order_book(
        "BTC_USDT", depth=UPDATE_DEPTH, method="order_book_update", snapshot_fetcher=fetcher
    ) as live:
        await live.wait_ready()
        if ready is not None:
            ready.set()
        async for update_id in live:
            into.append((update_id, _levels(live.book)))  # noqa: PERF401 - grows while running


async def _record_a_book(
    directory: Path,
    seconds: float,
    *,
    seed: int,
    faults: Sequence[str] = (),
    fetcher: Any = None,
) -> tuple[FakeGateServer, gatetrio.recording.RecorderStatistics]:
    """Record BTC_USDT's level-20 order_book_update book from a fake for `seconds`, with
    `faults` on their schedule and REST snapshots from `fetcher` (default: the fake's own).
    Returns the fake, stopped but still able to say what its book was at any recent id."""
    async with trio.open_nursery() as nursery:
        gate = FakeGateServer(seed=seed, rest_latency=0.05)
        await nursery.start(gate.run)
        nursery.start_soon(gate.run_faults, [parse_fault(f) for f in faults])
        async with (
            gatetrio.open_client(
                connector=gate.connector, config=client_config(), wall_clock=gate.wall_time
            ) as client,
            open_recorder(
                client,
                directory,
                wall_clock=gate.wall_time,
                in_thread=False,
                snapshot_fetcher=fetcher or gate.fetch_order_book,
            ) as recorder,
        ):
            with trio.move_on_after(seconds):
                await _follow_update_book(client, gate.fetch_order_book, [])
            stats = recorder.statistics()
        nursery.cancel_scope.cancel()
    return gate, stats


async def _record_update_books(directory: Path, seconds: float) -> list[tuple[int, Book]]:
    """Record an order_book_update book of the fake, with a gap and a reconnect injected;
    every recorded book is checked against the fake's own book at its id."""
    gate, _ = await _record_a_book(directory, seconds, seed=5, faults=UPDATE_FAULTS)
    recorded: list[tuple[int, Book]] = []
    for update_id, book in _update_books_from_recording(directory).items():
        state = gate.book_at("BTC_USDT", update_id, depth=UPDATE_DEPTH)
        assert book == (list(state.bids), list(state.asks)), update_id
        recorded.append((update_id, book))
    return recorded


def _update_books_from_recording(directory: Path) -> dict[int, Book]:
    """Every book of BTC_USDT's level-20 order_book_update stream the recording leads to: its
    REST snapshot lines plus its deltas, as a client syncs them."""
    sync = BookSync("BTC_USDT")
    books: dict[int, Book] = {}
    for line in read_recording(directory):
        if isinstance(line, RestSnapshotLine):
            if (line.contract, line.limit) == ("BTC_USDT", UPDATE_DEPTH):
                snapshot = parse_rest_snapshot(line.body)
                sync.load_snapshot(snapshot.id, snapshot.bids, snapshot.asks, t=snapshot.t)
        elif isinstance(line, FrameLine) and '"futures.order_book_update"' in line.text:
            event = gatetrio.events.decode_message(line.text)
            if isinstance(event, gatetrio.events.OrderBookUpdate) and event.result.s == "BTC_USDT":
                sync.feed(event.result)
        else:
            continue
        if sync.book.ready and sync.book.update_id is not None:
            books[sync.book.update_id] = _levels(sync.book)
    return books


async def test_order_book_update_books_replay_exactly_from_the_recorded_rest_snapshots(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recorded = await _record_update_books(tmp_path, 20.0)
    assert len(recorded) > 100  # the recording's books, each the fake's own at its id
    lines = list(read_recording(tmp_path))
    snapshots = [line for line in lines if isinstance(line, RestSnapshotLine)]
    # one when the stream started, one after the gap, one after the reconnect
    assert len(snapshots) >= 3
    assert {(line.contract, line.limit) for line in snapshots} == {("BTC_USDT", UPDATE_DEPTH)}
    assert all(isinstance(line.body["id"], int) for line in snapshots)
    assert read_manifest(tmp_path).snapshots == len(snapshots)
    expected = dict(recorded)

    replay = ReplayServer.from_directory(tmp_path, speed=10.0)
    first: list[tuple[int, Book]] = []
    late: list[tuple[int, Book]] = []
    late_ready = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(replay.run)
        async with (
            gatetrio.open_client(
                connector=replay.connector, config=client_config(), wall_clock=replay.wall_time
            ) as client,
            gatetrio.open_client(
                connector=replay.connector, config=client_config(), wall_clock=replay.wall_time
            ) as latecomer,
            trio.open_nursery() as inner,
        ):
            inner.start_soon(_follow_update_book, client, replay.fetch_order_book, first)
            await trio.sleep(1.0 + 1.5)  # the lead-in, then 15 s of the recording at 10x
            assert first
            inner.start_soon(
                _follow_update_book, latecomer, replay.fetch_order_book, late, late_ready
            )
            with trio.fail_after(1.0):
                await late_ready.wait()
            await replay.finished.wait()
            await trio.sleep(1.0)
            inner.cancel_scope.cancel()
        nursery.cancel_scope.cancel()

    gap_at = snapshots[1].body["id"]
    assert len(first) > 50
    assert any(update_id > gap_at for update_id, _ in first)  # in sync again after the gap
    assert len(late) > 10
    assert late[0][0] > first[0][0]
    for update_id, book in first + late:
        assert book == expected[update_id], update_id


def test_the_stream_watch_asks_for_a_snapshot_at_a_start_and_after_a_gap() -> None:
    watch = StreamWatch()

    def push(first: int, last: int, **extra: object) -> str:
        result = {"t": 1, "s": "BTC_USDT", "U": first, "u": last, "b": [], "a": [], "l": "20"}
        frame = {"channel": "futures.order_book_update", "event": "update", "result": result}
        return json.dumps({**frame, "result": {**result, **extra}})

    assert watch.needs_snapshot(push(10, 12)) == ("BTC_USDT", 20)  # a stream starts
    assert watch.needs_snapshot(push(13, 14).encode()) is None  # contiguous (binary frame)
    assert watch.needs_snapshot(push(12, 14)) is None  # seen already (two sockets overlap)
    assert watch.needs_snapshot(push(17, 18)) == ("BTC_USDT", 20)  # a gap
    assert watch.needs_snapshot(push(30, 31, full=True)) is None  # a full push is a base
    assert watch.needs_snapshot(push(32, 33)) is None
    ack = {"channel": "futures.order_book_update", "event": "subscribe", "result": {}}
    assert watch.needs_snapshot(json.dumps(ack)) is None
    assert watch.needs_snapshot('{"channel":"futures.trades","event":"update"}') is None


async def test_a_snapshot_that_keeps_failing_is_recorded_as_an_event(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    calls: list[str] = []

    async def failing(contract: str, limit: int) -> dict[str, object]:
        calls.append(contract)
        await trio.sleep(0.01)
        raise gatetrio.ConnectionLost("REST is down")

    _, stats = await _record_a_book(tmp_path, 10.0, seed=2, fetcher=failing)
    assert stats.snapshots == 0
    assert len(calls) == 5  # retried, then given up on
    lines = list(read_recording(tmp_path))
    (failed,) = [line for line in lines if isinstance(line, EventLine) and line.attempt == 5]
    assert failed.kind == "rest_snapshot_failed"
    assert failed.channel == "BTC_USDT"
    assert "REST is down" in failed.reason
    assert sum(isinstance(line, FrameLine) for line in lines) > 100


async def test_export_parquet_writes_the_rest_snapshots(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from gatetrio.recording._parquet import export_parquet

    _, stats = await _record_a_book(tmp_path / "capture", 3.0, seed=2)
    assert stats.snapshots == 1
    written = export_parquet(tmp_path / "capture", tmp_path / "tables")
    assert written[tmp_path / "tables" / "rest_snapshots.parquet"] == 1
    table = pq.read_table(tmp_path / "tables" / "rest_snapshots.parquet")
    (snapshot,) = [
        line for line in read_recording(tmp_path / "capture") if isinstance(line, RestSnapshotLine)
    ]
    assert table.column("book_id").to_pylist() == [snapshot.body["id"]]
    assert json.loads(table.column("body").to_pylist()[0]) == snapshot.body
    assert (tmp_path / "tables" / "order_book_update.parquet").exists()
