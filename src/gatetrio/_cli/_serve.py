"""`gatetrio serve`: the fake exchange (or a recording) on a loopback port, for any client.

    serve [--port 8765] [--seed S] [--fault SPEC ...] [--tls] [--profile live|docs]
    serve --replay DIR [--speed X | --as-fast-as-possible]

The first line printed carries the bound port (`--port 0` picks a free one), for scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs
import trio

from gatetrio._core._config import Credentials
from gatetrio._core._errors import UsageError
from gatetrio.testing import (
    FAULT_KINDS,
    PROFILES,
    ConnectionOptions,
    FakeGateServer,
    FaultSpec,
    catalogue,
    parse_fault,
)
from gatetrio.testing._loopback import serve_tcp, tls_context, urls

from ._process import EXIT_ERROR, EXIT_OK, EXIT_USAGE, print_error, run_command

if TYPE_CHECKING:
    import ssl
    from collections.abc import Sequence

    from gatetrio.testing import ContractSpec

DEFAULT_PORT: Final = 8765


def add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` to the `gatetrio` parser; it sets `func(namespace) -> exit code`."""
    serve = subparsers.add_parser(
        "serve",
        help="run the fake Gate exchange on loopback",
        description=(
            "Run a protocol-faithful fake of Gate's futures WebSocket v4 server (and its REST "
            "order-book snapshot) on a local port. It prints its URLs first."
        ),
        epilog=(
            "faults: KIND[:ARG...][@AT[/EVERY]] with KIND one of "
            f"{', '.join(FAULT_KINDS)}; e.g. --fault gap:BTC_USDT:5@10/30 --fault drop@60"
        ),
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=_port_arg,
        default=DEFAULT_PORT,
        help=f"port to listen on, 0-65535; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    serve.add_argument("--seed", type=int, default=0, help="market seed (default 0)")
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        type=_fault_arg,
        help="inject a fault at a time (repeatable; see below)",
    )
    serve.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop by itself after this long"
    )
    serve.add_argument("--key", help="API key private channels and futures.login must sign with")
    serve.add_argument("--secret", help="API secret (with --key)")
    serve.add_argument("--uid", default="20011", help="user id of the fake account")
    serve.add_argument(
        "--obu-snapshot-before-ack",
        action="store_true",
        help="push the first futures.obu snapshot before the subscribe ack",
    )
    serve.add_argument(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        help="close idle sockets after this long (default: the profile's; live 30.5)",
    )
    serve.add_argument(
        "--profile",
        choices=("live", "docs"),
        default="live",
        help="behave as live Gate does (default) or as its docs say, where they differ",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve wss:// and https:// with a CA made at start (needs trustme); "
        "its PEM path is printed",
    )
    serve.add_argument(
        "--fixed-time",
        action="store_true",
        help="start the fake's clock at a fixed 2026 date instead of now (repeatable frames)",
    )
    serve.add_argument(
        "--contracts",
        type=int,
        metavar="N",
        help="list N USDT perpetuals (a deterministic catalogue: a few hot, a long quiet tail)",
    )
    serve.add_argument(
        "--send-queue",
        type=int,
        default=1000,
        metavar="N",
        help="frames queued per connection before it is cut as a slow consumer (default 1000)",
    )
    serve.add_argument(
        "--replay", metavar="DIR", help="serve a recording (`record --out DIR`) instead of a market"
    )
    pace = serve.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed", type=float, default=1.0, help="replay this many times faster (default 1)"
    )
    pace.add_argument("--as-fast-as-possible", action="store_true", help="replay without pauses")
    serve.set_defaults(func=run_serve)


