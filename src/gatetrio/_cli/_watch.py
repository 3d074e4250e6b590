"""`python -m gatetrio watch` and `python -m gatetrio stream`: the demo commands.

    watch BTC_USDT [--settle usdt] [--simulate] [--duration S]   live terminal view (rich)
    stream trades BTC_USDT [--simulate] [--duration S]           JSON lines on stdout

Each command is an async function taking its options and returning an exit code; `run_command`
runs one under trio with the process-level behaviour a command-line tool needs:
- Ctrl-C (SIGINT) or SIGTERM cancels the command and exits 0, with no traceback;
- a reader that goes away (`| head`) ends `stream` quietly with exit 0;
- an unreachable exchange is a one-line error suggesting `--simulate`, exit 1;
- a bad argument (contract, channel option) is a one-line error, exit 2.

`--simulate` serves the fake exchange (`gatetrio.testing`) in this process on 127.0.0.1 with a
free port and connects to it over a real socket, so the whole client path (TCP, WebSocket, REST
book snapshots) runs as it would against Gate.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Final, TypeVar

import attrs
import trio

from gatetrio import channels
from gatetrio._core._catalog import CATALOG
from gatetrio._core._config import endpoint_url
from gatetrio._core._errors import ConnectionLost, GateTrioError, UsageError
from gatetrio._core._requests import check_contract
from gatetrio._shell._client import ClientEventKind, open_client
from gatetrio._shell._excgroups import leaves
from gatetrio._shell._subscription import OverflowPolicy
from gatetrio._shell._transport import Connector, WebSocketLike, default_connector
from gatetrio.testing import FakeGateServer
from gatetrio.testing._loopback import serve_tcp

from ._jsonl import encode_lines

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client
    from gatetrio._shell._live_book import LiveOrderBook

    from ._view import WatchModel

T = TypeVar("T")

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2

FIRST_CONNECT_ATTEMPTS: Final = 3  # consecutive failures before giving up on the first connect
FIRST_CONNECT_DEADLINE: Final = 20.0  # seconds, whatever the failures look like
REFRESH_INTERVAL: Final = 0.1  # seconds between frames of the live view
LADDER_DEPTH: Final = 10  # book levels per side: _view.LADDER_DEPTH (not imported: rich)
STREAM_BUFFER: Final = 4096  # per subscription: a piped consumer may pause (less, a full pipe)
WRITE_BATCH: Final = 1024  # items moved from a subscription to the writer at once
WRITE_CHUNKS: Final = 16  # batches joined into one write to stdout

# `stream` takes the public channels; each catalogue row's builder has the row's short name.
PUBLIC_CHANNELS: Final[dict[str, Callable[..., ChannelSpec[object]]]] = {
    row.short: getattr(channels, row.short) for row in CATALOG if not row.private
}
PRIVATE_CHANNELS: Final = frozenset(row.short for row in CATALOG if row.private)


# ---------------------------------------------------------------------------------- options


@attrs.frozen(kw_only=True)
class ConnectOptions:
    """Where to connect: Gate (by settle), an explicit URL, or an in-process fake."""

    settle: str = "usdt"
    simulate: bool = False
    seed: int = 0
    url: str | None = None
    duration: float | None = None  # seconds; None runs until interrupted


@attrs.frozen(kw_only=True)
class WatchOptions(ConnectOptions):
    contract: str
    more: tuple[str, ...] = ()  # further contracts (JSON-lines output only)
    all_contracts: bool = False


@attrs.frozen(kw_only=True)
class StreamOptions(ConnectOptions):
    channel: str
    args: tuple[str, ...] = ()
    all_contracts: bool = False


def channel_spec(channel: str, args: Sequence[str]) -> ChannelSpec[object]:
    """Build a spec from the command line: `trades BTC_USDT`, `obu BTC_USDT level=50`, ...

    `name=value` arguments are passed by keyword, the others by position.

    Raises:
        UsageError: unknown or private channel, wrong arguments, or a bad value (the
            builder's own message).
    """
    name = channel.removeprefix("futures.")
    if name in PRIVATE_CHANNELS:
        raise UsageError(
            f"{channel} is a private channel; the command line streams public channels only "
            f"({', '.join(PUBLIC_CHANNELS)})"
        )
    builder = PUBLIC_CHANNELS.get(name)
    if builder is None:
        raise UsageError(f"unknown channel {channel!r}; choose one of {', '.join(PUBLIC_CHANNELS)}")
    positional = [a for a in args if "=" not in a]
    keywords = dict(a.split("=", 1) for a in args if "=" in a)
    signature = inspect.signature(builder)
    try:
        signature.bind(*positional, **keywords)
    except TypeError as exc:
        raise UsageError(f"{exc}; usage: stream {_usage(name, signature)}") from None
    return builder(*positional, **keywords)


def _usage(name: str, signature: inspect.Signature) -> str:
    """`candlesticks CONTRACT [interval=1m] [price=last]` from the builder's signature."""
    words = [name]
    for param in signature.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            words.append(f"[{param.name.upper().removesuffix('S')} ...]")
        elif param.default is param.empty:
            words.append(param.name.upper())
        else:
            words.append(f"[{param.name}={param.default}]")
    return " ".join(words)


# ------------------------------------------------------------------------------ connecting


class _FirstConnect:
    """Wraps a connector to fail fast (one line, no retry loop) when the exchange is unreachable.

    The client retries forever by design; a command line tool that has never connected
    should instead say why and stop. Once connected, reconnects are the client's business.
    """

    def __init__(self, connector: Connector) -> None:
        self._connector = connector
        self.scope = trio.CancelScope(deadline=trio.current_time() + FIRST_CONNECT_DEADLINE)
        self.connected = False
        self.failures = 0
        self.last_error = ""

    async def __call__(
        self, nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike:
        try:
            ws = await self._connector(nursery, url, headers)
        except (ConnectionLost, OSError) as exc:
            self.failures += 1
            self.last_error = str(getattr(exc, "reason", exc))
            if not self.connected and self.failures >= FIRST_CONNECT_ATTEMPTS:
                self.scope.cancel(reason="first connect failed")
            raise
        self.connected = True
        self.scope.deadline = math.inf
        return ws


@contextlib.asynccontextmanager
async def _simulated_exchange(options: ConnectOptions) -> AsyncIterator[str]:
    """Serve the fake exchange on 127.0.0.1 (a free port) for the block; yield its URL."""
    # Stamp frames with the real wall time, so the exchange-to-local latency means something.
    server = FakeGateServer(
        options.seed,
        options.settle,
        epoch_ms=time.time_ns() // 1_000_000,
        max_received=1000,  # a watch may run for days: keep the fake's frame log bounded
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        port = await nursery.start(serve_tcp, server, "127.0.0.1", 0)
        yield f"ws://127.0.0.1:{port}/v4/ws/{options.settle}"
        nursery.cancel_scope.cancel(reason="simulated exchange no longer needed")


async def _with_client(options: ConnectOptions, body: Callable[[Client], Awaitable[int]]) -> int:
    """Connect as `options` say, run `body(client)` (for `duration` at most), return its code."""
    async with contextlib.AsyncExitStack() as stack:
        if options.simulate:
            url = await stack.enter_async_context(_simulated_exchange(options))
        else:
            url = options.url or endpoint_url(options.settle)
        first = _FirstConnect(default_connector)
        code = EXIT_OK
        with first.scope:
            async with open_client(url=url, connector=first) as client:
                with trio.move_on_after(math.inf if options.duration is None else options.duration):
                    code = await body(client)
        if not first.connected:
            why = first.last_error or f"no connection within {FIRST_CONNECT_DEADLINE:g}s"
            hint = "" if options.simulate else "; no network? try --simulate"
            print_error(f"cannot reach {url} ({why}){hint}")
            return EXIT_ERROR
        return code
    raise AssertionError("unreachable")  # pragma: no cover - for mypy: the block returns


# ---------------------------------------------------------------------------------- stream


async def _forward(
    client: Client, spec: ChannelSpec[object], send: trio.MemorySendChannel[list[object]]
) -> None:
    """Move a subscription's items to the writer, in batches of what is buffered.

    A batch per wake-up rather than a send per item: one hop between tasks per item would
    cost more than encoding the item.
    """
    # A sync close: an async one would checkpoint while an error propagates, and a cancel
    # arriving there (the writer finishing) would replace that error.
    with send:
        async with client.subscribe(spec, buffer=STREAM_BUFFER) as sub:
            async for first in sub:
                batch = [first]
                try:
                    while len(batch) < WRITE_BATCH:
                        batch.append(sub.receive_nowait())
                except trio.WouldBlock:
                    pass
                except trio.EndOfChannel:
                    await send.send(batch)
                    return
                await send.send(batch)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def _write_lines(recv: trio.MemoryReceiveChannel[list[object]], fd: int) -> bool:
    """Write batches of items as JSON lines until the channel ends; False if the reader left.

    Writes happen in a worker thread: a full pipe or a slow terminal then blocks only the
    writer, while the client keeps reading (and counts what its bounded buffers drop). A write
    in progress is not abandoned when the command is cancelled (`--duration`, Ctrl-C): the
    output always ends with a whole line, at the price of waiting for a reader that paused.
    """
    async for batch in recv:
        chunks = [encode_lines(batch)]
        with contextlib.suppress(trio.WouldBlock):
            while len(chunks) < WRITE_CHUNKS:
                chunks.append(encode_lines(recv.receive_nowait()))
        try:
            await trio.to_thread.run_sync(_write_all, fd, b"".join(chunks), abandon_on_cancel=False)
        except BrokenPipeError:
            return False
    return True


async def _stream_specs(client: Client, specs: Sequence[ChannelSpec[object]]) -> int:
    send, recv = trio.open_memory_channel[list[object]](WRITE_CHUNKS)
    try:
        async with trio.open_nursery() as nursery:
            with recv:
                with send:
                    for spec in specs:
                        nursery.start_soon(_forward, client, spec, send.clone())
                if not await _write_lines(recv, sys.stdout.fileno()):
                    _silence_stdout()
                    nursery.cancel_scope.cancel(reason="output closed")
    finally:
        # also when stopped by --duration or Ctrl-C, which is how a stream usually ends
        dropped = client.statistics().messages_dropped
        if dropped:
            print_error(
                f"{dropped} events dropped: the output was read too slowly", prefix="warning"
            )
    return EXIT_OK


async def stream(options: StreamOptions) -> int:
    """`gatetrio stream CHANNEL ARGS...`: every item as a JSON line on stdout."""

    async def body(client: Client) -> int:
        specs = await resolve_specs(client, options.channel, options.args, options.all_contracts)
        return await _stream_specs(client, specs)

    return await _with_client(options, body)


async def listed(client: Client) -> tuple[str, ...]:
    """Every contract listed on the client's market (REST), less those being delisted."""
    from gatetrio._core._listing import listed_contracts  # noqa: PLC0415
    from gatetrio._shell._listing import rest_listing_fetcher  # noqa: PLC0415

    return listed_contracts(await rest_listing_fetcher(client.config.url)())


async def resolve_specs(
    client: Client, channel: str, args: Sequence[str], all_contracts: bool
) -> list[ChannelSpec[object]]:
    """The subscriptions for `CHANNEL ARGS...`; with `--all`, every listed contract goes
    first: one spec for a channel taking a contract list, one per contract otherwise."""
    if not all_contracts:
        return [channel_spec(channel, args)]
    contracts = await listed(client)
    builder = PUBLIC_CHANNELS.get(channel.removeprefix("futures."))
    takes_list = builder is not None and any(
        p.kind is p.VAR_POSITIONAL for p in inspect.signature(builder).parameters.values()
    )
    if takes_list:
        return [channel_spec(channel, [*contracts, *args])]
    return [channel_spec(channel, [contract, *args]) for contract in contracts]


def _silence_stdout() -> None:
    # The reader is gone: point fd 1 at /dev/null so nothing at exit (a flush of sys.stdout)
    # hits the broken pipe again (Python docs, "Note on SIGPIPE").
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# ----------------------------------------------------------------------------------- watch


def watch_specs(contract: str, settle: str) -> list[ChannelSpec[object]]:
    """What `watch` streams when stdout is not a terminal: tickers, trades and book updates."""
    book = channels.obu(contract, level=50) if settle == "usdt" else channels.order_book(contract)
    return [channels.tickers(contract), channels.trades(contract), book]


async def watch(options: WatchOptions) -> int:
    """`gatetrio watch CONTRACT`: the live view, or JSON lines when stdout is not a terminal."""
    several = options.all_contracts or bool(options.more)
    if not sys.stdout.isatty() or several:
        if several and sys.stdout.isatty():
            raise UsageError("the live view shows one contract; pipe the output for several")

        async def body(client: Client) -> int:
            names = [options.contract, *options.more] if options.contract else []
            if options.all_contracts:
                names = list(await listed(client))
            specs = [s for c in names for s in watch_specs(check_contract(c), options.settle)]
            return await _stream_specs(client, specs)

        return await _with_client(options, body)
    check_contract(options.contract)
    return await _with_client(options, lambda client: _watch_live(client, options))


@attrs.define
class _BookHolder:
    live: LiveOrderBook | None = None


async def _watch_live(client: Client, options: WatchOptions) -> int:
    from . import _view  # noqa: PLC0415 - rich loads only for the live view

    model = _view.WatchModel(options.contract)
    model.status.url = client.config.url
    model.status.simulated = options.simulate
    holder = _BookHolder()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_follow_events, client, model)
        nursery.start_soon(_follow_trades, client, model)
        nursery.start_soon(_follow_ticker, client, model)
        nursery.start_soon(_follow_book, client, options.contract, holder)
        await _render_loop(client, model, holder)
    return EXIT_OK  # pragma: no cover - the render loop runs until cancelled


async def _render_loop(client: Client, model: WatchModel, holder: _BookHolder) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.live import Live  # noqa: PLC0415

    from . import _view  # noqa: PLC0415

    meter = _view.RateMeter()
    console = Console()
    # auto_refresh=False: rich would refresh from its own thread; frames are drawn from here.
    with Live(
        console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
    ) as live:
        while True:
            stats = client.statistics()
            meter.observe(stats.messages_received, trio.current_time())
            status = model.status
            status.messages_per_second = meter.rate
            status.pong_rtt = stats.last_pong_rtt
            status.latency_ms = stats.last_latency_ms
            status.reconnects = stats.reconnects
            status.drops = stats.messages_dropped
            if stats.connected:
                status.state, status.detail = "connected", ""
            elif status.state == "connected":
                status.state = "reconnecting"
            book = holder.live
            if book is not None:
                model.set_book(
                    book.book.bids(LADDER_DEPTH), book.book.asks(LADDER_DEPTH), ready=book.ready
                )
                status.book_resyncs = book.statistics().resyncs
            live.update(_view.render_watch(model), refresh=True)
            await trio.sleep(REFRESH_INTERVAL)


async def _follow_events(client: Client, model: WatchModel) -> None:
    async with client.events() as events:
        async for event in events:
            status = model.status
            if event.kind is ClientEventKind.CONNECTED:
                status.state, status.detail = "connected", ""
            elif event.kind is ClientEventKind.DISCONNECTED:
                status.state, status.detail = "reconnecting", event.reason
            elif event.kind is ClientEventKind.CONNECTING and status.state != "connected":
                status.detail = f"attempt {event.attempt + 1}"


async def _follow_trades(client: Client, model: WatchModel) -> None:
    async with client.subscribe(channels.trades(model.contract)) as trades:
        async for trade in trades:
            model.add_trade(trade)


async def _follow_ticker(client: Client, model: WatchModel) -> None:
    spec = channels.tickers(model.contract)
    async with client.subscribe(spec, buffer=1, overflow=OverflowPolicy.CONFLATE) as tickers:
        async for ticker in tickers:
            model.ticker = ticker


async def _follow_book(client: Client, contract: str, holder: _BookHolder) -> None:
    async with client.order_book(contract, depth=LADDER_DEPTH) as live:
        holder.live = live
        await trio.sleep_forever()


# ------------------------------------------------------------------------ process behaviour


def print_error(message: str, *, prefix: str = "error") -> None:
    print(f"gatetrio: {prefix}: {message}", file=sys.stderr, flush=True)


async def _cancel_on_signal(
    scope: trio.CancelScope, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            scope.cancel(reason="interrupted")
            return


async def _until_signal(command: Callable[[T], Awaitable[int]], options: T) -> int:
    code = EXIT_OK
    async with trio.open_nursery() as nursery:
        # the receiver is installed before the command starts: a Ctrl-C from then on (right
        # after a banner, say) cancels the command instead of raising KeyboardInterrupt in it
        await nursery.start(_cancel_on_signal, nursery.cancel_scope)
        code = await command(options)
        nursery.cancel_scope.cancel(reason="command finished")
    return code


def run_command(command: Callable[[T], Awaitable[int]], options: T) -> int:
    """Run an async command under trio; map interruption and errors to exit codes."""
    try:
        return trio.run(_until_signal, command, options)
    except KeyboardInterrupt:
        return EXIT_OK  # Ctrl-C outside the signal receiver's lifetime (start-up, shutdown)
    except BaseException as exc:  # the process boundary: one line, not a traceback
        found = leaves(exc)
        if all(isinstance(e, (KeyboardInterrupt, trio.Cancelled)) for e in found):
            return EXIT_OK
        errors = [e for e in found if isinstance(e, GateTrioError)]
        if errors and len(errors) == len(found):
            print_error(str(errors[0]))
            return EXIT_USAGE if isinstance(errors[0], UsageError) else EXIT_ERROR
        if isinstance(exc, BrokenPipeError):
            _silence_stdout()
            return EXIT_OK
        raise


# ------------------------------------------------------------------------------- argparse


def _add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settle",
        default="usdt",
        choices=["usdt", "btc", "usd1"],
        help="settle currency of the perpetual market (default: usdt)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="serve the fake exchange in this process on 127.0.0.1 and connect to it",
    )
    parser.add_argument("--seed", type=int, default=0, help="market seed for --simulate")
    parser.add_argument("--url", help="connect to this WebSocket URL instead (e.g. gatetrio serve)")
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )


def _connect_options(ns: argparse.Namespace) -> dict[str, object]:
    if ns.duration is not None and not ns.duration > 0:
        raise UsageError(f"--duration must be > 0 seconds, got {ns.duration}")
    return {
        "settle": ns.settle,
        "simulate": ns.simulate,
        "seed": ns.seed,
        "url": ns.url,
        "duration": ns.duration,
    }


def _run_watch(ns: argparse.Namespace) -> int:
    if not ns.contracts and not ns.all:
        print_error("name a contract (e.g. BTC_USDT), several, or --all")
        return EXIT_USAGE
    try:
        options = WatchOptions(
            contract=ns.contracts[0] if ns.contracts else "",
            more=tuple(ns.contracts[1:]),
            all_contracts=ns.all,
            **_connect_options(ns),  # type: ignore[arg-type]
        )
        for contract in ns.contracts:
            check_contract(contract)  # a bad contract fails before connecting
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    return run_command(watch, options)


def _run_stream(ns: argparse.Namespace) -> int:
    try:
        options = StreamOptions(
            channel=ns.channel,
            args=tuple(ns.args),
            all_contracts=ns.all,
            **_connect_options(ns),  # type: ignore[arg-type]
        )
        if not options.all_contracts:
            channel_spec(options.channel, options.args)  # a bad argument fails before connecting
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    return run_command(stream, options)


def add_watch(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `watch` to the `gatetrio` parser; it sets `func(namespace) -> exit code`."""
    watch_parser = subparsers.add_parser(
        "watch",
        help="live terminal view of one contract",
        description=(
            "Live view of one contract: ticker, order book (top 10 each side), trades tape and "
            "connection status. When stdout is not a terminal, prints JSON lines instead "
            "(tickers, trades and book updates), like `stream`."
        ),
    )
    watch_parser.add_argument("contracts", nargs="*", metavar="CONTRACT", help="e.g. BTC_USDT")
    watch_parser.add_argument(
        "--all", action="store_true", help="every listed contract (JSON lines only)"
    )
    _add_connect_arguments(watch_parser)
    watch_parser.set_defaults(func=_run_watch)


def add_stream(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `stream` to the `gatetrio` parser; it sets `func(namespace) -> exit code`."""
    stream_parser = subparsers.add_parser(
        "stream",
        help="stream one channel as JSON lines",
        description=(
            "Subscribe to one public channel and print every item as one JSON line "
            '({"type": "Trade", ...}; decimals as strings). Arguments go to the channel '
            "builder in gatetrio.channels: positional, or name=value. Examples: "
            "`stream trades BTC_USDT ETH_USDT`, `stream obu BTC_USDT level=50`, "
            "`stream candlesticks BTC_USDT 1m`."
        ),
    )
    stream_parser.add_argument("channel", help=f"one of: {', '.join(PUBLIC_CHANNELS)}")
    stream_parser.add_argument("args", nargs="*", help="channel arguments, e.g. BTC_USDT")
    stream_parser.add_argument(
        "--all",
        action="store_true",
        help="every listed contract (REST /futures/{settle}/contracts)",
    )
    _add_connect_arguments(stream_parser)
    stream_parser.set_defaults(func=_run_stream)


# shared with the `record` command (`_record.py`)
add_connect_arguments = _add_connect_arguments
connect_options = _connect_options
with_client = _with_client
