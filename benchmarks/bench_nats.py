"""NATS fan-out: gatetrio's publish path against a bare nats-py publish loop, same run.

    python -m benchmarks nats

Starts one nats-server (the `test` extra's binary) on a free loopback port, then measures:
- bare: nats-py `publish_async` of N pre-built messages from an asyncio loop, acks awaited;
- gatetrio: the same messages through `Publisher.put` (trio) -> bridge thread -> JetStream,
  read back by `open_consumer` in the same process: events/s end to end, and the added latency
  (put -> consumer) p50/p99;
- payload: canonical JSON (`encode_payload`) against msgpack via msgspec, encode and size.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import trio

import gatetrio
from gatetrio.nats import envelope, open_consumer, open_publisher
from gatetrio.nats._bridge import MSG_ID_HEADER
from gatetrio.testing import FakeGateServer

if TYPE_CHECKING:
    from collections.abc import Sequence

MESSAGES = 20_000


def _trades(n: int, start: int = 10**9) -> list[gatetrio.Trade]:
    from decimal import Decimal

    return [
        gatetrio.Trade(id=start + i, contract="BTC_USDT", price=Decimal("63990.1"), size=i % 50 + 1)
        for i in range(n)
    ]


def _server(tmp: str) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = str(Path(sys.executable).parent / "nats-server")
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", tmp],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    return proc, f"nats://127.0.0.1:{port}"


async def _bare(url: str, n: int) -> float:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="BARE", subjects=["bare.>"])
    envs = [envelope(t, settle="usdt", prefix="bare") for t in _trades(n)]
    t0 = time.perf_counter()
    futures = [
        await js.publish_async(e.subject, e.payload, headers={MSG_ID_HEADER: e.msg_id})
        for e in envs
    ]
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - t0
    await nc.close()
    return n / elapsed


async def _gatetrio(url: str, n: int) -> tuple[float, list[float]]:
    server = FakeGateServer(seed=1)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with (
            gatetrio.open_client(
                url="wss://fx-ws.gateio.ws/v4/ws/usdt",
                connector=server.connector,
                wall_clock=server.wall_time,
            ) as client,
            open_publisher(client, url, buffer=n) as publisher,
        ):
            await publisher.wait_ready()
            trades = _trades(n, start=2 * 10**9)
            async with open_consumer(url, ["gate.futures.usdt.trades.BTC_USDT"]) as sub:
                t0 = time.perf_counter()
                for trade in trades:
                    sent[trade.id] = time.perf_counter()
                    await publisher.put(envelope(trade, settle="usdt"))
                got = 0
                async for item in sub:
                    latencies.append(time.perf_counter() - sent[item.id])  # type: ignore[union-attr]
                    got += 1
                    if got == n:
                        break
                elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return n / elapsed, latencies


def _payloads() -> None:
    trade = _trades(1)[0]
    json_bytes = envelope(trade, settle="usdt").payload
    as_obj: Any = msgspec.json.decode(json_bytes)
    packer = msgspec.msgpack.Encoder()
    mp = packer.encode(as_obj)
    n = 50_000
    t0 = time.perf_counter()
    for _ in range(n):
        envelope(trade, settle="usdt")
    json_us = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for _ in range(n):
        packer.encode(as_obj)
    mp_us = (time.perf_counter() - t0) / n * 1e6
    print(
        f"payload: JSON {len(json_bytes)} B, full envelope {json_us:.2f} us; "
        f"msgpack {len(mp)} B, encode alone {mp_us:.2f} us"
    )


def main(argv: Sequence[str] | None = None) -> None:
    n = int(argv[0]) if argv else MESSAGES
    _payloads()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _server(tmp)
        try:
            bare = asyncio.run(_bare(url, n))
            rate, lat = trio.run(_gatetrio, url, n)
        finally:
            proc.kill()
            proc.wait()
    lat_ms = sorted(x * 1000 for x in lat)
    p50 = statistics.median(lat_ms)
    p99 = lat_ms[int(len(lat_ms) * 0.99) - 1]
    print(f"bare nats-py publish_async: {bare:,.0f} msg/s (acks awaited)")
    print(f"gatetrio put -> JetStream -> consumer: {rate:,.0f} events/s ({rate / bare:.2f}x bare)")
    print(f"added latency put -> consumer: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
