"""A WebSocket server that floods `futures.trades` frames, for the end-to-end benchmark.

    python -m benchmarks.flood_server [--port 0] [--host 127.0.0.1]

Prints `LISTENING <port>` on stdout once it accepts connections, then serves each connection in
its own thread until killed. A connection is parameterised by its request target's query:

    ws://127.0.0.1:<port>/v4/ws/usdt?messages=100000&rate=0&stamps=/tmp/x.bin

Optional: `kind=mixed` alternates trade frames with `futures.obu` deltas of ~20 levels (the
flood starts once both channels are subscribed), `size_decimal=1` sends sizes as strings to
every client whatever headers it sent (so peers that cannot set `X-Gate-Size-Decimal` get the
same bytes as gatetrio), `subs=N` waits for N subscribes before the flood, `contract=NAME` is
the contract in every frame (default BTC_USDT, whatever the client subscribed to).

1. The client subscribes to `futures.trades` (any contract) and gets a proper ack (spec 2.2);
   `futures.ping` gets a `futures.pong` (spec 4.2) for as long as the connection lives.
2. After the ack the server sends `messages` frames from a **tape built before the first one is
   sent** (trade frames of ~215 bytes, valid Gate JSON as in the spec 6.2 live capture, one trade
   each, contiguous ids from `FIRST_TRADE_ID`; with `kind=mixed` every other frame an obu delta).
   Building a frame costs the server ~3 us in Python, more than the fastest clients spend
   receiving one, so a server that built frames while sending measured itself, not the clients
   (issue 22: picows without decoding got 72 k frames/s from it). Tapes are cached per
   (kind, messages, size_decimal), so every client of a run gets the same bytes; `time_ms`
   and `create_time_ms` are the tape's build time. The handshake reply carries
   `X-Flood-Bytes: <tape length>`, so a client that only counts bytes (the bare socket loop)
   knows when the flood is over.
   - `rate=0`: as fast as the socket takes them, in chunks of CHUNK bytes, so the client is the
     bottleneck (the server sends ~2 GB/s on loopback: tens of millions of frames a second).
   - `rate=R`: one frame every 1/R s on a spinning schedule (sleep overshoots by ~60 us; the
     spin calls sched_yield so a client on the same core still runs), each sent alone with
     TCP_NODELAY; the `CLOCK_MONOTONIC` ns just before each send is written
     to `stamps` (native int64 array, index = trade id - FIRST_TRADE_ID) when the run ends, via a
     temporary file and an atomic rename. CLOCK_MONOTONIC is system-wide, so the client process
     can subtract it from its own `time.monotonic_ns()`. Paced runs are trades only.
3. Then the server idles (still answering pings) until the client closes.

Blocking sockets and threads, not trio: the fastest thing to write that keeps the server from
being what is measured. Outbound data frames are framed by hand (a text frame from a server is a
2- or 4-byte header and the payload, RFC 6455 5.2); wsproto parses the handshake and the client's
masked frames on a reader thread and produces the control replies, which the sending thread
interleaves between its own frames so nothing writes to the socket concurrently.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import socket
import sys
import threading
import time
from array import array
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

import wsproto
import wsproto.events as ws_events

FIRST_TRADE_ID: Final = 807_645_690
CONTRACT: Final = "BTC_USDT"
CHUNK: Final = 256 * 1024  # bytes per sendall in flood mode: a few socket buffers' worth
TAPES_KEPT: Final = 4  # cached tapes (a 60 000-frame mixed tape is ~25 MB)
RECV_SIZE: Final = 65536

# spec 6.2 (live 2026 capture), one trade per frame; with X-Gate-Size-Decimal the size is a string
_TRADE: Final = (
    '{{"time":{s},"time_ms":{ms},"channel":"futures.trades","event":"update",'
    '"result":[{{"id":{id},"size":{size},"create_time":{s},"create_time_ms":{ms},'
    '"price":"{price}","contract":"{contract}"}}]}}'
)


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented server text frame (RFC 6455 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class TradeTape:
    """Deterministic realistic trades: a price random walk around 64000 with tick 0.1."""

    def __init__(self, *, contract: str, size_decimal: bool, seed: int = 1) -> None:
        self.contract = contract
        self.size_decimal = size_decimal
        self._rng = random.Random(seed)
        self._ticks = 639_945  # price in 0.1 units

    def frame(self, index: int, wall_ms: int) -> bytes:
        rng = self._rng
        self._ticks += rng.choice((-2, -1, -1, 0, 0, 0, 1, 1, 2))
        units, frac = divmod(self._ticks, 10)
        size = rng.choice((1, 2, 3, 5, 8, 13, 40, 100, 4681)) * rng.choice((1, -1))
        payload = _TRADE.format(
            s=wall_ms // 1000,
            ms=wall_ms,
            id=FIRST_TRADE_ID + index,
            size=f'"{size}"' if self.size_decimal else size,
            price=f"{units}.{frac}" if frac else str(units),
            contract=self.contract,
        )
        return text_frame(payload.encode())


class ObuTape:
    """Deterministic `futures.obu` deltas: ~20 levels near a walking mid, contiguous U..u."""

    def __init__(self, *, contract: str, seed: int = 2) -> None:
        self.contract = contract
        self._rng = random.Random(seed)
        self._mid = 640_000  # ticks of 0.1
        self._update_id = 121_506_953_482

    def frame(self, wall_ms: int) -> bytes:
        rng = self._rng
        self._mid += rng.choice((-2, -1, 0, 0, 0, 1, 2))
        first = self._update_id + 1
        self._update_id += rng.randint(1, 20)

        def level(tick: int) -> str:
            # obu sends [price, size] as strings, with or without X-Gate-Size-Decimal
            units, frac = divmod(tick, 10)
            size = 0 if rng.random() < 0.2 else rng.randint(1, 60_000)
            return f'["{units}.{frac}","{size}"]' if frac else f'["{units}","{size}"]'

        mid = self._mid
        bids = ",".join(level(mid - k) for k in sorted(rng.sample(range(40), 10)))
        asks = ",".join(level(mid + 1 + k) for k in sorted(rng.sample(range(40), 10)))
        payload = (
            f'{{"time":{wall_ms // 1000},"time_ms":{wall_ms},"channel":"futures.obu",'
            f'"event":"update","result":{{"t":{wall_ms},"s":"ob.{self.contract}.400",'
            f'"U":{first},"u":{self._update_id},"b":[{bids}],"a":[{asks}]}}}}'
        )
        return text_frame(payload.encode())


def build_tape(
    kind: str, messages: int, *, size_decimal: bool, contract: str = CONTRACT
) -> list[bytes]:
    """`messages` ready-to-send frames: trades, or (`kind="mixed"`) trades and obu deltas
    alternating (trade ids stay contiguous over the trades alone). Deterministic but for the
    build time stamped into every frame."""
    wall_ms = time.time_ns() // 1_000_000
    trades = TradeTape(contract=contract, size_decimal=size_decimal)
    if kind != "mixed":
        return [trades.frame(i, wall_ms) for i in range(messages)]
    obu = ObuTape(contract=contract)
    return [
        trades.frame(i // 2, wall_ms) if i % 2 == 0 else obu.frame(wall_ms) for i in range(messages)
    ]


class Tapes:
    """Built tapes by (kind, messages, size_decimal, contract), shared by the sessions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tapes: dict[tuple[str, int, bool, str], list[bytes]] = {}

    def get(self, kind: str, messages: int, *, size_decimal: bool, contract: str) -> list[bytes]:
        key = (kind, messages, size_decimal, contract)
        with self._lock:  # one build at a time: two sessions wanting the same tape share it
            tape = self._tapes.get(key)
            if tape is None:
                if len(self._tapes) >= TAPES_KEPT:
                    self._tapes.pop(next(iter(self._tapes)))
                tape = self._tapes[key] = build_tape(
                    kind, messages, size_decimal=size_decimal, contract=contract
                )
            return tape


