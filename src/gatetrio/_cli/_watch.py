"""`gatetrio watch CONTRACT`: a live terminal view of one contract (rich).

    watch BTC_USDT [--settle usdt] [--simulate] [--duration S]

When stdout is not a terminal it writes JSON lines instead (tickers, trades and book updates,
`stream`'s output), and then takes several contracts or `--all`; the live view shows one.

The live view starts drawing at once ("connecting to ..."), before the first connection: with
no network the screen says so instead of staying blank. The screen itself is `_view` (pure);
this module feeds its model from the client and draws it every `REFRESH_INTERVAL`.
"""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING, Final, NoReturn

import attrs
import trio

from gatetrio import channels
from gatetrio._core._errors import UsageError
from gatetrio._core._requests import check_contract
from gatetrio._shell._client import ClientEventKind
from gatetrio._shell._subscription import OverflowPolicy

from ._channel_args import listed
from ._connect import (
    ConnectOptions,
    FirstConnect,
    add_connect_arguments,
    connect_options,
    with_client,
)
from ._process import EXIT_USAGE, print_error, run_checked
from ._stream import run_streams, stream_specs

if TYPE_CHECKING:
    import argparse

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client
    from gatetrio._shell._live_book import LiveOrderBook

    from ._view import RateMeter, WatchModel

REFRESH_INTERVAL: Final = 0.1  # seconds between frames of the live view
BOOK_DEPTH: Final = 50  # levels per side kept; the screen shows what fits (_view.BOOK_LEVELS)


@attrs.frozen(kw_only=True)
class WatchOptions(ConnectOptions):
    contract: str
    more: tuple[str, ...] = ()  # further contracts (JSON-lines output only)
    all_contracts: bool = False


def watch_specs(contract: str, settle: str) -> list[ChannelSpec[object]]:
    """What `watch` streams when stdout is not a terminal: tickers, trades and book updates."""
    book = channels.obu(contract, level=50) if settle == "usdt" else channels.order_book(contract)
    return [channels.tickers(contract), channels.trades(contract), book]


async def watch(options: WatchOptions) -> int:
    """`gatetrio watch CONTRACT`: the live view, or JSON lines when stdout is not a terminal."""
    several = options.all_contracts or bool(options.more)
    if several:
        if sys.stdout.isatty():
            raise UsageError("the live view shows one contract; pipe the output for several")

        async def body(client: Client) -> int:
            names = [options.contract, *options.more] if options.contract else []
            if options.all_contracts:
                names = list(await listed(client))
            specs = [s for c in names for s in watch_specs(check_contract(c), options.settle)]
            return await stream_specs(client, specs)

        return await with_client(options, body)
    contract = check_contract(options.contract)
    if not sys.stdout.isatty():
        specs = watch_specs(contract, options.settle)
        return await run_streams(options, specs, status=False)
    from . import _view  # noqa: PLC0415 - rich loads only for the live view

    model = _view.WatchModel(contract)
    model.status.simulated = options.simulate
    holder = Holder()

    def started(first: FirstConnect) -> None:
        holder.first = first
        model.status.url = first.url

    async with trio.open_nursery() as nursery:
        await nursery.start(_render_loop, model, holder)
        code = await with_client(
            options, lambda client: _watch_live(client, model, holder), progress=started
        )
        nursery.cancel_scope.cancel(reason="watch finished")
    return code


@attrs.define
class Holder:
    """What the render loop reads besides the model; filled in as the watch gets going."""

    first: FirstConnect | None = None
    client: Client | None = None
    live: LiveOrderBook | None = None
    messages_seen: int = 0
    closing: bool = False  # the watch is ending: a disconnect from here on is not a reconnect


async def _watch_live(client: Client, model: WatchModel, holder: Holder) -> NoReturn:
    holder.client = client
    model.set_alarm(client.config.silence_timeout)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_follow_events, client, model)
            nursery.start_soon(_follow_trades, client, model)
            nursery.start_soon(_follow_ticker, client, model)
            nursery.start_soon(_follow_book, client, model, holder)
            await trio.sleep_forever()
    finally:
        # --duration or Ctrl-C: the client closes next, and frames drawn meanwhile must say
        # so rather than show its closed socket as a reconnect
        close_view(model, holder, "closing")


def close_view(model: WatchModel, holder: Holder, state: str) -> None:
    holder.closing = True
    model.status.state, model.status.detail = state, ""


