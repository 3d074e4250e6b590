"""The command line: ``python -m gatetrio <command> ...``.

Each subcommand is a pair of functions: an adder (``_add_serve`` here, ``add_watch`` and
``add_stream`` in `_watch`) declares its options and sets ``func``, and the function it sets
takes the parsed namespace and returns the exit code. Add a command by writing such a pair and
listing the adder in `_COMMANDS`. Optional
dependencies (rich) are imported by the command that needs them, not here. Async commands run
through `_watch.run_command`, which maps Ctrl-C, SIGTERM and errors to exit codes.

Exit codes: 0 success (Ctrl-C and SIGTERM count as a normal stop), 1 error (one line on
stderr), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import TYPE_CHECKING

import trio

from gatetrio._core._config import Credentials
from gatetrio.testing import FAULT_KINDS, FakeGateServer, FaultSpec, parse_fault
from gatetrio.testing._loopback import serve_tcp, urls

from . import _nats
from ._watch import EXIT_ERROR, EXIT_OK, EXIT_USAGE, add_stream, add_watch, print_error, run_command

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_library_logging()
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:  # Ctrl-C: a normal way to stop a long-running command
        return 0


def _quiet_library_logging() -> None:
    """The commands report failures themselves, in one line: the library's own warnings
    (retries, resyncs) stay out of the terminal unless the application configured logging.
    """
    library = logging.getLogger("gatetrio")
    if not library.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("gatetrio: %(levelname)s: %(message)s"))
        library.addHandler(handler)
        library.setLevel(logging.ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gatetrio",
        description="gatetrio: a trio client for Gate's futures WebSocket API v4",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMANDS:
        add(subparsers)
    return parser


# ------------------------------------------------------------------------------------ serve


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=int, default=8765, help="port to listen on; 0 picks a free one"
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
    serve.add_argument("--idle-timeout", type=float, default=60.0, metavar="SECONDS")
    serve.add_argument(
        "--fixed-time",
        action="store_true",
        help="start the fake's clock at a fixed 2026 date instead of now (repeatable frames)",
    )
    serve.set_defaults(func=_serve)


def _fault_arg(text: str) -> FaultSpec:
    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _serve(args: argparse.Namespace) -> int:
    if (args.key is None) != (args.secret is None):
        print_error("--key and --secret go together")
        return EXIT_USAGE
    return run_command(serve, args)


async def serve(args: argparse.Namespace) -> int:
    """`gatetrio serve`: the fake exchange on `--host`:`--port` until stopped."""
    credentials = None
    if args.key is not None:
        credentials = Credentials(key=args.key, secret=args.secret, user_id=args.uid)
    server = FakeGateServer(
        seed=args.seed,
        credentials=credentials,
        obu_snapshot_before_ack=args.obu_snapshot_before_ack,
        idle_timeout=args.idle_timeout,
        max_received=10_000,  # it may run for days: keep the frame log bounded
        # live clients sign with their own clock: follow it unless asked not to
        epoch_ms=None if args.fixed_time else int(time.time() * 1000),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        try:
            port = await nursery.start(serve_tcp, server, args.host, args.port)
        except OSError as exc:  # port in use, unknown host, ...
            print_error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
            nursery.cancel_scope.cancel(reason="cannot listen")
            return EXIT_ERROR
        _print_banner(server, args.host, port, urls(args.host, port))
        if args.fault:
            nursery.start_soon(server.run_faults, args.fault)
        if args.duration is not None:
            await trio.sleep(args.duration)
            nursery.cancel_scope.cancel(reason="--duration elapsed")
    return EXIT_OK


def _print_banner(server: FakeGateServer, host: str, port: int, ws_urls: list[str]) -> None:
    # The first line is for scripts: it carries the bound port.
    print(f"gatetrio fake exchange listening on {host}:{port} (seed {server.seed})")
    for url in ws_urls:
        print(f"  {url}")
    print(
        f"  http://{host}:{port}/api/v4/futures/{{settle}}/order_book"
        "?contract=BTC_USDT&limit=20&with_id=true"
    )
    print("Ctrl-C stops it.", flush=True)


_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_serve,
    add_watch,
    add_stream,
    *_nats.COMMANDS,
]
"""Subcommand adders, in `--help` order."""
