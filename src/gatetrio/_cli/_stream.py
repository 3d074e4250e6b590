"""`gatetrio stream CHANNEL ARGS...`: every item of a channel as a JSON line on stdout.

    stream trades BTC_USDT ETH_USDT          public channels: arguments go to the builder
    stream obu BTC_USDT level=50             name=value arguments by keyword
    stream orders BTC_USDT                   private: credentials from GATE_API_KEY / ..._SECRET

When stderr is a terminal, a status line there says what the stream is doing (connecting,
subscribed and waiting for the first message, or the rate), so a quiet channel
(contract_stats, adl_warning) is not mistaken for a hung one. stdout carries only JSON lines.

`stream_specs`, `run_streams` and `write_lines` are the JSON-lines output that `watch` (piped)
and `consume` share; the channel words are `_channel_args`'.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Final

import attrs
import trio

from ._channel_args import PRIVATE_CHANNELS, PUBLIC_CHANNELS, checked_spec, resolve_specs
from ._connect import (
    ConnectOptions,
    FirstConnect,
    add_connect_arguments,
    connect_options,
    with_client,
)
from ._jsonl import encode_lines
from ._process import EXIT_OK, print_error, run_checked, silence_stdout

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client

STREAM_BUFFER: Final = 4096  # per subscription: a piped consumer may pause (less, a full pipe)
WRITE_BATCH: Final = 1024  # items moved from a subscription to the writer at once
WRITE_CHUNKS: Final = 16  # batches joined into one write to stdout
STATUS_INTERVAL: Final = 1.0  # seconds between status-line updates


@attrs.frozen(kw_only=True)
class StreamOptions(ConnectOptions):
    channel: str
    args: tuple[str, ...] = ()
    all_contracts: bool = False  # --all: every listed contract first in the arguments


# ------------------------------------------------------------------------------ progress


@attrs.define
class Progress:
    """What the status line shows: set by the stream's tasks, read by the painter."""

    started: float
    url: str = ""
    first: FirstConnect | None = None
    subscribed: int = 0
    channels: int = 1
    items: int = 0
    last_item: float | None = None


def format_progress(progress: Progress, now: float, rate: float) -> str:
    """One status line: connecting, waiting for the first message, or the running rate."""
    first = progress.first
    if first is None or not first.connected:
        tried = "" if first is None or not first.failures else f" ({first.last_error})"
        where = f" to {progress.url}" if progress.url else ""  # --simulate: not served yet
        return f"connecting{where}{tried}"
    if progress.subscribed < progress.channels:
        return f"connected to {progress.url}; subscribing"
    if progress.last_item is None:
        waited = now - progress.started
        return f"subscribed; waiting for the first message ({waited:.0f}s)"
    quiet = now - progress.last_item
    line = f"{progress.items:,} messages  {rate:,.0f} msg/s"
    return line + (f"  last {quiet:.0f}s ago" if quiet >= 2 * STATUS_INTERVAL else "")


async def _paint_status(progress: Progress) -> None:
    """Keep the status line on stderr current; erased when the stream ends."""
    from ._view import RateMeter  # noqa: PLC0415 - pure; it imports rich, loaded on a tty only

    meter = RateMeter()
    try:
        while True:
            now = trio.current_time()
            meter.observe(progress.items, now)
            line = format_progress(progress, now, meter.rate)
            sys.stderr.write(f"\r\x1b[K{line}")
            sys.stderr.flush()
            await trio.sleep(STATUS_INTERVAL)
    finally:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


# -------------------------------------------------------------------------------- stream


async def _forward(
    client: Client,
    spec: ChannelSpec[object],
    send: trio.MemorySendChannel[list[object]],
    progress: Progress,
) -> None:
    """Move a subscription's items to the writer, in batches of what is buffered.

    A batch per wake-up rather than a send per item: one hop between tasks per item would
    cost more than encoding the item.
    """
    # A sync close: an async one would checkpoint while an error propagates, and a cancel
    # arriving there (the writer finishing) would replace that error.
    with send:
        async with client.subscribe(spec, buffer=STREAM_BUFFER) as sub:
            progress.subscribed += 1
            progress.started = trio.current_time()  # "waiting for the first message" since
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
                progress.items += len(batch)
                progress.last_item = trio.current_time()
                await send.send(batch)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def write_lines(recv: trio.MemoryReceiveChannel[list[object]], fd: int) -> bool:
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


