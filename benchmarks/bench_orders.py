"""Order round trip (place -> result) over loopback, gatetrio against other clients.

    python -m benchmarks.bench_orders [--rounds 9] [--orders 200] [--server fake,fast]
                                      [--clients gatetrio,gate-ws,ccxt,bare]

Two servers, one table each:

- `fake`: `python -m gatetrio serve`, the loopback fake with its real trading API (login,
  signatures, the ack echo, the engine, pushes). It carries each order out, and that takes
  most of a round trip: every client measures about the same against it;
- `fast`: `benchmarks.order_server`, Gate's reply shapes from templates and nothing else
  (ccxt still loads its markets from the fake's REST). What is left of a round trip is the
  client, and the `bare` floor (a websockets loop sending a prepared frame and waiting for the
  reply's request_id, nothing read) shows how much of that the server and the socket take.

Each client runs in its own process (trio and asyncio never share one) and, after logging in
and ten untimed warm-up orders, places `--orders` limit orders far from the market, one at a
time at 80 a second (under Gate's 100 a second, so the fake's rate limit never answers instead
of its engine). Each round trip is timed from the call that sends the order to the moment the
caller holds the final result with its fields read (id, status, text, price and size as
`Decimal`); the ack is not the result for anyone. Every order is cancelled right after
(untimed), so the book the fake's engine searches stays the same size for every client.

Clients:
- `gatetrio`: ``await client.request(PlaceOrder(...))``, a typed `Order` (deadline, client
  order id, rate limiter and all);
- `gate-ws`: the official SDK (asyncio + websockets): ``FuturesOrderPlaceChannel.api_request``
  with an async callback that resolves a future on the final reply. It sends a fresh
  `futures.login` before every request (its design, spec 8.4), so its round trip carries two
  requests; the table says so rather than hiding it;
- `ccxt`: ccxt pro's ``create_order_ws`` (logs in once per connection), its parsed order;
  its own throttle (`enableRateLimit`, 50 ms a request for gate) is off, since the pace keeps
  every client under the limit: with it on its p50 is that throttle (about 50 ms).

Rounds interleave the clients in rotating order, short rounds so that the load of a shared
machine changes little within one. The table gives per client the median over rounds of the
p50 and p99 round trip and of the per-round ratios to gatetrio (> 1: slower than gatetrio).
The load average is printed before and after: the machine is shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Sequence

CLIENTS: Final = ("gatetrio", "gate-ws", "ccxt", "bare")
SERVERS: Final = ("fake", "fast")
KEY: Final = "k" * 32
SECRET: Final = "s" * 64
USER_ID: Final = "20011"
CONTRACT: Final = "BTC_USDT"
SYMBOL: Final = "BTC/USDT:USDT"
PRICE: Final = "30000"  # far below the fake's market: every order rests, none fills
PACE: Final = 1 / 80  # seconds between orders: under Gate's (and the fake's) 100 a second
WARM_UP: Final = 10
ROOT: Final = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------- clients


def _read(order_id: object, status: object, text: object, price: object, size: object) -> None:
    """Read the fields every client must hold: as gatetrio's record gives them."""
    if not (order_id and status == "open" and text and Decimal(str(price)) and Decimal(str(size))):
        raise AssertionError(f"unexpected order: {order_id} {status} {text} {price} {size}")


async def _paced(
    orders: int,
    place: Callable[[int], Awaitable[None]],
    cancel: Callable[[], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]],
) -> list[int]:
    """Warm up, then time `orders` round trips one after another at the pace; ns each."""
    latencies: list[int] = []
    for i in range(WARM_UP + orders):
        started = time.perf_counter_ns()
        await place(i)
        took = time.perf_counter_ns() - started
        if i >= WARM_UP:
            latencies.append(took)
        await cancel()
        await sleep(max(0.0, PACE - (time.perf_counter_ns() - started) / 1e9))
    return latencies


def run_gatetrio(url: str, orders: int) -> list[int]:
    import trio

    import gatetrio

    async def main() -> list[int]:
        creds = gatetrio.Credentials(key=KEY, secret=SECRET, user_id=USER_ID)
        async with gatetrio.open_client(url=url, credentials=creds) as client:
            await client.request(gatetrio.Login())
            last: list[gatetrio.Order] = []

            async def place(_: int) -> None:
                order = await client.request(
                    gatetrio.PlaceOrder(contract=CONTRACT, size=1, price=PRICE)
                )
                _read(order.id, order.status, order.text, order.price, order.size)
                last[:] = [order]

            async def cancel() -> None:
                await client.request(gatetrio.CancelOrder(order_id=last[0].id))

            return await _paced(orders, place, cancel, trio.sleep)

    return trio.run(main)


