"""NATS latency where users feel it: a publisher process, a real nats-server, a consumer process.

    python -m benchmarks nats-latency                      # 3 rounds, 5 000 events/s, 4 s each
    python -m benchmarks.bench_nats_latency --rate 5000 --seconds 4 --rounds 3

One nats-server (file store, as a deployment has) on a free loopback port. Each round runs, one
after the other (a noisy neighbour on the shared machine hits them alike), at the same paced
offered rate of trade events on one subject:

- bare: a nats-py process publishing with `js.publish_async` (the message id header, as
  gatetrio sends) and a nats-py process reading with an ordered push consumer and a callback,
  nats-py's own low-latency way to read JetStream;
- gatetrio: a process feeding `Publisher.put` from a trio task, and a process reading with
  `open_consumer` (ephemeral; the re-sequencing window on, its default);
- gatetrio durable: the same with `open_consumer(durable=...)`, acknowledging every event
  after the reader took it.

Each sender stamps an event with `time.monotonic_ns()` just before handing it over (CLOCK_
MONOTONIC is one clock for every process on a Linux machine), each reader just after it has
the event; the parent joins them by trade id. Reported: p50, p99 and p99.9 of each path, the
added latency of gatetrio's paths over bare (per round, then the median), and whether every
event arrived. The goal (issue 21.6): at most +2 ms p50 and +10 ms p99 at 5 000 events/s.
Then the floor of the design, in the same run: one crossing between trio's thread and nats-py's
asyncio thread, each way, paced at the same rate (each event makes two; bare nats-py none).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RATE = 5_000
SECONDS = 4.0
ROUNDS = 3
WARMUP = 1.0  # seconds of events before the ones timed: a consumer's start settles first
PATHS = ("bare", "gatetrio", "gatetrio-durable")
# (sender, reader) of each path; the split ones say which side adds what
SIDES = {
    "bare": ("bare", "bare"),
    "gatetrio": ("gatetrio", "gatetrio"),
    "gatetrio-durable": ("gatetrio", "gatetrio-durable"),
    "gatetrio publisher, bare reader": ("gatetrio", "bare"),
    "bare publisher, gatetrio reader": ("bare", "gatetrio"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server(store: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    binary = str(Path(sys.executable).parent / "nats-server")
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
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


def _envelopes(n: int, first_id: int, subject_contract: str) -> list[Any]:
    from decimal import Decimal

    import gatetrio
    from gatetrio.nats import envelope

    price = Decimal("63990.1")
    out = []
    for i in range(n):
        trade = gatetrio.Trade(
            id=first_id + i,
            contract=subject_contract,
            price=price,
            size=i % 50 + 1,
            create_time_ms=int(time.time() * 1000),
        )
        out.append(envelope(trade, settle="usdt", prev=first_id + i - 1 if i else None))
    return out


# ------------------------------------------------------------------------------- senders


async def _bare_send(url: str, stream: str, envs: list[Any], rate: float) -> dict[int, int]:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    sent: dict[int, int] = {}
    futures = []
    t0 = time.monotonic()
    for i, env in enumerate(envs):
        ahead = t0 + i / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
        sent[int(env.msg_id.rpartition(":")[2])] = time.monotonic_ns()
        futures.append(
            await js.publish_async(
                env.subject, env.payload, headers={"Nats-Msg-Id": env.msg_id}, stream=stream
            )
        )
    await asyncio.gather(*futures)
    await nc.close()
    return sent


async def _gatetrio_send(url: str, stream: str, envs: list[Any], rate: float) -> dict[int, int]:
    import trio

    import gatetrio
    from gatetrio.nats import open_publisher
    from gatetrio.testing import FakeGateServer

    server = FakeGateServer(seed=1)
    sent: dict[int, int] = {}
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with (
            gatetrio.open_client(connector=server.connector, wall_clock=server.wall_time) as c,
            open_publisher(c, url, stream=_settings(stream), buffer=len(envs) + 1) as publisher,
        ):
            await publisher.wait_ready()
            t0 = time.monotonic()
            for i, env in enumerate(envs):
                ahead = t0 + i / rate - time.monotonic()
                if ahead > 0:
                    await trio.sleep(ahead)
                sent[int(env.msg_id.rpartition(":")[2])] = time.monotonic_ns()
                await publisher.put(env)
            await publisher.flush()
        nursery.cancel_scope.cancel()
    return sent


# ------------------------------------------------------------------------------- readers


async def _bare_read(url: str, subject: str, count: int, ready: Any) -> dict[int, int]:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    got: dict[int, int] = {}
    done = asyncio.Event()

    async def on_msg(msg: Any) -> None:
        got[int(msg.headers["Nats-Msg-Id"].rpartition(":")[2])] = time.monotonic_ns()
        if len(got) >= count:
            done.set()

    await js.subscribe(subject, cb=on_msg, ordered_consumer=True, deliver_policy=None)
    ready()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), SECONDS * 10 + 30)
    await nc.close()
    return got


async def _gatetrio_read(  # noqa: PLR0917 - run by trio.run, which passes positionals
    url: str, stream: str, subject: str, count: int, durable: bool, ready: Any
) -> dict[int, int]:
    import trio

    from gatetrio.nats import open_consumer

    got: dict[int, int] = {}
    with trio.move_on_after(SECONDS * 10 + 30):
        async with open_consumer(
            url, [subject], stream=stream, durable=subject.replace(".", "-") if durable else None
        ) as sub:
            ready()
            while len(got) < count:
                for _, trade in await sub.receive_batch():
                    got[int(getattr(trade, "id", 0))] = time.monotonic_ns()
    return got


def _child(args: argparse.Namespace) -> None:
    """One side of one path, in its own process; its stamps go to `args.out` as JSON."""
    envs = _envelopes(args.count, args.first_id, args.contract)
    subject = envs[0].subject

    def ready() -> None:
        print("ready", flush=True)

    sender, reader = SIDES[args.path]
    if args.role == "send":
        if sender == "bare":
            stamps = asyncio.run(_bare_send(args.url, args.stream, envs, args.rate))
        else:
            import trio

            stamps = trio.run(_gatetrio_send, args.url, args.stream, envs, args.rate)
    elif reader == "bare":
        stamps = asyncio.run(_bare_read(args.url, subject, args.count, ready))
    else:
        import trio

        durable = reader == "gatetrio-durable"
        stamps = trio.run(
            _gatetrio_read, args.url, args.stream, subject, args.count, durable, ready
        )
    Path(args.out).write_text(json.dumps(stamps))


# -------------------------------------------------------------------------------- parent


def _settings(name: str) -> Any:
    """The stream both paths use, as gatetrio's publisher is asked to find it (no warning)."""
    from gatetrio.nats import StreamSettings

    return StreamSettings(name=name, subjects=(f"{name.lower()}.>", "gate.>"))


