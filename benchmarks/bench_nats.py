"""NATS fan-out: gatetrio's publish/consume path against bare nats-py, same run, interleaved.

    python -m benchmarks nats                 # 3 rounds of 20 000 messages
    python -m benchmarks.bench_nats 20000 5   # messages per rate measurement, rounds

Starts one nats-server (the `test` extra's binary, file store) on a free loopback port. Each
round measures, one after the other (so a noisy neighbour on the shared machine hits all of
them alike; the figures reported are medians over rounds and ratios within a round):

- rate, bare: nats-py `publish_async` of N pre-built messages from an asyncio loop, every ack
  awaited (publish only: nothing consumes);
- rate, gatetrio: the same N messages through `Publisher.put` (trio) -> bridge thread ->
  JetStream -> `open_consumer` in the same process, first put to last item consumed. The
  fake exchange's websocket hop is not in it (`python -m benchmarks e2e` measures that);
- latency at a steady offered rate (LATENCY_RATE events/s, well below capacity), publish or
  put -> consumed, for bare nats-py (paced `publish_async`, an ordered push consumer with a
  callback: nats-py's own low-latency way to read) and for gatetrio (paced `put`,
  `open_consumer`);
- the bridge: trio -> nats-py through the dedicated asyncio thread (`_bridge.AsyncioThread`)
  against trio-asyncio (if installed), as round trips of an empty coroutine and as a pipelined
  JetStream publish of N messages through `NatsLink.publish_batch`.

Also once: payload, canonical JSON (`encode_payload`) against msgpack via msgspec.
"""

from __future__ import annotations

import asyncio
import importlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import trio

import gatetrio
from gatetrio.nats import DEFAULT_PREFIX, envelope, open_consumer, open_publisher
from gatetrio.nats._bridge import MSG_ID_HEADER, NatsLink, NatsOptions, open_asyncio_thread
from gatetrio.testing import FakeGateServer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Sequence

    from gatetrio.nats import Envelope

T = TypeVar("T")
MESSAGES = 20_000
ROUNDS = 3
LATENCY_RATE = 2_000  # events/s offered in the latency runs
LATENCY_SECONDS = 4.0
WARMUP = 200
URL = "wss://fx-ws.gateio.ws/v4/ws/usdt"


def _trades(n: int, start: int, contract: str = "BTC_USDT") -> list[gatetrio.Trade]:
    price = Decimal("63990.1")
    return [
        gatetrio.Trade(id=start + i, contract=contract, price=price, size=i % 50 + 1)
        for i in range(n)
    ]


def _envelopes(n: int, start: int, contract: str, prefix: str = DEFAULT_PREFIX) -> list[Envelope]:
    return [envelope(t, settle="usdt", prefix=prefix) for t in _trades(n, start, contract)]


def _server(tmp: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = str(Path(sys.executable).parent / "nats-server")
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", tmp],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return proc, f"nats://127.0.0.1:{port}"


# ------------------------------------------------------------------------------- bare nats-py


async def _bare_rate(url: str, envs: list[Envelope]) -> float:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="BARE", subjects=["bare.>"])
        t0 = time.perf_counter()
        futures = [
            await js.publish_async(e.subject, e.payload, headers={MSG_ID_HEADER: e.msg_id})
            for e in envs
        ]
        await asyncio.gather(*futures)
        return len(envs) / (time.perf_counter() - t0)
    finally:
        await nc.close()


async def _bare_latency(url: str, envs: list[Envelope], rate: float) -> list[float]:
    """Paced publish_async; an ordered push consumer's callback stamps the arrival."""
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="BARE", subjects=["bare.>"])
        sent: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()

        async def on_msg(msg: Any) -> None:
            t = sent.pop(msg.headers[MSG_ID_HEADER], None)
            if t is not None:
                latencies.append(time.perf_counter() - t)
            if not sent and len(latencies) >= len(envs) - WARMUP:
                done.set()

        await js.subscribe(envs[0].subject, cb=on_msg, ordered_consumer=True)
        futures = []
        t0 = time.perf_counter()
        for i, e in enumerate(envs):
            due = t0 + i / rate
            if (ahead := due - time.perf_counter()) > 0:
                await asyncio.sleep(ahead)
            if i >= WARMUP:
                sent[e.msg_id] = time.perf_counter()
            futures.append(
                await js.publish_async(e.subject, e.payload, headers={MSG_ID_HEADER: e.msg_id})
            )
        await asyncio.gather(*futures)
        await asyncio.wait_for(done.wait(), 30)
        return latencies
    finally:
        await nc.close()