def run_gate_ws(url: str, orders: int) -> list[int]:
    from gate_ws import Configuration, Connection, WebSocketResponse
    from gate_ws.futures import FuturesOrderCancelChannel, FuturesOrderPlaceChannel

    async def main() -> list[int]:
        conn = Connection(Configuration(app="futures", host=url, api_key=KEY, api_secret=SECRET))
        # by (channel, req_id): gate-ws sends its login under the request's own req_id
        waiting: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}

        async def on_reply(_: Connection, response: WebSocketResponse) -> None:
            msg = json.loads(response.body)
            if msg.get("ack") or "header" not in msg:
                return
            key = (msg["header"].get("channel", ""), msg.get("request_id", ""))
            future = waiting.pop(key, None)
            if future is not None and not future.done():
                if msg["header"].get("status") != "200":
                    future.set_exception(AssertionError(response.body))
                else:
                    future.set_result(msg["data"]["result"])

        conn.cfg.default_callback = on_reply
        placing = FuturesOrderPlaceChannel(conn, on_reply)
        cancelling = FuturesOrderCancelChannel(conn, on_reply)
        runner = asyncio.ensure_future(conn.run())
        last: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()

        async def place(i: int) -> None:
            req_id = f"place-{i}"
            done = waiting[placing.name, req_id] = loop.create_future()
            placing.api_request(
                {"contract": CONTRACT, "size": 1, "price": PRICE, "tif": "gtc"}, req_id=req_id
            )
            order = await done
            _read(order["id"], order["status"], order["text"], order["price"], order["size"])
            last[:] = [order]

        async def cancel() -> None:
            req_id = f"cancel-{last[0]['id']}"
            done = waiting[cancelling.name, req_id] = loop.create_future()
            cancelling.api_request({"order_id": str(last[0]["id"])}, req_id=req_id)
            await done

        try:
            return await asyncio.wait_for(_paced(orders, place, cancel, asyncio.sleep), 600)
        finally:
            conn.close()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner

    return asyncio.run(main())


def run_ccxt(rest_hostport: str, ws_hostport: str, orders: int) -> list[int]:
    import ccxt.pro

    async def main() -> list[int]:
        # ccxt's own throttle (50 ms a request for gate) off: the pace keeps every client under
        # the limit, and what is measured is the round trip, not a sleep
        options = {"apiKey": KEY, "secret": SECRET, "uid": USER_ID, "enableRateLimit": False}
        exchange = ccxt.pro.gate(options)
        api = exchange.urls["api"]
        for side in ("public", "private"):
            for name in api[side]:
                api[side][name] = f"http://{rest_hostport}/api/v4"
        for kind, prefix in (("swap", ""), ("future", "delivery/")):
            for settle in api[kind]:
                api[kind][settle] = f"ws://{ws_hostport}/v4/ws/{prefix}{settle}"
        try:
            await exchange.load_markets()
            last: list[dict[str, Any]] = []

            async def place(_: int) -> None:
                order = await exchange.create_order_ws(SYMBOL, "limit", "buy", 1, float(PRICE))
                _read(order["id"], order["info"]["status"], order["clientOrderId"] or "api",
                      order["price"], order["amount"])  # fmt: skip
                last[:] = [order]

            async def cancel() -> None:
                await exchange.cancel_order_ws(last[0]["id"], SYMBOL)

            return await asyncio.wait_for(_paced(orders, place, cancel, asyncio.sleep), 600)
        finally:
            await exchange.close()

    return asyncio.run(main())


def run_bare(url: str, orders: int) -> list[int]:
    """The floor: a prepared frame out, the reply with its request_id back, nothing read."""
    from websockets.asyncio.client import connect

    async def main() -> list[int]:
        async with connect(url, compression=None) as ws:
            await ws.send(json.dumps({"channel": "futures.login", "payload": {"req_id": "0"}}))
            await ws.recv()
            last: list[str] = []

            async def place(i: int) -> None:
                req_id = f"p{i}"
                param = {"contract": CONTRACT, "size": 1, "price": PRICE, "tif": "gtc"}
                frame = {"channel": "futures.order_place", "event": "api"}
                await ws.send(
                    json.dumps(frame | {"payload": {"req_id": req_id, "req_param": param}})
                )
                want = f'"request_id": "{req_id}"'
                while True:
                    reply = await ws.recv()
                    if want in reply and '"ack": true' not in reply:
                        break
                last[:] = [req_id]

            async def cancel() -> None:
                payload = {"req_id": f"c{last[0]}", "req_param": {"order_id": "1"}}
                await ws.send(json.dumps({"channel": "futures.order_cancel", "payload": payload}))
                await ws.recv()

            return await _paced(orders, place, cancel, asyncio.sleep)

    return asyncio.run(main())