async def stream_specs(
    client: Client, specs: Sequence[ChannelSpec[object]], progress: Progress | None = None
) -> int:
    """Write every item of `specs` as JSON lines on stdout until cancelled or the reader left."""
    if progress is None:
        progress = Progress(started=trio.current_time())
    progress.channels = len(specs)
    send, recv = trio.open_memory_channel[list[object]](WRITE_CHUNKS)
    try:
        async with trio.open_nursery() as nursery:
            with recv:
                with send:
                    for spec in specs:
                        nursery.start_soon(_forward, client, spec, send.clone(), progress)
                if not await write_lines(recv, sys.stdout.fileno()):
                    silence_stdout()
                    nursery.cancel_scope.cancel(reason="output closed")
    finally:
        # also when stopped by --duration or Ctrl-C, which is how a stream usually ends
        dropped = client.statistics().messages_dropped
        if dropped:
            print_error(
                f"{dropped} events dropped: the output was read too slowly", prefix="warning"
            )
    return EXIT_OK


async def run_streams(
    options: ConnectOptions, specs: Sequence[ChannelSpec[object]], *, status: bool
) -> int:
    """Connect as `options` say and stream `specs`; with `status`, a status line on stderr."""
    progress = Progress(started=trio.current_time(), channels=len(specs))

    def started(first: FirstConnect) -> None:
        progress.first, progress.url = first, first.url

    async with trio.open_nursery() as nursery:
        if status:
            nursery.start_soon(_paint_status, progress)
        code = await with_client(
            options, lambda client: stream_specs(client, specs, progress), progress=started
        )
        nursery.cancel_scope.cancel(reason="stream finished")
    return code


async def stream(options: StreamOptions) -> int:
    """`gatetrio stream CHANNEL ARGS...`: every item as a JSON line on stdout."""
    if not options.all_contracts:
        spec = checked_spec(options.channel, options.args, options)
        return await run_streams(options, [spec], status=sys.stderr.isatty())

    async def body(client: Client) -> int:
        specs = await resolve_specs(client, options.channel, options.args, all_contracts=True)
        return await stream_specs(client, specs)

    return await with_client(options, body)


# ------------------------------------------------------------------------------- argparse


def run_stream(ns: argparse.Namespace) -> int:
    """`func` of the `stream` parser: check the arguments, then stream."""
    return run_checked(stream, _stream_options, ns)


def _stream_options(ns: argparse.Namespace) -> StreamOptions:
    options = StreamOptions(
        channel=ns.channel,
        args=tuple(ns.args),
        all_contracts=ns.all,
        **connect_options(ns),  # type: ignore[arg-type]
    )
    if not options.all_contracts:
        checked_spec(options.channel, options.args, options)  # fails before connecting
    return options


def add_stream(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `stream` to the `gatetrio` parser; it sets `func(namespace) -> exit code`."""
    parser = subparsers.add_parser(
        "stream",
        help="stream one channel as JSON lines",
        description=(
            "Subscribe to one channel and print every item as one JSON line "
            '({"type": "Trade", ...}; decimals as strings). Arguments go to the channel '
            "builder in gatetrio.channels: positional, or name=value. Examples: "
            "`stream trades BTC_USDT ETH_USDT`, `stream obu BTC_USDT level=50`, "
            "`stream candlesticks BTC_USDT 1m`, `stream orders BTC_USDT`. Private channels "
            "read credentials from GATE_API_KEY and GATE_API_SECRET (never from the command "
            "line) and learn the user id from Gate (GATE_USER_ID, if set, is checked against "
            "it); with --simulate they run against a demo account. When stderr is a "
            "terminal, a status line there shows progress."
        ),
    )
    parser.add_argument(
        "channel",
        help=f"public: {', '.join(PUBLIC_CHANNELS)}; private: {', '.join(PRIVATE_CHANNELS)}",
    )
    parser.add_argument("args", nargs="*", help="channel arguments, e.g. BTC_USDT")
    parser.add_argument(
        "--all",
        action="store_true",
        help="every listed contract (REST /futures/{settle}/contracts)",
    )
    add_connect_arguments(parser)
    parser.set_defaults(func=run_stream)