# ----------------------------------------------------------------------------------- gatetrio


async def _gatetrio(
    url: str, envs: list[Envelope], subject: str, rate: float | None
) -> tuple[float, list[float]]:
    """put -> consumer: the rate (rate=None: all at once) or latencies (paced at `rate`)."""
    server = FakeGateServer(seed=1)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with (
            gatetrio.open_client(
                url=URL, connector=server.connector, wall_clock=server.wall_time
            ) as client,
            open_publisher(client, url, buffer=len(envs)) as publisher,
        ):
            await publisher.wait_ready()
            ids = [int(e.msg_id.rpartition(":")[2]) for e in envs]
            async with open_consumer(url, [subject], start="all") as sub:
                warm, main = envs[:WARMUP], envs[WARMUP:]
                for e in warm:  # the consumer exists and the path is warm before timing
                    await publisher.put(e)
                for _ in warm:
                    await sub.receive_message()
                t0 = time.perf_counter()

                async def feed() -> None:
                    for i, e in enumerate(main):
                        if rate is not None:
                            await trio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
                        sent[ids[WARMUP + i]] = time.perf_counter()
                        await publisher.put(e)

                nursery.start_soon(feed)
                for _ in main:
                    _, item = await sub.receive_message()
                    latencies.append(time.perf_counter() - sent[item.id])  # type: ignore[union-attr,index]
                elapsed = time.perf_counter() - t0
            stats = publisher.statistics()
            assert stats.published == len(envs), stats
        nursery.cancel_scope.cancel()
    return len(main) / elapsed, latencies


# ------------------------------------------------------------------------------------- bridge


async def _bridge_run(
    run: Callable[[Callable[[], Coroutine[Any, Any, Any]]], Awaitable[Any]],
    url: str,
    envs: list[Envelope],
) -> tuple[float, float]:
    """Round trips/s of an empty coroutine, and pipelined publish msg/s, through `run`."""
    link = NatsLink(NatsOptions(servers=url))
    await run(link.connect)
    try:
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            await run(lambda: asyncio.sleep(0))
        trips = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        limit = trio.Semaphore(4)  # the publisher's MAX_IN_FLIGHT batches of 512

        async def one(batch: list[Envelope]) -> None:
            async with limit:
                outs = await run(lambda: link.publish_batch(batch, ack_wait=5.0))
            assert all(o.ok for o in outs)

        async with trio.open_nursery() as nursery:
            for i in range(0, len(envs), 512):
                await limit.acquire()  # keep submission order = batch order
                limit.release()
                nursery.start_soon(one, envs[i : i + 512])
                await trio.lowlevel.checkpoint()
        return trips, len(envs) / (time.perf_counter() - t0)
    finally:
        await run(link.close)


async def _bridge_thread(url: str, envs: list[Envelope]) -> tuple[float, float]:
    async with open_asyncio_thread() as thread:
        return await _bridge_run(thread.run, url, envs)