def _stream(url: str, name: str) -> None:
    import nats
    from nats.js import api

    settings = _settings(name)

    async def make() -> None:
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(
            name=name,
            subjects=list(settings.subjects),
            max_age=settings.max_age,
            max_bytes=settings.max_bytes,
            duplicate_window=settings.duplicate_window,
            storage=api.StorageType(settings.storage),
        )
        await nc.close()

    asyncio.run(make())


def _run_path(
    path: str, url: str, stream: str, *, first_id: int, rate: float, count: int, tmp: Path
) -> list[float]:
    warmup = int(rate * WARMUP)
    contract = f"L{first_id}_USDT"
    common = [
        "--path", path, "--url", url, "--stream", stream, "--first-id", str(first_id),
        "--rate", str(rate), "--count", str(count), "--contract", contract,
    ]  # fmt: skip
    me = [sys.executable, "-m", "benchmarks.bench_nats_latency", "--child"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reader = subprocess.Popen(
        [*me, "--role", "read", "--out", str(tmp / "read.json"), *common],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert reader.stdout is not None
    line = reader.stdout.readline()
    assert line.strip() == "ready", line
    sender = subprocess.run(
        [*me, "--role", "send", "--out", str(tmp / "send.json"), *common],
        env=env,
        check=True,
        timeout=SECONDS * 10 + 60,
    )
    assert sender.returncode == 0
    reader.wait(timeout=SECONDS * 10 + 60)
    sent = json.loads((tmp / "send.json").read_text())
    got = json.loads((tmp / "read.json").read_text())
    missing = len(sent) - len(got)
    if missing:
        print(f"  {path}: {missing} events never arrived", flush=True)
    timed = sorted(int(k) for k in sent if int(k) >= first_id + warmup and k in got)
    return [(got[str(k)] - sent[str(k)]) / 1e6 for k in timed]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# --------------------------------------------------------------------------------- floor


async def _handoffs(rate: float, seconds: float) -> dict[str, list[float]]:
    """The floor of gatetrio's design: nats-py runs on an asyncio thread beside trio's, so
    each event crosses between threads twice on its way (the publisher's trio -> asyncio, the
    consumer's asyncio -> trio), which bare nats-py never does. Each crossing alone, paced at
    `rate`, in one otherwise idle process: milliseconds from the call to the other side."""
    import threading

    import trio

    count = int(rate * (WARMUP + seconds))
    skip = int(rate * WARMUP)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    token = trio.lowlevel.current_trio_token()
    to_trio: list[float] = []
    done = trio.Event()

    def arrived(stamp: int) -> None:
        to_trio.append((time.monotonic_ns() - stamp) / 1e6)
        if len(to_trio) >= count:
            done.set()

    async def pace() -> None:
        start = time.monotonic()
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            token.run_sync_soon(arrived, time.monotonic_ns())

    asyncio.run_coroutine_threadsafe(pace(), loop)
    await done.wait()
    to_asyncio: list[float] = []

    def landed(stamp: int) -> None:
        to_asyncio.append((time.monotonic_ns() - stamp) / 1e6)

    start = trio.current_time()
    for i in range(count):
        await trio.sleep_until(start + i / rate)
        loop.call_soon_threadsafe(landed, time.monotonic_ns())
    await trio.sleep(0.2)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    return {"trio -> asyncio": to_asyncio[skip:], "asyncio -> trio": to_trio[skip:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_nats_latency")
    parser.add_argument("--rate", type=float, default=RATE)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--split", action="store_true", help="also gatetrio's publisher and reader each alone"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("role", "path", "url", "stream", "out", "contract"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--first-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return
    count = int(args.rate * (WARMUP + args.seconds))
    paths = list(SIDES) if args.split else list(PATHS)
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _server(tmp)
        try:
            _stream(url, "LAT")
            for r in range(args.rounds):
                round_dir = Path(tmp) / f"r{r}"
                round_dir.mkdir()
                results = {}
                for i, path in enumerate(paths):
                    first_id = 10**9 + r * 10**7 + i * 10**6
                    results[path] = _run_path(
                        path,
                        url,
                        "LAT",
                        first_id=first_id,
                        rate=args.rate,
                        count=count,
                        tmp=round_dir,
                    )
                    for q, name in ((0.5, "p50"), (0.99, "p99"), (0.999, "p99.9")):
                        rows.setdefault(f"{path} {name}", []).append(_pct(results[path], q))
                for path in paths[1:]:
                    for q, name in ((0.5, "p50"), (0.99, "p99")):
                        added = _pct(results[path], q) - _pct(results["bare"], q)
                        rows.setdefault(f"{path} added {name}", []).append(added)
                print(
                    f"round {r + 1}: "
                    + "; ".join(
                        f"{p} p50/p99 {_pct(results[p], 0.5):.2f}/{_pct(results[p], 0.99):.2f} ms"
                        for p in paths
                    ),
                    flush=True,
                )
        finally:
            proc.kill()
            proc.wait()
    med = {key: statistics.median(values) for key, values in rows.items()}
    load = os.getloadavg()
    print(
        f"\nprocess -> nats-server -> process at {args.rate:,.0f} events/s, "
        f"{args.seconds:g} s x {args.rounds} rounds (medians; load average {load[0]:.1f}):"
    )
    for path in paths:
        print(
            f"  {path:32} p50 {med[f'{path} p50']:6.2f} ms   p99 {med[f'{path} p99']:6.2f} ms"
            f"   p99.9 {med[f'{path} p99.9']:6.2f} ms"
        )
    for path in paths[1:]:
        p50, p99 = med[f"{path} added p50"], med[f"{path} added p99"]
        verdict = "met" if p50 <= 2.0 and p99 <= 10.0 else "MISSED"
        print(
            f"  added by {path}: p50 {p50:+.2f} ms, p99 {p99:+.2f} ms (goal +2/+10 ms: {verdict})"
        )
    import trio

    floor = trio.run(_handoffs, args.rate, args.seconds)
    print("the floor, one thread crossing alone (each event makes two; bare nats-py none):")
    for name, values in floor.items():
        print(
            f"  {name:32} p50 {_pct(values, 0.5):6.2f} ms   p99 {_pct(values, 0.99):6.2f} ms"
            f"   p99.9 {_pct(values, 0.999):6.2f} ms"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
