"""End to end: trade frames from a flooding server in another process, over loopback.

    python -m benchmarks.bench_e2e [--rounds 5] [--messages 100000]
                                   [--latency-rounds 3] [--latency-messages 20000] [--rate 10000]
                                   [--skip-latency] [--profile]

Throughput: messages/s delivered to the consumer, for
- `bare trio-websocket (queue 1)`: trio-websocket's defaults, a loop that only awaits
  `get_message()`: the ceiling the target is set against;
- `bare trio-websocket (queue 64)`: the same with gatetrio's trio-websocket settings
  (`gatetrio.testing.trio_websocket_connector`: message_queue_size=64, max_message_size=16 MiB);
- `bare gatetrio WebSocket`: gatetrio's own transport (`_transport.default_connector`, wsproto
  driven by the reader, no background task), the same `get_message()` loop: its ceiling;
- `gatetrio`: `open_client(url=...)` with its defaults and `client.subscribe(trades(...))`
  consumed by `async for` in a task: decode, protocol routing, dispatch into the subscription,
  the consumer's wake-up;
- `gatetrio over trio-websocket`: the same with `connector=trio_websocket_connector`, i.e. the
  same trio-websocket settings as the bare queue-64 loop (like for like);
- `gatetrio, batch consumer`: the default client, the consumer draining what is buffered with
  `receive_nowait()` after each `receive()`.
Rounds interleave the clients so drift on a shared machine hits all alike; each row reports the
median over rounds and the medians of its per-round ratios to the better bare trio-websocket loop
of that round (the target's baseline) and to the bare gatetrio WebSocket loop of that round (the
ceiling of gatetrio's own transport). The clock runs from the first trade frame (after the
subscribe ack) to the last, so connecting is not timed.

Latency, at a fixed offered rate (one frame every 1/rate s, spun on the server; TCP_NODELAY):
the server records CLOCK_MONOTONIC just before sending each frame, the consumer records it when
the trade reaches it (system-wide clock, same machine), and per message latency = consumer time -
send time. "added" = a client's distribution minus the bare queue-64 loop's (difference of
medians, of p99s). The "hook" rows measure gatetrio's own share directly: the connection is
wrapped so that each trade frame is stamped when the client's reader takes it from the transport
(`get_message()` or the `receive_nowait()` drain), against the consumer's stamp of the same
trade id. (This wrapper is the proposed hook, done without touching the client.)

Ratios and differences are the result; absolute figures depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final

import trio
import trio_websocket

from benchmarks.flood_server import CONTRACT, FIRST_TRADE_ID
from gatetrio import channels
from gatetrio._shell._client import open_client
from gatetrio._shell._transport import (
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    Connector,
    WebSocketLike,
    default_connector,
)
from gatetrio.testing import TrioWebSocket, trio_websocket_connector

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence

SUBSCRIBE: Final = json.dumps(
    {"time": 0, "channel": "futures.trades", "event": "subscribe", "payload": [CONTRACT]}
)
_TRADE_ID: Final = '"result":[{"id":'
SIZE_DECIMAL: Final = ("X-Gate-Size-Decimal", "1")  # what gatetrio sends by default
HEADERS: Final = [(SIZE_DECIMAL[0].encode(), SIZE_DECIMAL[1].encode())]


# ---------------------------------------------------------------------------------- server


@contextlib.contextmanager
def flood_server() -> Iterator[int]:
    """Start `benchmarks.flood_server` in a subprocess; yield its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.flood_server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"flood server did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:  # never leave a flooding server behind
            proc.kill()
            proc.wait()


