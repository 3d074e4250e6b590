"""End to end against other clients, every field read, in one run (issues 14 and 22).

    python -m benchmarks.bench_peers [--rounds 5] [--messages 60000] [--kinds mixed,trades]
                                     [--clients gatetrio-item,gate-ws,...] [--latency]
                                     [--latency-rounds 3] [--latency-messages 20000]

One `benchmarks.flood_server` process serves every client the same bytes from a tape built
before the flood starts, so the server is never what is measured: each table says how far the
fastest client got beyond gatetrio (at least 5x, or the run says the ratios may be capped by the
server). The bytes are `size_decimal=1`:
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
  records (Decimal fields decoded by msgspec): the fastest Python stack we know of, and the
  yardstick of issue 22's goals;
- `picows-bare`: picows receiving the frames, nothing decoded (a floor: picows' transport);
- `bare-socket`: a trio socket that does the handshake by hand and then only `recv_into`s the
  tape's bytes (`X-Flood-Bytes` of the handshake reply), no framing at all: the physical limit
  of a Python receive loop, and the proof that the server is not the bottleneck.

Rounds interleave the clients (rotating order); the table gives per client the median rate, its
min..max, and the median of the per-round ratios to picows-msgspec (issue 22), gate-ws (G1) and
websockets-json (G2). `--latency` adds p50/p99 from the server's send stamp to the consumer at
10k and 50k msgs/s offered (trades; every client that reads fields), in interleaved rounds, with
the medians of the per-round p50 ratios to websockets-json and picows-msgspec. The load average
is printed before and after each table: the machine is shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
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
from urllib.parse import urlsplit

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
    "picows-bare",
    "bare-socket",
)
FLOORS: Final = frozenset({"trio-websocket", "picows-bare", "bare-socket"})  # read nothing
HEADROOM: Final = 5.0  # the fastest client must get this many times gatetrio's rate
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

    def stamp(self, trade_id: int) -> None:
        if self.stamps is not None:
            self.stamps[trade_id - FIRST_TRADE_ID] = time.monotonic_ns()

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
        tally.stamp(t.id)


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
        if tally.stamps is not None:
            tally.stamp(t["id"])


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
                    if tally.stamps is not None:
                        tally.stamp(t.id)
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


async def picows_bare_client(url: str, kind: str, tally: Tally) -> None:
    from picows import WSListener, WSMsgType, ws_connect

    finished = asyncio.get_running_loop().create_future()
    acks = len(_subscribe_frames(kind))

    class Listener(WSListener):
        seen = 0

        def on_ws_connected(self, transport: Any) -> None:
            for frame in _subscribe_frames(kind):
                transport.send(WSMsgType.TEXT, frame.encode())

        def on_ws_frame(self, _transport: Any, frame: Any) -> None:
            if frame.msg_type is not WSMsgType.TEXT:
                return
            self.seen += 1
            if self.seen <= acks:
                return  # the server sends the acks before the flood
            tally.started()
            tally.trades += 1  # counted, not read: picows' floor
            if tally.done() and not finished.done():
                finished.set_result(None)

    transport, _listener = await ws_connect(Listener, url)
    await finished
    transport.disconnect()


def _client_frame(text: str) -> bytes:
    """A masked client text frame (RFC 6455 5.3): the bare loop's subscribe requests."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    if n < 126:
        return bytes((0x81, 0x80 | n)) + mask + masked
    return bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big") + mask + masked


def _frame_end(buf: bytes | bytearray, at: int) -> int:
    """Where the server frame starting at `at` ends, or -1 if `buf` does not hold all of it."""
    if len(buf) - at < 2:
        return -1
    n = buf[at + 1] & 0x7F
    head = 2
    if n == 126:
        head, n = 4, int.from_bytes(buf[at + 2 : at + 4], "big")
    elif n == 127:
        head, n = 10, int.from_bytes(buf[at + 2 : at + 10], "big")
    end = at + head + n
    return end if len(buf) >= end and len(buf) - at >= head else -1