async def _bridge_trio_asyncio(url: str, envs: list[Envelope]) -> tuple[float, float]:
    trio_asyncio: Any = importlib.import_module("trio_asyncio")

    async def run(factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        return await trio_asyncio.aio_as_trio(factory)()

    async with trio_asyncio.open_loop():
        return await _bridge_run(run, url, envs)


def _run_stock(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on the stock loop: importing trio-asyncio replaces the default one."""
    with asyncio.Runner(loop_factory=asyncio.DefaultEventLoopPolicy().new_event_loop) as runner:
        return runner.run(coro)


def _has_trio_asyncio() -> bool:
    try:
        importlib.import_module("trio_asyncio")
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------ payload


def _payloads() -> None:
    trade = _trades(1, 10**9)[0]
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


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(argv or [])
    n = int(argv[0]) if argv else MESSAGES
    rounds = int(argv[1]) if len(argv) > 1 else ROUNDS
    paced = WARMUP + int(LATENCY_RATE * LATENCY_SECONDS)
    _payloads()
    rows: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        rows.setdefault(key, []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _server(tmp)
        try:
            for r in range(rounds):
                base = 10**9 + r * 10**7
                bare = _run_stock(_bare_rate(url, _envelopes(n, base, "BTC_USDT", "bare")))
                contract = f"R{r}_USDT"
                subject = f"gate.futures.usdt.trades.{contract}"
                rate, _ = trio.run(
                    _gatetrio, url, _envelopes(WARMUP + n, base, contract), subject, None
                )
                add("bare", bare)
                add("gatetrio", rate)
                add("ratio", rate / bare)
                lat_bare = _run_stock(
                    _bare_latency(
                        url, _envelopes(paced, base + 10**6, f"L{r}_USDT", "bare"), LATENCY_RATE
                    )
                )
                contract = f"L{r}_USDT"
                _, lat = trio.run(
                    _gatetrio,
                    url,
                    _envelopes(paced, base + 10**6, contract),
                    f"gate.futures.usdt.trades.{contract}",
                    float(LATENCY_RATE),
                )
                for key, values in (("bare", lat_bare), ("gatetrio", lat)):
                    add(f"{key} p50", _pct(values, 0.50))
                    add(f"{key} p99", _pct(values, 0.99))
                benvs = _envelopes(n, base + 2 * 10**6, f"T{r}_USDT")
                trips, pub = trio.run(_bridge_thread, url, benvs)
                add("thread trips", trips)
                add("thread publish", pub)
                if _has_trio_asyncio():
                    benvs = _envelopes(n, base + 3 * 10**6, f"A{r}_USDT")
                    trips, pub = trio.run(_bridge_trio_asyncio, url, benvs)
                    add("trio-asyncio trips", trips)
                    add("trio-asyncio publish", pub)
                    add("publish thread/trio-asyncio", rows["thread publish"][-1] / pub)
                print(
                    f"round {r + 1}: bare {bare:,.0f} msg/s, gatetrio {rate:,.0f} events/s "
                    f"({rate / bare:.2f}x); latency p50/p99 bare "
                    f"{_pct(lat_bare, 0.5):.2f}/{_pct(lat_bare, 0.99):.2f} ms, gatetrio "
                    f"{_pct(lat, 0.5):.2f}/{_pct(lat, 0.99):.2f} ms",
                    flush=True,
                )
        finally:
            proc.kill()
            proc.wait()
    med = {key: statistics.median(values) for key, values in rows.items()}
    print(f"\nmedians over {rounds} rounds ({n} messages per rate run):")
    print(f"bare nats-py publish_async, acks awaited: {med['bare']:,.0f} msg/s")
    print(
        f"gatetrio put -> JetStream -> open_consumer: {med['gatetrio']:,.0f} events/s "
        f"(ratio to bare in the same round: median {med['ratio']:.2f}x, "
        f"range {min(rows['ratio']):.2f}-{max(rows['ratio']):.2f})"
    )
    print(
        f"latency at {LATENCY_RATE} events/s offered: bare p50 {med['bare p50']:.2f} ms, "
        f"p99 {med['bare p99']:.2f} ms; gatetrio p50 {med['gatetrio p50']:.2f} ms, "
        f"p99 {med['gatetrio p99']:.2f} ms; added p50 "
        f"{med['gatetrio p50'] - med['bare p50']:+.2f} ms, p99 "
        f"{med['gatetrio p99'] - med['bare p99']:+.2f} ms"
    )
    print(
        f"bridge, thread: {med['thread trips']:,.0f} round trips/s, "
        f"{med['thread publish']:,.0f} msg/s pipelined publish"
    )
    if "trio-asyncio trips" in med:
        print(
            f"bridge, trio-asyncio: {med['trio-asyncio trips']:,.0f} round trips/s, "
            f"{med['trio-asyncio publish']:,.0f} msg/s pipelined publish "
            f"(thread/trio-asyncio publish: median {med['publish thread/trio-asyncio']:.2f}x)"
        )
    else:
        print("bridge, trio-asyncio: not installed (pip install trio-asyncio), not measured")


if __name__ == "__main__":
    main(sys.argv[1:])
