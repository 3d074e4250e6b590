"""End to end against other clients, every field read, in one run (issue 14: G1, G2, G3).

    python -m benchmarks.bench_peers [--rounds 5] [--messages 60000] [--kinds mixed,trades]
                                     [--clients gatetrio-item,gate-ws,...] [--latency]

One `benchmarks.flood_server` process serves every client the same bytes (`size_decimal=1`:
sizes as strings, what gatetrio's `X-Gate-Size-Decimal: 1` gets and so what a gatetrio user
really receives). "mixed" alternates `futures.trades` frames (one trade each) and `futures.obu`
deltas of 20 levels; "trades" is trades only. Each client runs in its own process (asyncio and
trio never share one) and reads every field of every item into the same types gatetrio gives:
trade id/contract/times as they come, price and size as `Decimal`, each obu level's price and
size as `Decimal`, the delta's t/s/U/u. Its clock runs from the first data item to the last;
connecting is not timed. It reports what it read (trades, sum of trade ids, deltas, levels), and
every client must report the same or the round fails.

Clients:
- `gatetrio-item`: `open_client` + `subscribe`, one task per channel, `async for item in sub`;
- `gatetrio-batch`: the same with `async for batch in sub.batches()`;
- `trio-websocket`: bare `get_message()` loop, no decoding, nothing read (a floor, not a peer);
- `gate-ws`: the official SDK (`gate_ws`, asyncio + websockets), an async callback per channel
  (it spawns a task per message), fields read from its `WebSocketResponse.result` dicts;
- `websockets-json`: asyncio `websockets` + `json.loads`, fields read from the dicts;
- `picows-msgspec`: `picows` (Cython WebSocket) + `msgspec` into Structs shaped like gatetrio's
  records (Decimal fields decoded by msgspec): the fastest Python stack we know of.

Rounds interleave the clients (rotating order); the table gives per client the median rate, its
min..max, and the median of the per-round ratios to gate-ws (G1) and to websockets-json (G2).
`--latency` adds p50/p99 from the server's send stamp to the consumer at 10k and 50k msgs/s
offered (trades; gatetrio clients): G3.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from benchmarks.bench_e2e import flood_server
from benchmarks.flood_server import FIRST_TRADE_ID

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

CONTRACT: Final = "BTC_USDT"
OBU_STREAM: Final = f"ob.{CONTRACT}.400"
CLIENTS: Final = (
    "gatetrio-item",
    "gatetrio-batch",
    "trio-websocket",
    "gate-ws",
    "websockets-json",
    "picows-msgspec",
)
ROOT: Final = Path(__file__).resolve().parents[1]


def _subscribe_frames(kind: str) -> list[str]:
    frames = [{"time": 0, "channel": "futures.trades", "event": "subscribe", "payload": [CONTRACT]}]
    if kind == "mixed":
        frames.append(
            {"time": 0, "channel": "futures.obu", "event": "subscribe", "payload": [OBU_STREAM]}
        )
    return [json.dumps(f) for f in frames]


class Tally:
    """What a client read: trades, sum of trade ids, obu deltas, levels; and the clock."""

    __slots__ = ("deltas", "first", "id_sum", "last", "levels", "stamps", "trades", "wanted")

    def __init__(self, wanted: int, *, stamps: bool = False) -> None:
        self.wanted = wanted
        self.trades = self.id_sum = self.deltas = self.levels = 0
        self.first = self.last = 0.0
        self.stamps = array("q", bytes(8 * wanted)) if stamps else None

    @property
    def items(self) -> int:
        return self.trades + self.deltas

    def started(self) -> None:
        if not self.first:
            self.first = time.perf_counter()

    def done(self) -> bool:
        if self.items >= self.wanted:
            self.last = time.perf_counter()
            return True
        return False

    def report(self) -> dict[str, Any]:
        return {
            "seconds": self.last - self.first,
            "check": [self.trades, self.id_sum, self.deltas, self.levels],
        }


# ------------------------------------------------------------------------------ readers
# Each reads every field; `_ =` keeps the reads (CPython does not elide attribute reads).


def read_gatetrio_trade(t: Any, tally: Tally) -> None:
    _ = (t.contract, t.price, t.size, t.create_time, t.create_time_ms, t.is_internal)
    tally.trades += 1
    tally.id_sum += t.id
    if tally.stamps is not None:
        tally.stamps[t.id - FIRST_TRADE_ID] = time.monotonic_ns()


def read_gatetrio_obu(d: Any, tally: Tally) -> None:
    _ = (d.t, d.s, d.U, d.u, d.full)
    for lv in d.b:
        _ = (lv.price, lv.size)
    for lv in d.a:
        _ = (lv.price, lv.size)
    tally.deltas += 1
    tally.levels += len(d.b) + len(d.a)


def read_dict(msg: dict[str, Any], tally: Tally) -> None:
    channel = msg.get("channel")
    result = msg.get("result")
    if channel == "futures.trades" and msg.get("event") == "update":
        read_dict_trades(result, tally)
    elif channel == "futures.obu" and msg.get("event") == "update":
        read_dict_obu(result, tally)


def read_dict_trades(result: Any, tally: Tally) -> None:
    for t in result:
        _ = (
            t["contract"],
            Decimal(t["price"]),
            Decimal(t["size"]),
            t["create_time"],
            t["create_time_ms"],
            t.get("is_internal", False),
        )
        tally.trades += 1
        tally.id_sum += t["id"]


def read_dict_obu(r: Any, tally: Tally) -> None:
    _ = (r["t"], r["s"], r.get("U", 0), r["u"], r.get("full", False))
    bids, asks = r.get("b", ()), r.get("a", ())
    for p, s in bids:
        _ = (Decimal(p), Decimal(s))
    for p, s in asks:
        _ = (Decimal(p), Decimal(s))
    tally.deltas += 1
    tally.levels += len(bids) + len(asks)


# ------------------------------------------------------------------------------ clients


async def gatetrio_client(url: str, kind: str, tally: Tally, *, batches: bool) -> None:
    import trio

    from gatetrio import channels, open_client

    async with open_client(url=url) as client, trio.open_nursery() as nursery:
        done = trio.Event()

        async def consume(spec: Any, read: Callable[[Any, Tally], None]) -> None:
            async with client.subscribe(spec) as sub:
                if batches:
                    async for batch in sub.batches():
                        tally.started()
                        for item in batch:
                            read(item, tally)
                        if tally.done():
                            done.set()
                            return
                else:
                    async for item in sub:
                        tally.started()
                        read(item, tally)
                        if tally.done():
                            done.set()
                            return

        nursery.start_soon(consume, channels.trades(CONTRACT), read_gatetrio_trade)
        if kind == "mixed":
            nursery.start_soon(consume, channels.obu(CONTRACT, level=400), read_gatetrio_obu)
        await done.wait()
        nursery.cancel_scope.cancel()


async def trio_websocket_client(url: str, kind: str, tally: Tally) -> None:
    import trio_websocket

    async with trio_websocket.open_websocket_url(url, message_queue_size=64) as ws:
        for frame in _subscribe_frames(kind):
            await ws.send_message(frame)
        acks = 0
        while acks < len(_subscribe_frames(kind)):
            message = await ws.get_message()
            acks += '"subscribe"' in message
        while True:
            await ws.get_message()
            tally.started()
            tally.trades += 1  # counted, not read: the transport's floor
            if tally.done():
                return


async def websockets_client(url: str, kind: str, tally: Tally) -> None:
    import websockets

    async with websockets.connect(url, compression=None, max_size=None) as ws:
        for frame in _subscribe_frames(kind):
            await ws.send(frame)
        async for message in ws:
            msg = json.loads(message)
            if msg.get("event") != "update":
                continue
            tally.started()
            read_dict(msg, tally)
            if tally.done():
                return


async def gate_ws_client(url: str, kind: str, tally: Tally) -> None:
    from gate_ws.client import BaseChannel, Configuration, Connection
    from gate_ws.futures import FuturesPublicTradeChannel

    class FuturesObuChannel(BaseChannel):  # type: ignore[misc]  # not in the SDK; same shape
        name = "futures.obu"

    done = asyncio.Event()

    async def on_message(_conn: Any, response: Any) -> None:
        if response.event != "update":
            return
        tally.started()
        if response.channel == "futures.trades":
            read_dict_trades(response.result, tally)
        else:
            read_dict_obu(response.result, tally)
        if tally.done():
            done.set()

    conn = Connection(Configuration(app="futures", host=url, ping_interval=3600))
    FuturesPublicTradeChannel(conn, on_message).subscribe([CONTRACT])
    if kind == "mixed":
        FuturesObuChannel(conn, on_message).subscribe([OBU_STREAM])
    runner = asyncio.ensure_future(conn.run())
    await done.wait()
    conn.close()
    with contextlib.suppress(asyncio.CancelledError):
        await runner


class PTrade(msgspec.Struct, frozen=True, gc=False):
    id: int
    contract: str
    price: Decimal
    size: Decimal
    create_time: int = 0
    create_time_ms: int = 0
    is_internal: bool = False


class PLevel(msgspec.Struct, frozen=True, gc=False, array_like=True):
    price: Decimal
    size: Decimal


class PObu(msgspec.Struct, frozen=True, gc=False):
    t: int
    s: str
    u: int
    U: int = 0
    b: tuple[PLevel, ...] = ()
    a: tuple[PLevel, ...] = ()
    full: bool = False


class PTrades(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="futures.trades"):
    time: int
    time_ms: int
    event: str
    result: tuple[PTrade, ...]


class PObuUpdate(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="futures.obu"):
    time: int
    time_ms: int
    event: str
    result: PObu


async def picows_client(url: str, kind: str, tally: Tally) -> None:
    from picows import WSListener, WSMsgType, ws_connect

    decode = msgspec.json.Decoder(PTrades | PObuUpdate).decode
    finished = asyncio.get_running_loop().create_future()

    class Listener(WSListener):
        def on_ws_connected(self, transport: Any) -> None:
            for frame in _subscribe_frames(kind):
                transport.send(WSMsgType.TEXT, frame.encode())

        def on_ws_frame(self, _transport: Any, frame: Any) -> None:
            if frame.msg_type is not WSMsgType.TEXT:
                return
            data = frame.get_payload_as_bytes()
            if b'"event":"update"' not in data[:120]:
                return  # the subscribe acks
            msg = decode(data)
            tally.started()
            if isinstance(msg, PTrades):
                for t in msg.result:
                    _ = (t.contract, t.price, t.size, t.create_time, t.create_time_ms)
                    _ = t.is_internal
                    tally.trades += 1
                    tally.id_sum += t.id
            else:
                d = msg.result
                _ = (d.t, d.s, d.U, d.u, d.full)
                for lv in d.b:
                    _ = (lv.price, lv.size)
                for lv in d.a:
                    _ = (lv.price, lv.size)
                tally.deltas += 1
                tally.levels += len(d.b) + len(d.a)
            if tally.done() and not finished.done():
                finished.set_result(None)

    transport, _listener = await ws_connect(Listener, url)
    await finished
    transport.disconnect()


def run_client(name: str, url: str, kind: str, messages: int, stamps_out: str) -> dict[str, Any]:
    tally = Tally(messages, stamps=bool(stamps_out))
    if name.startswith("gatetrio") or name == "trio-websocket":
        import trio

        if name == "trio-websocket":
            trio.run(trio_websocket_client, url, kind, tally)
        else:
            trio.run(lambda: gatetrio_client(url, kind, tally, batches=name == "gatetrio-batch"))
    else:
        runner = {
            "gate-ws": gate_ws_client,
            "websockets-json": websockets_client,
            "picows-msgspec": picows_client,
        }[name]
        asyncio.run(runner(url, kind, tally))
    if stamps_out and tally.stamps is not None:
        Path(stamps_out).write_bytes(tally.stamps.tobytes())
    return tally.report()


# ------------------------------------------------------------------------------ the parent


def _spawn(name: str, url: str, kind: str, messages: int, stamps_out: str = "") -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "benchmarks.bench_peers", "--client", name]
        + ["--url", url, "--kind", kind, "--messages", str(messages)]
        + (["--stamps-out", stamps_out] if stamps_out else []),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _url(port: int, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"ws://127.0.0.1:{port}/v4/ws/usdt?{query}"


def throughput(port: int, kind: str, clients: Sequence[str], rounds: int, messages: int) -> None:
    url = _url(port, messages=messages, kind=kind, size_decimal=1)
    rates: dict[str, list[float]] = {c: [] for c in clients}
    vs_gate: dict[str, list[float]] = {c: [] for c in clients}
    vs_ws: dict[str, list[float]] = {c: [] for c in clients}
    for r in range(rounds):
        order = list(clients[r % len(clients) :]) + list(clients[: r % len(clients)])
        got: dict[str, float] = {}
        checks: dict[str, list[int]] = {}
        for name in order:
            result = _spawn(name, url, kind, messages)
            got[name] = messages / result["seconds"]
            checks[name] = result["check"]
        readers = {tuple(v) for k, v in checks.items() if k != "trio-websocket"}
        if len(readers) != 1:
            raise RuntimeError(f"clients read different things: {checks}")
        for name in clients:
            rates[name].append(got[name])
            if "gate-ws" in got:
                vs_gate[name].append(got[name] / got["gate-ws"])
            if "websockets-json" in got:
                vs_ws[name].append(got[name] / got["websockets-json"])
    print(f"\n{kind}: {messages} frames per client per round, {rounds} interleaved rounds\n")
    print("| client | msgs/s (median) | min..max | vs gate-ws | vs websockets+json |")
    print("|---|---:|---:|---:|---:|")
    for name in clients:
        rs = rates[name]
        g = f"{statistics.median(vs_gate[name]):.2f}" if vs_gate[name] else "-"
        w = f"{statistics.median(vs_ws[name]):.2f}" if vs_ws[name] else "-"
        print(
            f"| {name} | {statistics.median(rs) / 1e3:.1f} k | {min(rs) / 1e3:.1f} k.."
            f"{max(rs) / 1e3:.1f} k | {g} | {w} |",
            flush=True,
        )


def latency(port: int, clients: Sequence[str], rounds: int, messages: int) -> None:
    print(f"\nlatency (trades, {messages} frames a round, first 5% skipped, {rounds} rounds)\n")
    print("| client | offered msgs/s | p50 us (median of rounds) | p99 us |")
    print("|---|---:|---:|---:|")
    for rate in (10_000, 50_000):
        for name in clients:
            p50s: list[float] = []
            p99s: list[float] = []
            for _ in range(rounds):
                with tempfile.TemporaryDirectory() as tmp:
                    sent_path = f"{tmp}/sent.bin"
                    got_path = f"{tmp}/got.bin"
                    url = _url(port, messages=messages, rate=rate, stamps=sent_path, size_decimal=1)
                    _spawn(name, url, "trades", messages, got_path)
                    for _ in range(100):  # the server writes its stamps after the last send
                        if Path(sent_path).exists():
                            break
                        time.sleep(0.05)
                    sent = array("q", Path(sent_path).read_bytes())
                    got = array("q", Path(got_path).read_bytes())
                skip = messages // 20
                lat = sorted((g - s) / 1e3 for s, g in zip(sent[skip:], got[skip:], strict=True))
                p50s.append(lat[len(lat) // 2])
                p99s.append(lat[int(len(lat) * 0.99)])
            print(
                f"| {name} | {rate // 1000}k | {statistics.median(p50s):.0f} "
                f"| {statistics.median(p99s):.0f} |",
                flush=True,
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--kinds", default="mixed,trades")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--latency-rounds", type=int, default=3)
    parser.add_argument("--latency-messages", type=int, default=20_000)
    # the child process
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="trades", help=argparse.SUPPRESS)
    parser.add_argument("--stamps-out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        print(
            json.dumps(run_client(args.client, args.url, args.kind, args.messages, args.stamps_out))
        )
        return 0
    clients = [c for c in args.clients.split(",") if c]
    unknown = set(clients) - set(CLIENTS)
    if unknown:
        print(f"unknown clients {sorted(unknown)}; choose from {', '.join(CLIENTS)}")
        return 2
    print(f"Python {platform.python_version()}, {platform.machine()}")
    with flood_server() as port:
        for kind in args.kinds.split(","):
            throughput(port, kind, clients, args.rounds, args.messages)
        if args.latency:
            latency(
                port,
                [c for c in clients if c.startswith("gatetrio")],
                args.latency_rounds,
                args.latency_messages,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