async def bare_socket_client(url: str, kind: str, tally: Tally) -> None:
    import trio

    parts = urlsplit(url)
    sock = trio.socket.socket()
    with sock:
        await sock.connect((parts.hostname, parts.port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await sock.send(request.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += await sock.recv(65536)
        head, _, buf = buf.partition(b"\r\n\r\n")
        headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
        remaining = int({k.strip().lower(): v for k, v in headers.items()}[b"x-flood-bytes"])
        for frame in _subscribe_frames(kind):
            await sock.send(_client_frame(frame))
        at = 0
        for _ in _subscribe_frames(kind):  # the acks come before the flood
            while (end := _frame_end(buf, at)) < 0:
                buf += await sock.recv(65536)
            at = end
        if len(buf) > at:
            tally.started()
            remaining -= len(buf) - at
        chunk = bytearray(1 << 20)
        recv_into = sock.recv_into
        while remaining > 0:
            n = await recv_into(chunk)
            if not n:
                raise RuntimeError("the server closed before the end of the tape")
            tally.started()
            remaining -= n
        if remaining:
            raise RuntimeError(f"{-remaining} bytes beyond the tape")
        tally.trades = tally.wanted  # counted in bytes, not frames: nothing parsed
        tally.done()


def run_client(name: str, url: str, kind: str, messages: int, stamps_out: str) -> dict[str, Any]:
    tally = Tally(messages, stamps=bool(stamps_out))
    if name.startswith("gatetrio") or name in {"trio-websocket", "bare-socket"}:
        import trio

        if name == "trio-websocket":
            trio.run(trio_websocket_client, url, kind, tally)
        elif name == "bare-socket":
            trio.run(bare_socket_client, url, kind, tally)
        else:
            trio.run(lambda: gatetrio_client(url, kind, tally, batches=name == "gatetrio-batch"))
    else:
        runner = {
            "gate-ws": gate_ws_client,
            "websockets-json": websockets_client,
            "picows-msgspec": picows_client,
            "picows-bare": picows_bare_client,
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


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def _ratio_medians(per_round: Sequence[dict[str, float]], base: str) -> dict[str, float]:
    """Per client, the median over rounds of (its figure / `base`'s figure in that round)."""
    ratios: dict[str, list[float]] = {}
    for got in per_round:
        if base in got:
            for name, value in got.items():
                ratios.setdefault(name, []).append(value / got[base])
    return {name: statistics.median(values) for name, values in ratios.items()}


def _fmt_ratio(ratios: dict[str, float], name: str) -> str:
    return f"{ratios[name]:.2f}" if name in ratios else "-"


def _expected_check(kind: str, messages: int) -> list[int]:
    """What every reading client must report for the flood server's tape (`Tally.report`)."""
    trades = messages // 2 if kind == "mixed" else messages
    ids = sum(range(FIRST_TRADE_ID, FIRST_TRADE_ID + trades))
    deltas = messages - trades
    return [trades, ids, deltas, deltas * 20]  # obu deltas carry 10 bids and 10 asks


def throughput(
    port: int, kind: str, clients: Sequence[str], rounds: int, messages: int
) -> dict[str, dict[str, float]]:
    """Interleaved rounds of every client; prints the table and returns, per client, its
    median rate (`rate`) and medians of per-round ratios (`vs <peer>`)."""
    url = _url(port, messages=messages, kind=kind, size_decimal=1)
    print(f"\n{kind}: {messages} frames per client per round, {rounds} interleaved rounds")
    print(f"before: {load_average()}\n", flush=True)
    per_round: list[dict[str, float]] = []
    for r in range(rounds):
        order = list(clients[r % len(clients) :]) + list(clients[: r % len(clients)])
        got: dict[str, float] = {}
        checks: dict[str, list[int]] = {}
        for name in order:
            result = _spawn(name, url, kind, messages)
            got[name] = messages / result["seconds"]
            checks[name] = result["check"]
        expected = _expected_check(kind, messages)
        for name in [n for n in order if n not in FLOORS and checks[n] != expected]:
            # Once per client and round: under a heavy load a client can lose its connection
            # (a late pong) and read part of the tape twice after reconnecting. Said, re-run.
            print(f"round {r + 1}: {name} read {checks[name]}, not {expected}; run again")
            result = _spawn(name, url, kind, messages)
            got[name] = messages / result["seconds"]
            checks[name] = result["check"]
        readers = {tuple(v) for k, v in checks.items() if k not in FLOORS}
        if len(readers) > 1 or (readers and list(readers.pop()) != expected):
            raise RuntimeError(f"clients read different things: {checks} (expected {expected})")
        per_round.append(got)
    peers = ("picows-msgspec", "gate-ws", "websockets-json")
    ratios = {peer: _ratio_medians(per_round, peer) for peer in peers}
    print(
        "| client | msgs/s (median) | min..max | us/msg | vs picows+msgspec | vs gate-ws "
        "| vs websockets+json |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    out: dict[str, dict[str, float]] = {}
    for name in clients:
        rs = [got[name] for got in per_round]
        rate = statistics.median(rs)
        out[name] = {"rate": rate} | {
            f"vs {peer}": ratios[peer][name] for peer in peers if name in ratios[peer]
        }
        cells = " | ".join(_fmt_ratio(ratios[peer], name) for peer in peers)
        print(
            f"| {name} | {rate / 1e3:.1f} k | {min(rs) / 1e3:.1f} k..{max(rs) / 1e3:.1f} k "
            f"| {1e6 / rate:.2f} | {cells} |",
            flush=True,
        )
    ours = [n for n in clients if n.startswith("gatetrio")]
    if ours:
        fastest = max(clients, key=lambda n: out[n]["rate"])
        best_ours = max(ours, key=lambda n: out[n]["rate"])
        headroom = statistics.median(got[fastest] / got[best_ours] for got in per_round)
        verdict = (
            "no ratio above is capped by the server"
            if headroom >= HEADROOM
            else f"BELOW {HEADROOM:.0f}x: the server may cap the ratios above"
        )
        print(
            f"\nserver headroom: the fastest client ({fastest}) got {headroom:.1f}x what "
            f"{best_ours} got (median of rounds): {verdict}"
        )
    print(f"after: {load_average()}", flush=True)
    return out


def _percentiles(sent: array[int], got: array[int], skip: int) -> tuple[float, float]:
    lat = sorted((g - s) / 1e3 for s, g in zip(sent[skip:], got[skip:], strict=True))
    if any(g == 0 for g in got[skip:]):
        raise RuntimeError("a trade was never stamped by the client")
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)]


def _latency_round(port: int, name: str, rate: int, messages: int) -> tuple[float, float]:
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
    return _percentiles(sent, got, messages // 20)


def latency(
    port: int, clients: Sequence[str], rounds: int, messages: int
) -> dict[tuple[str, int], dict[str, float]]:
    """Paced trades at 10k and 50k msgs/s; rounds interleave the clients. Prints the table and
    returns per (client, rate): median p50/p99 and the medians of per-round p50 ratios."""
    print(
        f"\nlatency (trades, {messages} frames a round, first 5% skipped, {rounds} interleaved "
        "rounds; p50 ratio = client's p50 / peer's p50 in the same round, median of rounds)"
    )
    print(f"before: {load_average()}\n", flush=True)
    peers = [p for p in ("websockets-json", "picows-msgspec") if p in clients]
    print(
        "| client | offered msgs/s | p50 us | p99 us | "
        + " | ".join(f"p50 vs {p}" for p in peers)
        + " |"
    )
    print("|---|---:|---:|---:|" + "---:|" * len(peers))
    out: dict[tuple[str, int], dict[str, float]] = {}
    for rate in (10_000, 50_000):
        p50s: list[dict[str, float]] = []
        p99s: list[dict[str, float]] = []
        for r in range(rounds):
            order = list(clients[r % len(clients) :]) + list(clients[: r % len(clients)])
            p50: dict[str, float] = {}
            p99: dict[str, float] = {}
            for name in order:
                p50[name], p99[name] = _latency_round(port, name, rate, messages)
            p50s.append(p50)
            p99s.append(p99)
        ratios = {peer: _ratio_medians(p50s, peer) for peer in peers}
        for name in clients:
            row = {
                "p50": statistics.median(d[name] for d in p50s),
                "p99": statistics.median(d[name] for d in p99s),
            } | {f"p50 vs {peer}": ratios[peer][name] for peer in peers}
            out[name, rate] = row
            cells = " | ".join(f"{ratios[p][name]:.2f}" for p in peers)
            print(
                f"| {name} | {rate // 1000}k | {row['p50']:.0f} | {row['p99']:.0f} | {cells} |",
                flush=True,
            )
    print(f"after: {load_average()}", flush=True)
    return out


def main(argv: Sequence[str] | None = None, results: dict[str, float] | None = None) -> int:
    """Run it; with `results`, also put the figures `benchmarks.goals` reads there."""
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
    print(f"Python {platform.python_version()}, {platform.machine()}, {load_average()}")
    with flood_server() as port:
        for kind in args.kinds.split(","):
            if kind:
                table = throughput(port, kind, clients, args.rounds, args.messages)
                if results is not None:
                    for name, row in table.items():
                        for key, value in row.items():
                            results[f"{kind} {name} {key}"] = value
        if args.latency:
            paced = latency(
                port,
                [c for c in clients if c not in FLOORS],
                args.latency_rounds,
                args.latency_messages,
            )
            if results is not None:
                for (name, rate), row in paced.items():
                    for key, value in row.items():
                        results[f"paced {rate} {name} {key}"] = value
    return 0


if __name__ == "__main__":
    sys.exit(main())
