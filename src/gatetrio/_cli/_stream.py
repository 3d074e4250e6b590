"""`python -m gatetrio stream CHANNEL ARGS...`: every item of a channel as a JSON line on stdout.

    stream trades BTC_USDT ETH_USDT          public channels: arguments go to the builder
    stream obu BTC_USDT level=50             name=value arguments by keyword
    stream orders BTC_USDT                   private: credentials from GATE_API_KEY / ..._SECRET

When stderr is a terminal, a status line there says what the stream is doing (connecting,
subscribed and waiting for the first message, or the rate), so a quiet channel
(contract_stats, adl_warning) is not mistaken for a hung one. stdout carries only JSON lines.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
from typing import TYPE_CHECKING, Final

import attrs
import trio

from gatetrio import channels
from gatetrio._core._catalog import CATALOG
from gatetrio._core._errors import UsageError

from ._connect import (
    KEY_VARIABLE,
    SECRET_VARIABLE,
    SIMULATED_USER_ID,
    USER_VARIABLE,
    ConnectOptions,
    FirstConnect,
    with_client,
)
from ._jsonl import encode_lines
from ._process import EXIT_OK, print_error, silence_stdout

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client

STREAM_BUFFER: Final = 4096  # per subscription: a piped consumer may pause (less, a full pipe)
WRITE_BATCH: Final = 1024  # items moved from a subscription to the writer at once
WRITE_CHUNKS: Final = 16  # batches joined into one write to stdout
STATUS_INTERVAL: Final = 1.0  # seconds between status-line updates

# Each catalogue row's builder in gatetrio.channels has the row's short name.
PUBLIC_CHANNELS: Final[dict[str, Callable[..., ChannelSpec[object]]]] = {
    row.short: getattr(channels, row.short) for row in CATALOG if not row.private
}
PRIVATE_CHANNELS: Final[dict[str, Callable[..., ChannelSpec[object]]]] = {
    row.short: getattr(channels, row.short) for row in CATALOG if row.private
}


@attrs.frozen(kw_only=True)
class StreamOptions(ConnectOptions):
    channel: str
    args: tuple[str, ...] = ()
    all_contracts: bool = False  # --all: every listed contract first in the arguments


def channel_spec(
    channel: str, args: Sequence[str], *, user_id: str | None = None
) -> ChannelSpec[object]:
    """Build a spec from the command line: `trades BTC_USDT`, `obu BTC_USDT level=50`, ...

    `name=value` arguments are passed by keyword, the others by position. A private channel's
    `user_id` comes from `user_id` (the credentials' or the simulated account's) unless given
    as `user_id=...`.

    Raises:
        UsageError: unknown channel, a private one without a user id, wrong arguments, or a
            bad value (the builder's own message).
    """
    name = channel.removeprefix("futures.")
    builder = PUBLIC_CHANNELS.get(name) or PRIVATE_CHANNELS.get(name)
    if builder is None:
        choices = ", ".join([*PUBLIC_CHANNELS, *PRIVATE_CHANNELS])
        raise UsageError(f"unknown channel {channel!r}; choose one of {choices}")
    positional = [a for a in args if "=" not in a]
    keywords = dict(a.split("=", 1) for a in args if "=" in a)
    signature = inspect.signature(builder)
    if "user_id" in signature.parameters and "user_id" not in keywords:
        if not user_id:
            raise UsageError(
                f"{channel} needs your Gate UID: set {USER_VARIABLE} or pass user_id=..."
            )
        positional.insert(0, user_id)  # user_id is every private builder's first parameter
    try:
        signature.bind(*positional, **keywords)
    except TypeError as exc:
        raise UsageError(f"{exc}; usage: stream {_usage(name, signature)}") from None
    return builder(*positional, **keywords)


def _usage(name: str, signature: inspect.Signature) -> str:
    """`candlesticks CONTRACT [interval=1m] [price=last]` from the builder's signature."""
    words = [name]
    for param in signature.parameters.values():
        if param.name == "user_id":
            continue  # from the environment
        if param.kind is param.VAR_POSITIONAL:
            words.append(f"[{param.name.upper().removesuffix('S')} ...]")
        elif param.default is param.empty:
            words.append(param.name.upper())
        else:
            words.append(f"[{param.name}={param.default}]")
    return " ".join(words)


def options_spec(options: StreamOptions) -> ChannelSpec[object]:
    """The spec `options` ask for, checked before connecting.

    Raises:
        UsageError: as `channel_spec`, or a private channel without credentials.
    """
    name = options.channel.removeprefix("futures.")
    credentials = options.credentials
    user_id = credentials.user_id if credentials is not None else None
    if name in PRIVATE_CHANNELS and not options.simulate:
        if credentials is None:
            raise UsageError(
                f"{options.channel} is a private channel: set {KEY_VARIABLE} and "
                f"{SECRET_VARIABLE} (and {USER_VARIABLE}) in the environment, or use --simulate"
            )
    elif options.simulate and not user_id:
        user_id = SIMULATED_USER_ID
    return channel_spec(options.channel, options.args, user_id=user_id)


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
        return f"connecting to {progress.url}{tried}"
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
        spec = options_spec(options)
        return await run_streams(options, [spec], status=sys.stderr.isatty())

    async def body(client: Client) -> int:
        specs = await resolve_specs(client, options.channel, options.args, all_contracts=True)
        return await stream_specs(client, specs)

    return await with_client(options, body)


async def listed(client: Client) -> tuple[str, ...]:
    """Every contract listed on the client's market (REST), less those being delisted."""
    from gatetrio._core._listing import listed_contracts  # noqa: PLC0415
    from gatetrio._shell._listing import fetch_listing  # noqa: PLC0415

    return listed_contracts(await fetch_listing(client.rest))


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