def update_view(model: WatchModel, holder: Holder, meter: RateMeter, now: float) -> None:
    status = model.status
    model.now = now
    if holder.closing:
        return  # the last figures stay on screen; the client and its book are going away
    client = holder.client
    if client is None:
        first = holder.first
        if first is not None and first.failures:
            status.detail = f"attempt {first.failures} failed: {first.last_error}"
        return
    stats = client.statistics()
    if stats.messages_received != holder.messages_seen:
        holder.messages_seen = stats.messages_received
        status.data.seen(now)
    meter.observe(stats.messages_received, now)
    status.messages_per_second = meter.rate
    status.pong_rtt = stats.last_pong_rtt
    status.latency_ms = stats.last_latency_ms
    status.reconnects = stats.reconnects
    status.drops = stats.messages_dropped
    if stats.connected:
        status.state, status.detail = "connected", ""
    elif status.state == "connected":
        status.state = "reconnecting"
    live = holder.live
    if live is not None:
        model.set_book(live.book.bids(BOOK_DEPTH), live.book.asks(BOOK_DEPTH), ready=live.ready)
        status.book_resyncs = live.statistics().resyncs


async def _render_loop(
    model: WatchModel,
    holder: Holder,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.live import Live  # noqa: PLC0415

    from . import _view  # noqa: PLC0415

    meter = _view.RateMeter()
    console = Console()
    # auto_refresh=False: rich would refresh from its own thread; frames are drawn from here.
    # redirect_stderr: --log-level lines print above the view instead of through it.
    with Live(
        console=console,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=True,
        vertical_overflow="crop",
    ) as live:
        task_status.started()
        while True:
            update_view(model, holder, meter, trio.current_time())
            size = shutil.get_terminal_size()
            # one line short of the terminal: a full-height frame scrolls on some terminals
            frame = _view.render_watch(model, size.columns, size.lines - 1)
            live.update(frame, refresh=True)
            try:
                await trio.sleep(REFRESH_INTERVAL)
            except trio.Cancelled:
                # the last frame left on the terminal says the watch stopped (sync: no
                # checkpoint while cancelled)
                close_view(model, holder, "stopped")
                live.update(_view.render_watch(model, size.columns, size.lines - 1), refresh=True)
                raise


async def _follow_events(client: Client, model: WatchModel) -> None:
    async with client.events() as events:
        async for event in events:
            status = model.status
            if status.state in ("closing", "stopped"):
                return
            if event.kind is ClientEventKind.CONNECTED:
                status.state, status.detail = "connected", ""
            elif event.kind is ClientEventKind.DISCONNECTED:
                status.state, status.detail = "reconnecting", event.reason
            elif event.kind is ClientEventKind.CONNECTING and status.state != "connected":
                status.detail = f"attempt {event.attempt + 1}"


async def _follow_trades(client: Client, model: WatchModel) -> None:
    async with client.subscribe(channels.trades(model.contract)) as trades:
        async for trade in trades:
            model.add_trade(trade, trio.current_time())


async def _follow_ticker(client: Client, model: WatchModel) -> None:
    spec = channels.tickers(model.contract)
    async with client.subscribe(spec, buffer=1, overflow=OverflowPolicy.CONFLATE) as tickers:
        async for ticker in tickers:
            model.set_ticker(ticker, trio.current_time())


async def _follow_book(client: Client, model: WatchModel, holder: Holder) -> None:
    async with client.order_book(model.contract, depth=BOOK_DEPTH) as live:
        holder.live = live
        async for _ in live:
            model.book_seen.seen(trio.current_time())


# ------------------------------------------------------------------------------- argparse


def run_watch(ns: argparse.Namespace) -> int:
    """`func` of the `watch` parser: check the arguments, then watch."""
    if not ns.contracts and not ns.all:
        print_error("name a contract (e.g. BTC_USDT), several, or --all")
        return EXIT_USAGE
    return run_checked(watch, _watch_options, ns)


def _watch_options(ns: argparse.Namespace) -> WatchOptions:
    options = WatchOptions(
        contract=ns.contracts[0] if ns.contracts else "",
        more=tuple(ns.contracts[1:]),
        all_contracts=ns.all,
        **connect_options(ns),  # type: ignore[arg-type]
    )
    for contract in ns.contracts:
        check_contract(contract)  # a bad contract fails before connecting
    return options


def add_watch(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `watch` to the `gatetrio` parser; it sets `func(namespace) -> exit code`."""
    parser = subparsers.add_parser(
        "watch",
        help="live terminal view of one contract",
        description=(
            "Live view of one contract: ticker, order book (as deep as the terminal is tall), "
            "trades tape and connection status, each panel marked with the age of its last "
            "message. When stdout is not a terminal, prints JSON lines instead (tickers, "
            "trades and book updates), like `stream`."
        ),
    )
    parser.add_argument("contracts", nargs="*", metavar="CONTRACT", help="e.g. BTC_USDT")
    parser.add_argument(
        "--all", action="store_true", help="every listed contract (JSON lines only)"
    )
    add_connect_arguments(parser)
    parser.set_defaults(func=run_watch)