def client_main(name: str, ws_port: int, rest_port: int, orders: int) -> int:
    url = f"ws://127.0.0.1:{ws_port}/v4/ws/usdt"
    if name == "gatetrio":
        latencies = run_gatetrio(url, orders)
    elif name == "gate-ws":
        latencies = run_gate_ws(url, orders)
    elif name == "bare":
        latencies = run_bare(url, orders)
    else:
        latencies = run_ccxt(f"127.0.0.1:{rest_port}", f"127.0.0.1:{ws_port}", orders)
    print(json.dumps({"client": name, "latencies_ns": latencies}), flush=True)
    return 0


# ---------------------------------------------------------------------------------- driver


@contextlib.contextmanager
def serve(seconds: int) -> Iterator[int]:
    """`python -m gatetrio serve` on a free loopback port; its port."""
    args = [sys.executable, "-m", "gatetrio", "serve", "--port", "0", "--key", KEY]
    args += ["--secret", SECRET, "--duration", str(seconds)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        port = int(first.split(":")[1].split()[0])
        for line in proc.stdout:  # the banner ends with the Ctrl-C hint
            if line.startswith("Ctrl-C"):
                break
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.contextmanager
def serve_fast() -> Iterator[int]:
    """`benchmarks.order_server` on a free loopback port; its port."""
    args = [sys.executable, "-m", "benchmarks.order_server", "--port", "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def measure(name: str, ws_port: int, rest_port: int, orders: int) -> list[int]:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.bench_orders", "--client", name),
            *("--port", str(ws_port), "--rest-port", str(rest_port), "--orders", str(orders)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stdout}\n{result.stderr}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("{"))
    latencies: list[int] = json.loads(line)["latencies_ns"]
    if len(latencies) != orders:
        raise RuntimeError(f"{name} timed {len(latencies)} orders, not {orders}")
    return latencies


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] / 1e6  # ms


def run_table(
    server: str, clients: list[str], *, ws_port: int, rest_port: int, rounds: int, orders: int
) -> None:
    clients = [c for c in clients if server == "fast" or c != "bare"]  # the floor: fast only
    print(f"\n--- server: {server} (load average {os.getloadavg()})", flush=True)
    p50: dict[str, list[float]] = {c: [] for c in clients}
    p99: dict[str, list[float]] = {c: [] for c in clients}
    for r in range(rounds):
        order = clients[r % len(clients) :] + clients[: r % len(clients)]
        for name in order:
            latencies = measure(name, ws_port, rest_port, orders)
            p50[name].append(percentile(latencies, 0.50))
            p99[name].append(percentile(latencies, 0.99))
            print(
                f"round {r + 1} {name:9} p50 {p50[name][-1]:.3f} ms p99 {p99[name][-1]:.3f} ms",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()}")
    print(f"\n{server}: {orders} orders a round, {rounds} rounds, medians over rounds")
    print("| client | p50 ms | p99 ms | p50 vs gatetrio | p99 vs gatetrio |")
    print("|---|---:|---:|---:|---:|")
    for name in clients:
        r50 = statistics.median(a / b for a, b in zip(p50[name], p50["gatetrio"], strict=True))
        r99 = statistics.median(a / b for a, b in zip(p99[name], p99["gatetrio"], strict=True))
        print(
            f"| {name} | {statistics.median(p50[name]):.3f} | {statistics.median(p99[name]):.3f}"
            f" | {r50:.2f}x | {r99:.2f}x |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--server", default=",".join(SERVERS))
    parser.add_argument("--client", help=argparse.SUPPRESS)  # one client, in its own process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rest-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args.client, args.port, args.rest_port, args.orders)
    clients = [c for c in args.clients.split(",") if c]
    servers = [s for s in args.server.split(",") if s]
    if set(clients) - set(CLIENTS) or "gatetrio" not in clients:
        parser.error(f"clients are {', '.join(CLIENTS)} (gatetrio among them)")
    if not servers or set(servers) - set(SERVERS):
        parser.error(f"servers are {', '.join(SERVERS)}")
    per_round = args.orders * PACE * 1.5 + 30
    seconds = int(per_round * len(clients) * args.rounds * len(servers) + 120)
    with serve(seconds) as fake_port, serve_fast() as fast_port:
        for server in servers:
            ws_port = fake_port if server == "fake" else fast_port
            run_table(
                server,
                clients,
                ws_port=ws_port,
                rest_port=fake_port,
                rounds=args.rounds,
                orders=args.orders,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