TAPES: Final = Tapes()


class Session:
    """One client connection: handshake, control replies on a reader thread, the flood here."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        self.replies: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.subscribed = threading.Event()
        self.subscribes = 0
        self.wanted = 1  # subscribes before the flood
        self.closed = threading.Event()
        self.tape: list[bytes] = []
        self.conn_id = os.urandom(8).hex()

    def run(self) -> None:
        try:
            params, _size_decimal = self._handshake()
            if params is None:
                return
            mixed = params.get("kind") == "mixed"
            self.wanted = int(params.get("subs", "2" if mixed else "1"))
            threading.Thread(target=self._read_loop, daemon=True).start()
            while not self.subscribed.wait(0.05):
                if self.closed.is_set():
                    return
                self._send_replies()
            self._send_replies()  # the ack goes out before the first trade
            rate = float(params.get("rate", "0"))
            if rate > 0:
                self._paced(self.tape, rate, params.get("stamps", ""))
            else:
                self._flood(b"".join(self.tape))
            while not self.closed.wait(0.05):
                self._send_replies()
        except OSError:
            pass  # the client went away: nothing to report from a benchmark server
        finally:
            with contextlib.suppress(OSError):
                self.sock.close()

    def _handshake(self) -> tuple[dict[str, str] | None, bool]:
        ws = self.ws
        while True:
            data = self.sock.recv(RECV_SIZE)
            if not data:
                return None, False
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, ws_events.Request):
                    query = parse_qs(urlsplit(event.target).query)
                    params = {k: v[-1] for k, v in query.items()}
                    size_decimal = params.get("size_decimal") == "1" or any(
                        k.lower() == b"x-gate-size-decimal" and v.strip() == b"1"
                        for k, v in event.extra_headers
                    )
                    self.tape = TAPES.get(
                        params.get("kind", "trades")
                        if float(params.get("rate", "0")) == 0
                        else "trades",
                        int(params.get("messages", "100000")),
                        size_decimal=size_decimal,
                        contract=params.get("contract", CONTRACT),
                    )
                    length = sum(map(len, self.tape))
                    accept = ws_events.AcceptConnection(
                        extra_headers=[(b"x-flood-bytes", str(length).encode())]
                    )
                    self.sock.sendall(ws.send(accept))
                    return params, size_decimal

    def _read_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                data = self.sock.recv(RECV_SIZE)
                ws.receive_data(data or None)
                for event in ws.events():
                    if isinstance(event, ws_events.TextMessage):
                        self._on_text(str(event.data))
                    elif isinstance(event, ws_events.Ping):
                        self.replies.put(ws.send(event.response()))
                    elif isinstance(event, ws_events.CloseConnection):
                        with contextlib.suppress(Exception):
                            self.replies.put(ws.send(event.response()))
                        self.closed.set()
                        return
                if not data:
                    self.closed.set()
                    return
        except (OSError, wsproto.utilities.LocalProtocolError):
            self.closed.set()

    def _on_text(self, text: str) -> None:
        request = json.loads(text)
        now_ms = time.time_ns() // 1_000_000
        channel = request.get("channel")
        if channel == "futures.ping":
            reply = {
                "time": now_ms // 1000,
                "time_ms": now_ms,
                "conn_id": self.conn_id,
                "channel": "futures.pong",
                "event": "",
                "result": None,
            }
        elif request.get("event") in {"subscribe", "unsubscribe"}:
            reply = {
                "time": now_ms // 1000,
                "time_ms": now_ms,
                "id": request.get("id"),
                "conn_id": self.conn_id,
                "trace_id": os.urandom(16).hex(),
                "channel": channel,
                "event": request["event"],
                "payload": request.get("payload"),
                "result": {"status": "success"},
            }
            if reply["id"] is None:
                del reply["id"]
        else:
            return
        self.replies.put(self.ws.send(ws_events.TextMessage(json.dumps(reply))))
        if request.get("event") == "subscribe":
            self.subscribes += 1
            if self.subscribes >= self.wanted:
                self.subscribed.set()

    def _send_replies(self) -> None:
        while True:
            try:
                data = self.replies.get_nowait()
            except queue.Empty:
                return
            self.sock.sendall(data)

    def _flood(self, data: bytes) -> None:
        view = memoryview(data)
        for at in range(0, len(data), CHUNK):
            if self.closed.is_set():
                return
            self._send_replies()
            self.sock.sendall(view[at : at + CHUNK])

    def _paced(self, tape: list[bytes], rate: float, stamps_path: str) -> None:
        period_ns = round(1e9 / rate)
        stamps = array("q", bytes(8 * len(tape)))
        monotonic_ns = time.monotonic_ns
        start = monotonic_ns() + 1_000_000
        for i, frame in enumerate(tape):
            due = start + i * period_ns
            while (left := due - monotonic_ns()) > 0:
                # sleep() overshoots by ~60 us, so only sleep long gaps; spin the rest, yielding
                # the CPU to the client under test if it wants it (sched_yield)
                if left > 300_000:
                    time.sleep((left - 200_000) / 1e9)
                else:
                    os.sched_yield()
            if i % 64 == 0:
                self._send_replies()
            stamps[i] = monotonic_ns()
            self.sock.sendall(frame)
        if stamps_path:
            tmp = Path(f"{stamps_path}.tmp")
            tmp.write_bytes(stamps.tobytes())
            tmp.replace(stamps_path)  # atomic: the client never reads half a file


def serve(host: str, port: int) -> None:
    listener = socket.create_server((host, port), backlog=16)
    print(f"LISTENING {listener.getsockname()[1]}", flush=True)
    while True:
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=Session(sock).run, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
