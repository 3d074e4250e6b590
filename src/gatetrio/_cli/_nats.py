"""`python -m gatetrio publish` and `python -m gatetrio consume`: fan-out through NATS JetStream.

    publish --nats nats://127.0.0.1:4222 --simulate trades BTC_USDT      one channel
    publish --nats nats://127.0.0.1:4222 --simulate obu BTC_USDT         a book (deltas+snapshots)
    publish --nats nats://127.0.0.1:4222 --simulate --all BTC_USDT       every public channel
    consume --nats nats://127.0.0.1:4222 'gate.futures.usdt.trades.>'    JSON lines, like stream
    consume --nats nats://127.0.0.1:4222 --book BTC_USDT                 the live book from the bus

Connecting, `--duration`, Ctrl-C and exit codes are the other commands' (`with_client`,
`run_command`); JSON lines are `_jsonl`'s. gatetrio.nats (and nats-py) load only when one of
these runs.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Final

import attrs
import trio

from gatetrio import channels
from gatetrio._core._errors import UsageError

from ._channel_args import channel_spec
from ._connect import ConnectOptions, add_connect_arguments, connect_options, with_client
from ._process import EXIT_OK, EXIT_USAGE, print_error, run_command, silence_stdout
from ._stream import WRITE_CHUNKS, write_lines

if TYPE_CHECKING:
    import argparse

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client
    from gatetrio.nats import BusOrderBook

BOOK_LINE_DEPTH: Final = 10


@attrs.frozen(kw_only=True)
class PublishOptions(ConnectOptions):
    nats: str
    words: tuple[str, ...] = ()
    all_channels: bool = False
    snapshot_every: float = 5.0


@attrs.frozen(kw_only=True)
class ConsumeOptions:
    nats: str
    subjects: tuple[str, ...] = ()
    book: str | None = None
    level: int = 50
    start: str = "new"
    stream: str = "GATE_FUTURES"
    duration: float | None = None


def publish_plan(
    options: PublishOptions,
) -> tuple[list[ChannelSpec[object]], list[tuple[str, int]]]:
    """(channel specs, books as (contract, level)) that `publish` adds; UsageError if bad."""
    if options.all_channels:
        contracts = options.words
        if not contracts:
            raise UsageError("--all needs the contracts to publish, e.g. --all BTC_USDT ETH_USDT")
        specs: list[ChannelSpec[object]] = [
            channels.trades(*contracts),
            channels.tickers(*contracts),
            channels.book_ticker(*contracts),
        ]
        specs += [channels.candlesticks(c, "1m") for c in contracts]
        books = [(c, 50) for c in contracts] if options.settle == "usdt" else []
        return specs, books
    if not options.words:
        raise UsageError("name a channel and its arguments (trades BTC_USDT), or --all CONTRACTS")
    channel, args = options.words[0], options.words[1:]
    if channel.removeprefix("futures.") == "obu":
        spec = channel_spec(channel, args)  # checks the arguments
        streams = [name.split(".") for name in spec.payloads[0]]  # "ob.BTC_USDT.50"
        return [], [(contract, int(level)) for _, contract, level in streams]
    return [channel_spec(channel, args)], []


async def _publish_body(client: Client, options: PublishOptions) -> int:
    from gatetrio.nats import open_publisher  # noqa: PLC0415 - nats-py loads only here

    specs, books = publish_plan(options)
    async with open_publisher(client, options.nats) as publisher:
        try:
            for spec in specs:
                await publisher.add(spec)
            for contract, level in books:
                await publisher.add_book(
                    contract, level=level, snapshot_every=options.snapshot_every
                )
            await trio.Event().wait()  # until --duration or Ctrl-C cancels it
        finally:
            s = publisher.statistics()
            print_error(
                f"published {s.published}, duplicates {s.duplicates}, dropped {s.dropped}, "
                f"buffered {s.buffered}, publish failures {s.publish_failures}",
                prefix="info",
            )
    return EXIT_OK  # pragma: no cover - runs until --duration or Ctrl-C


async def publish(options: PublishOptions) -> int:
    """`gatetrio publish --nats URL CHANNEL ARGS...`"""
    return await with_client(options, lambda client: _publish_body(client, options))


def _book_line(live: BusOrderBook) -> dict[str, object]:
    book = live.book
    return {
        "type": "Book",
        "contract": live.contract,
        "update_id": book.update_id,
        "t": book.t,
        "bids": [[str(p), str(s)] for p, s in book.bids(BOOK_LINE_DEPTH)],
        "asks": [[str(p), str(s)] for p, s in book.asks(BOOK_LINE_DEPTH)],
    }


async def _consume_body(
    options: ConsumeOptions, send: trio.MemorySendChannel[list[object]]
) -> None:
    from gatetrio.nats import open_consumer, open_order_book  # noqa: PLC0415

    with send:
        if options.book is not None:
            async with open_order_book(
                options.nats, options.book, level=options.level, stream=options.stream
            ) as live:
                async for _ in live:
                    await send.send([_book_line(live)])
            return  # pragma: no cover - a live book never ends by itself
        async with open_consumer(
            options.nats, list(options.subjects), stream=options.stream, start=options.start
        ) as sub:
            while True:
                batch: list[object] = [await sub.__anext__()]
                await send.send(batch)


async def consume(options: ConsumeOptions) -> int:
    """`gatetrio consume --nats URL SUBJECT...`: every item as a JSON line, like `stream`."""
    send, recv = trio.open_memory_channel[list[object]](WRITE_CHUNKS)
    with trio.move_on_after(math.inf if options.duration is None else options.duration):
        async with trio.open_nursery() as nursery:
            with recv:
                nursery.start_soon(_consume_body, options, send)
                if not await write_lines(recv, sys.stdout.fileno()):
                    silence_stdout()
                nursery.cancel_scope.cancel(reason="output closed")
    return EXIT_OK


def _run_publish(ns: argparse.Namespace) -> int:
    try:
        options = PublishOptions(
            nats=ns.nats,
            words=tuple(ns.words),
            all_channels=ns.all,
            snapshot_every=ns.snapshot_every,
            **connect_options(ns),  # type: ignore[arg-type]
        )
        publish_plan(options)  # a bad argument fails before connecting
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    return run_command(publish, options)


def _run_consume(ns: argparse.Namespace) -> int:
    if ns.duration is not None and not ns.duration > 0:
        print_error(f"--duration must be > 0 seconds, got {ns.duration}")
        return EXIT_USAGE
    if not ns.subjects and ns.book is None:
        print_error("name subjects to read (e.g. 'gate.futures.usdt.trades.>') or --book CONTRACT")
        return EXIT_USAGE
    options = ConsumeOptions(
        nats=ns.nats,
        subjects=tuple(ns.subjects),
        book=ns.book,
        level=ns.level,
        start=ns.start,
        stream=ns.stream,
        duration=ns.duration,
    )
    return run_command(consume, options)


def _add_nats_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats",
        required=True,
        metavar="URL",
        help="NATS server URL(s), comma-separated for a cluster (nats://user:pass@host:4222)",
    )


def add_publish(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="publish channels into NATS JetStream",
        description=(
            "Collect public channels and publish them into JetStream (stream GATE_FUTURES, "
            "created if missing), one message per event on gate.futures.SETTLE.CHANNEL.CONTRACT "
            "with a Nats-Msg-Id from the exchange's own ids: run two collectors for redundancy. "
            "`obu CONTRACT` publishes a book (deltas and periodic snapshots); `--all CONTRACTS` "
            "publishes trades, tickers, book_ticker, 1m candles and the obu book."
        ),
    )
    _add_nats_argument(parser)
    parser.add_argument("words", nargs="*", metavar="CHANNEL ARGS", help="e.g. trades BTC_USDT")
    parser.add_argument("--all", action="store_true", help="every public channel of the contracts")
    parser.add_argument(
        "--snapshot-every", type=float, default=5.0, metavar="S", help="book snapshot period"
    )
    add_connect_arguments(parser)
    parser.set_defaults(func=_run_publish)


def add_consume(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "consume",
        help="read events from NATS JetStream as JSON lines",
        description=(
            "Read what `publish` wrote, as the same JSON lines as `stream`, one per event. "
            "SUBJECT may use NATS wildcards ('gate.futures.usdt.trades.>'). `--book CONTRACT` "
            "prints the book built from the bus (top 10 levels) on each update instead."
        ),
    )
    _add_nats_argument(parser)
    parser.add_argument("subjects", nargs="*", metavar="SUBJECT")
    parser.add_argument("--book", metavar="CONTRACT", help="show a live book from the bus")
    parser.add_argument("--level", type=int, default=50, help="the obu level of --book")
    parser.add_argument("--start", choices=["new", "all"], default="new", help="where to start")
    parser.add_argument("--stream", default="GATE_FUTURES", help="the JetStream stream")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    parser.set_defaults(func=_run_consume)


COMMANDS: Final = (add_publish, add_consume)
"""The adders `_main._COMMANDS` lists."""
