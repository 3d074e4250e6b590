"""Record a few seconds of a feed, then replay the recording ten times faster.

    python examples/record_and_replay.py     against the fake exchange, in this process

A recording holds every raw frame as the client received it (with its receive time and
connection) plus the connection events, as zstd-compressed JSON lines in a directory
(`pip install 'gatetrio[record]'`). `ReplayServer` serves it back to any client with its
original timing, here at 10x: a client cannot tell it from the exchange, so a capture of a bad
hour becomes a test. The command line does the same: `python -m gatetrio record ... --out DIR`
and `python -m gatetrio serve --replay DIR --speed 10`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import trio

import gatetrio
from gatetrio import channels
from gatetrio.recording import FrameLine, open_recorder, read_manifest, read_recording
from gatetrio.testing import FakeGateServer, ReplayServer

CONTRACT = "BTC_USDT"
SECONDS = 3.0  # recorded
SPEED = 10.0  # replayed this many times faster


async def count_trades(client: gatetrio.Client, seen: list[gatetrio.Trade]) -> None:
    async with client.subscribe(channels.trades(CONTRACT)) as trades:
        async for trade in trades:
            seen.append(trade)  # noqa: PERF401 - grows while the caller waits


async def record(directory: Path) -> list[gatetrio.Trade]:
    """Record `SECONDS` of the fake's trades into `directory`; the trades the client saw."""
    live: list[gatetrio.Trade] = []
    server = FakeGateServer(seed=4)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with (
            gatetrio.open_client(connector=server.connector, wall_clock=server.wall_time) as client,
            # open the recorder before subscribing, so the subscription's ack is recorded too
            open_recorder(client, directory, wall_clock=server.wall_time) as recorder,
        ):
            with trio.move_on_after(SECONDS):
                await count_trades(client, live)
        stats = recorder.statistics()  # final once the recorder's block has ended
        print(f"recorded {stats.frames} frames, {stats.bytes_written} bytes compressed")
        nursery.cancel_scope.cancel()  # the fake serves until cancelled
    return live


async def replay(directory: Path) -> list[gatetrio.Trade]:
    """Serve the recording at `SPEED`x and read it back with an ordinary client."""
    replayed: list[gatetrio.Trade] = []
    server = ReplayServer.from_directory(directory, speed=SPEED)  # starts on the first subscribe
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with gatetrio.open_client(
            connector=server.connector, wall_clock=server.wall_time
        ) as client:
            started = trio.current_time()
            async with trio.open_nursery() as inner:
                inner.start_soon(count_trades, client, replayed)
                await server.finished.wait()  # every recorded frame was sent
                await trio.sleep(0.2)  # ... and has reached the subscription
                inner.cancel_scope.cancel()
            took = trio.current_time() - started
        print(f"replayed {server.frames_played} frames at {SPEED:g}x in {took:.1f} s")
        nursery.cancel_scope.cancel()
    return replayed


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "capture"
        live = await record(directory)
        manifest = read_manifest(directory)  # parts, line counts, closed cleanly or not
        lines = list(read_recording(directory))  # FrameLine, EventLine (connection events), ...
        frames = sum(isinstance(line, FrameLine) for line in lines)
        print(f"{len(manifest.parts)} part(s), {len(lines)} lines ({frames} frames), ", end="")
        print(f"closed cleanly: {manifest.closed}")
        replayed = await replay(directory)
    for trade in replayed[:5]:
        print(f"  {trade.id}  {trade.contract} {trade.price} x {trade.size}")
    # the same trades in the same order (the recording may hold a few more: frames that came
    # in after the live consumer stopped, before the recorder closed)
    same = [t.id for t in replayed[: len(live)]] == [t.id for t in live]
    print(f"{len(live)} trades live, {len(replayed)} replayed, same trades in order: {same}")


if __name__ == "__main__":
    trio.run(main)