def _port_arg(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range: a port is 0-65535")
    return port


def _fault_arg(text: str) -> FaultSpec:
    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_serve(args: argparse.Namespace) -> int:
    """`func` of the `serve` parser: check the options, then serve (a market or a replay)."""
    if (args.key is None) != (args.secret is None):
        print_error("--key and --secret go together")
        return EXIT_USAGE
    if not args.speed > 0:
        print_error(f"--speed must be > 0, got {args.speed}")
        return EXIT_USAGE
    if args.contracts is not None and not 1 <= args.contracts <= 5000:
        print_error(f"--contracts must be 1..5000, got {args.contracts}")
        return EXIT_USAGE
    if args.send_queue < 1:
        print_error(f"--send-queue must be >= 1, got {args.send_queue}")
        return EXIT_USAGE
    if args.replay is not None:
        return run_command(serve_replay, args)
    return run_command(serve, args)


async def serve_replay(args: argparse.Namespace) -> int:
    """`gatetrio serve --replay DIR`: a recording on `--host`:`--port`, timed."""
    from gatetrio.testing import ReplayServer  # noqa: PLC0415

    speed = math.inf if args.as_fast_as_possible else args.speed
    try:
        server = ReplayServer.from_directory(
            args.replay,
            speed=speed,
            connection=ConnectionOptions(send_queue_size=max(args.send_queue, 10_000)),
        )
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        try:
            port = await nursery.start(serve_tcp, server, args.host, args.port)
        except OSError as exc:
            print_error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
            nursery.cancel_scope.cancel(reason="cannot listen")
            return EXIT_ERROR
        pace = "as fast as possible" if math.isinf(speed) else f"at {speed:g}x"
        print(f"gatetrio replay of {args.replay} listening on {args.host}:{port} ({pace})")
        for url in urls(args.host, port):
            print(f"  {url}")
        print("It starts 1 s after the first subscription. Ctrl-C stops it.", flush=True)
        if args.duration is not None:
            await trio.sleep(args.duration)
            nursery.cancel_scope.cancel(reason="--duration elapsed")
    return EXIT_OK


async def serve(args: argparse.Namespace) -> int:
    """`gatetrio serve`: the fake exchange on `--host`:`--port` until stopped."""
    credentials = None
    if args.key is not None:
        credentials = Credentials(key=args.key, secret=args.secret, user_id=args.uid)
    markets: dict[str, Sequence[ContractSpec]] | None = None
    if args.contracts is not None:
        markets = {"usdt": catalogue(args.contracts, seed=args.seed)}
    profile = PROFILES[args.profile]
    if args.idle_timeout is not None:
        profile = attrs.evolve(profile, idle_timeout=args.idle_timeout)
    server = FakeGateServer(
        markets=markets,
        seed=args.seed,
        credentials=credentials,
        obu_snapshot_before_ack=args.obu_snapshot_before_ack,
        connection=ConnectionOptions(send_queue_size=args.send_queue),
        profile=profile,
        max_received=10_000,  # it may run for days: keep the frame log bounded
        # live clients sign with their own clock: follow it unless asked not to
        epoch_ms=None if args.fixed_time else int(time.time() * 1000),
    )
    with contextlib.ExitStack() as stack:
        context, ca_path = None, None
        if args.tls:
            ca_path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "ca.pem"
            try:
                context = tls_context(args.host, ca_path)
            except RuntimeError as exc:
                print_error(str(exc))
                return EXIT_ERROR
        return await _serve_on(server, args, context, ca_path)


async def _serve_on(
    server: FakeGateServer,
    args: argparse.Namespace,
    context: ssl.SSLContext | None,
    ca_path: Path | None,
) -> int:
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        try:
            port = await nursery.start(
                functools.partial(serve_tcp, ssl_context=context), server, args.host, args.port
            )
        except OSError as exc:  # port in use, unknown host, ...
            print_error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
            nursery.cancel_scope.cancel(reason="cannot listen")
            return EXIT_ERROR
        tls = context is not None
        _print_banner(server, args.host, port, urls(args.host, port, tls=tls), ca_path)
        if args.fault:
            nursery.start_soon(server.run_faults, args.fault)
        if args.duration is not None:
            await trio.sleep(args.duration)
            nursery.cancel_scope.cancel(reason="--duration elapsed")
    return EXIT_OK


def _print_banner(
    server: FakeGateServer, host: str, port: int, ws_urls: list[str], ca_path: Path | None
) -> None:
    # The first line is for scripts: it carries the bound port.
    print(f"gatetrio fake exchange listening on {host}:{port} (seed {server.seed})")
    for url in ws_urls:
        print(f"  {url}")
    scheme = "http" if ca_path is None else "https"
    print(
        f"  {scheme}://{host}:{port}/api/v4/futures/{{settle}}/order_book"
        "?contract=BTC_USDT&limit=20&with_id=true"
    )
    if ca_path is not None:
        print(f"  CA certificate: {ca_path}")
    print("Ctrl-C stops it.", flush=True)