def _url(port: int, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"ws://127.0.0.1:{port}/v4/ws/usdt?{query}"


# ----------------------------------------------------------------------------- bare loops


@contextlib.asynccontextmanager
async def bare_connection(url: str, transport: str | int) -> AsyncIterator[WebSocketLike]:
    """A subscribed connection: trio-websocket with that queue size, or "gatetrio"'s own."""
    async with trio.open_nursery() as nursery:
        ws: WebSocketLike
        if transport == "gatetrio":
            ws = await default_connector(nursery, url, [SIZE_DECIMAL])
        else:
            assert isinstance(transport, int)
            raw = await trio_websocket.connect_websocket_url(
                nursery,
                url,
                extra_headers=HEADERS,
                message_queue_size=transport,
                max_message_size=MAX_MESSAGE_SIZE,
            )
            ws = TrioWebSocket(raw, url)
        try:
            await ws.send_message(SUBSCRIBE)
            await ws.get_message()  # the ack
            yield ws
        finally:
            with trio.CancelScope(shield=True):
                await ws.aclose()
            nursery.cancel_scope.cancel()


async def bare_rate(url: str, messages: int, *, transport: str | int) -> tuple[float, int]:
    """(messages/s, received) for a loop that only awaits get_message()."""
    async with bare_connection(url, transport) as ws:
        get_message = ws.get_message
        await get_message()
        start = time.perf_counter()
        for _ in range(messages - 1):
            await get_message()
        elapsed = time.perf_counter() - start
    return (messages - 1) / elapsed, messages


async def bare_latency(url: str, messages: int, *, transport: str | int) -> list[int]:
    """Receive stamps (monotonic ns) per message, in arrival order (= send order)."""
    received = array("q", bytes(8 * messages))
    now = time.monotonic_ns
    async with bare_connection(url, transport) as ws:
        for i in range(messages):
            await ws.get_message()
            received[i] = now()
    return received.tolist()


# -------------------------------------------------------------------------------- gatetrio


async def gatetrio_rate(
    url: str, messages: int, *, connector: Connector | None = None, batch: bool = False
) -> tuple[float, int]:
    """(messages/s, received by the consumer) for a subscription consumed by a task.

    `batch`: after each `receive()` the consumer drains what is buffered with `receive_nowait()`.
    """
    last_id = FIRST_TRADE_ID + messages - 1
    async with (
        open_client(url=url, connector=connector) as client,
        client.subscribe(channels.trades(CONTRACT)) as trades,
    ):
        await trades.receive()
        start = time.perf_counter()
        received = 1
        done = False
        while not done:
            trade = await trades.receive()
            received += 1
            done = trade.id >= last_id
            if batch:
                with contextlib.suppress(trio.WouldBlock):
                    while not done:
                        trade = trades.receive_nowait()
                        received += 1
                        done = trade.id >= last_id
        elapsed = time.perf_counter() - start
    return (received - 1) / elapsed, received


class _StampedConnection:
    """A connection that stamps each trade frame as the client's reader takes it."""

    def __init__(self, inner: WebSocketLike, stamps: dict[int, int]) -> None:
        self._inner = inner
        self._stamps = stamps
        self._drain: Callable[[], str | bytes] = inner.receive_nowait
        self.endpoint = inner.endpoint

    def _stamp(self, text: str | bytes) -> str | bytes:
        at = time.monotonic_ns()
        if isinstance(text, str):
            start = text.find(_TRADE_ID)  # trades only, not the ack or a pong
            if start > 0:
                start += len(_TRADE_ID)
                self._stamps[int(text[start : text.index(",", start)])] = at
        return text

    async def get_message(self) -> str | bytes:
        return self._stamp(await self._inner.get_message())

    def receive_nowait(self) -> str | bytes:
        return self._stamp(self._drain())

    async def send_message(self, message: str | bytes) -> None:
        await self._inner.send_message(message)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def abort(self) -> None:
        await self._inner.abort()


def _stamping(connector: Connector, stamps: dict[int, int]) -> Connector:
    async def connect(
        nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike:
        return _StampedConnection(await connector(nursery, url, headers), stamps)

    return connect


async def gatetrio_latency(
    url: str,
    messages: int,
    *,
    connector: Connector | None = None,
    frame_stamps: dict[int, int] | None = None,
) -> dict[int, int]:
    """Consumer stamps (monotonic ns) by trade id; `frame_stamps` gets the reader's stamps."""
    received: dict[int, int] = {}
    now = time.monotonic_ns
    last_id = FIRST_TRADE_ID + messages - 1
    if frame_stamps is not None:
        connector = _stamping(connector or default_connector, frame_stamps)
    async with (
        open_client(url=url, connector=connector) as client,
        client.subscribe(channels.trades(CONTRACT)) as trades,
    ):
        async for trade in trades:
            received[trade.id] = now()
            if trade.id >= last_id:
                break
    return received


# ------------------------------------------------------------------------------ throughput


def _fmt(rate: float) -> str:
    return f"{rate / 1000:.1f} k"


BARE_1: Final = "bare trio-websocket (queue 1, default)"
BARE_64: Final = f"bare trio-websocket (queue {MESSAGE_QUEUE_SIZE})"
BARE_OWN: Final = "bare gatetrio WebSocket"
HEADLINE: Final = "gatetrio (default transport)"


def run_throughput(port: int, rounds: int, messages: int) -> None:
    def url() -> str:
        return _url(port, messages=messages)

    variants: dict[str, Callable[[], Awaitable[tuple[float, int]]]] = {
        BARE_1: lambda: bare_rate(url(), messages, transport=1),
        BARE_64: lambda: bare_rate(url(), messages, transport=MESSAGE_QUEUE_SIZE),
        BARE_OWN: lambda: bare_rate(url(), messages, transport="gatetrio"),
        HEADLINE: lambda: gatetrio_rate(url(), messages),
        f"gatetrio over trio-websocket (queue {MESSAGE_QUEUE_SIZE})": lambda: gatetrio_rate(
            url(), messages, connector=trio_websocket_connector
        ),
        "gatetrio, batch consumer (receive_nowait)": lambda: gatetrio_rate(
            url(), messages, batch=True
        ),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    lost: dict[str, int] = dict.fromkeys(variants, 0)
    for r in range(rounds):
        for name, run in variants.items():
            rate, received = trio.run(run)
            rates[name].append(rate)
            lost[name] += messages - received
        line = ", ".join(_fmt(values[-1]) for values in rates.values())
        print(f"  round {r + 1}/{rounds}: {line}", file=sys.stderr)
    # per round: each client against the better of the two bare trio-websocket loops, and
    # against the bare loop over gatetrio's own transport
    best_bare = [max(b1, b64) for b1, b64 in zip(rates[BARE_1], rates[BARE_64], strict=True)]
    own_bare = rates[BARE_OWN]
    print()
    print(f"Throughput: {messages} trade frames per round, {rounds} rounds, interleaved.")
    print()
    print(
        "| client | msgs/s (median) | min..max | us/msg | ratio vs better bare trio-websocket "
        "| ratio vs bare gatetrio WebSocket | not delivered |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, values in rates.items():
        med = statistics.median(values)
        ratios = [
            f"{statistics.median(v / b for v, b in zip(values, base, strict=True)):.2f}"
            for base in (best_bare, own_bare)
        ]
        if name == HEADLINE:
            ratios = [f"**{r}**" for r in ratios]
        print(
            f"| {name} | {_fmt(med)} | {_fmt(min(values))}..{_fmt(max(values))} "
            f"| {1e6 / med:.2f} | {' | '.join(ratios)} | {lost[name]} |"
        )


# --------------------------------------------------------------------------------- latency


def _read_stamps(path: str, messages: int) -> array[int]:
    # the server renames the file into place after its last send; the consumer may get there first
    file = Path(path)
    deadline = time.monotonic() + 10
    while not file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("flood server wrote no send stamps")
        time.sleep(0.01)
    stamps = array("q", file.read_bytes())
    file.unlink()
    if len(stamps) != messages:
        raise RuntimeError(f"expected {messages} send stamps, got {len(stamps)}")
    return stamps


def _quantiles_us(samples_ns: Sequence[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    median = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return median / 1000, p99 / 1000


def _lateness(sent: array[int], period_ns: int) -> list[int]:
    """How far behind its schedule the server sent each frame (0 = on time), ns."""
    # the schedule's origin: the send that was least behind it (the server spins to be on time)
    origin = min(at - i * period_ns for i, at in enumerate(sent))
    return [at - (origin + i * period_ns) for i, at in enumerate(sent)]


def run_latency(port: int, rounds: int, messages: int, rate: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gatetrio-bench-"))
    # name -> (bare transport, or a gatetrio connector; measure the reader -> consumer hop?)
    variants: dict[str, tuple[str | int | Connector, bool]] = {
        BARE_1: (1, False),
        BARE_64: (MESSAGE_QUEUE_SIZE, False),
        BARE_OWN: ("gatetrio", False),
        HEADLINE: (default_connector, False),
        "gatetrio over trio-websocket": (trio_websocket_connector, False),
        "gatetrio (default transport), reader -> consumer (hook)": (default_connector, True),
        "gatetrio over trio-websocket, reader -> consumer (hook)": (
            trio_websocket_connector,
            True,
        ),
    }
    samples: dict[str, list[int]] = {name: [] for name in variants}
    late: list[int] = []
    skip = messages // 20  # the first 5% warm up caches, the allocator and the connection
    for r in range(rounds):
        for v, (name, (how, hook)) in enumerate(variants.items()):
            path = str(tmp / f"stamps-{r}-{v}.bin")
            url = _url(port, messages=messages, rate=rate, stamps=path)
            frames: dict[int, int] = {}
            if isinstance(how, (str, int)):
                got = trio.run(partial(bare_latency, url, messages, transport=how))
                by_index = dict(enumerate(got))  # the bare loop gets every frame, in send order
            else:
                by_id = trio.run(
                    partial(
                        gatetrio_latency,
                        url,
                        messages,
                        connector=how,
                        frame_stamps=frames if hook else None,
                    )
                )
                by_index = {i - FIRST_TRADE_ID: at for i, at in by_id.items()}
            sent = _read_stamps(path, messages)
            late.extend(_lateness(sent, round(1e9 / rate))[skip:])
            if hook:
                samples[name].extend(
                    at - frames[i + FIRST_TRADE_ID]
                    for i, at in by_index.items()
                    if i >= skip and i + FIRST_TRADE_ID in frames
                )
            else:
                samples[name].extend(at - sent[i] for i, at in by_index.items() if i >= skip)
        print(f"  latency round {r + 1}/{rounds} done", file=sys.stderr)
    late_med, late_p99 = _quantiles_us(late)
    print()
    print(
        f"Latency at {rate / 1000:g}k msgs/s offered, {messages} frames per round, {rounds} "
        "rounds (first 5% of each round skipped), microseconds; end to end = server send -> "
        f"consumer. Server pacing behind schedule: median {late_med:.1f}, p99 {late_p99:.1f}."
    )
    print()
    print(f"| client | median | p99 | added vs {BARE_64}: median | added: p99 |")
    print("|---|---:|---:|---:|---:|")
    base_med, base_p99 = _quantiles_us(samples[BARE_64])
    for name, values in samples.items():
        med, p99 = _quantiles_us(values)
        if variants[name][1]:
            print(f"| {name} | {med:.1f} | {p99:.1f} | | |")
        else:
            print(
                f"| {name}, end to end | {med:.1f} | {p99:.1f} | {med - base_med:+.1f} "
                f"| {p99 - base_p99:+.1f} |"
            )


# ------------------------------------------------------------------------------------ main


def run_profile(port: int, messages: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    trio.run(lambda: gatetrio_rate(_url(port, messages=messages), messages))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--latency-rounds", type=int, default=3)
    parser.add_argument("--latency-messages", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=10_000, help="offered rate for latency")
    parser.add_argument("--profile", action="store_true", help="cProfile one gatetrio round")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args(argv)
    print(
        f"Python {platform.python_version()} ({sys.implementation.name}), {platform.machine()}, "
        f"{os.cpu_count()} CPUs; trio {trio.__version__}, "
        f"trio-websocket {_version('trio-websocket')}, wsproto {_version('wsproto')}, "
        f"msgspec {_version('msgspec')}, gatetrio {_version('gatetrio')}"
    )
    with flood_server() as port:
        if args.profile:
            run_profile(port, args.messages)
            return
        run_throughput(port, args.rounds, args.messages)
        if not args.skip_latency:
            run_latency(port, args.latency_rounds, args.latency_messages, args.rate)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    main()
