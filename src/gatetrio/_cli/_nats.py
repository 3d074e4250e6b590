"""`python -m gatetrio publish` and `python -m gatetrio consume`: fan-out through NATS JetStream.

    publish --nats URL --simulate trades BTC_USDT                 one channel
    publish --nats URL --simulate trades,tickers,obu BTC_USDT     several (obu: a book)
    publish --nats URL --simulate trades --all                    every listed contract
    consume --nats URL 'gate.futures.usdt.trades.>'               JSON lines, like stream
    consume --nats URL 'gate.futures.usdt.trades.>' --durable r1  resumes where it stopped
    consume --nats URL --book BTC_USDT                            the live book from the bus

Channel words are `record`'s (`_channel_args`): comma-separated channels share the contracts,
`--all` is every listed contract, as for `stream`. An obu channel publishes a book (deltas and
periodic snapshots, `Publisher.add_book`), at the level every book command defaults to.
Connecting, `--duration`, Ctrl-C and exit codes are the other commands' (`with_client`,
`run_command`); JSON lines are `_jsonl`'s. gatetrio.nats (and nats-py) load only when one of
these runs.
"""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING, Final

import attrs
import trio

from gatetrio._core._catalog import OBU_LEVEL
from gatetrio._core._errors import UsageError

from . import _metrics
from ._channel_args import channel_specs, listed
from ._connect import ConnectOptions, add_connect_arguments, connect_options, with_client
from ._jsonl import encode_lines
from ._process import EXIT_OK, print_error, run_checked, silence_stdout

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client
    from gatetrio.nats import (
        BusOrderBook,
        BusSubscription,
        ConsumerStatistics,
        Publisher,
        StreamSettings,
    )

BOOK_LINE_DEPTH: Final = 10
DEFAULT_STREAM: Final = "GATE_FUTURES"
DEFAULT_PREFIX: Final = "gate.futures"
_PROBE: Final = ("BTC_USDT",)  # what `--all` resolves to before connecting, to check the rest


@attrs.frozen(kw_only=True)
class PublishOptions(ConnectOptions):
    nats: str
    channel: str = ""
    args: tuple[str, ...] = ()
    all_contracts: bool = False
    snapshot_every: float = 5.0
    stream: str = DEFAULT_STREAM
    prefix: str = DEFAULT_PREFIX
    replicas: int | None = None
    duplicate_window: float | None = None
    max_age: float | None = None
    max_bytes: int | None = None
    storage: str | None = None
    update_stream: bool = False
    beyond_window: str = "publish"

    def stream_settings(self) -> StreamSettings:
        """The stream to create if missing (and, with --update-stream, to make it)."""
        from gatetrio.nats import StreamSettings  # noqa: PLC0415

        given = {
            "replicas": self.replicas,
            "duplicate_window": self.duplicate_window,
            "max_age": self.max_age,
            "max_bytes": self.max_bytes,
            "storage": self.storage,
        }
        return StreamSettings.for_prefix(
            self.prefix, name=self.stream, **{k: v for k, v in given.items() if v is not None}
        )


@attrs.frozen(kw_only=True)
class ConsumeOptions:
    nats: str
    subjects: tuple[str, ...] = ()
    book: str | None = None
    level: int = int(OBU_LEVEL)
    start: str = "new"
    stream: str = DEFAULT_STREAM
    prefix: str = DEFAULT_PREFIX
    durable: str | None = None
    shared: bool = False
    ack_wait: float = 5.0
    max_delay: float = 5.0
    late: str = "deliver"
    duration: float | None = None
    metrics_port: int | None = None


def publish_plan(
    options: PublishOptions, contracts: Sequence[str] = ()
) -> tuple[list[ChannelSpec[object]], list[tuple[str, int]]]:
    """(channel specs, books as (contract, level)) that `publish` adds; UsageError if bad.

    `contracts` are the listed ones (`--all`).
    """
    if not options.channel:
        raise UsageError("name the channels and contracts: publish trades,obu BTC_USDT")
    specs: list[ChannelSpec[object]] = []
    books: list[tuple[str, int]] = []
    for spec in channel_specs(
        options.channel, options.args, contracts=contracts, command="publish"
    ):
        if spec.channel == "futures.obu":
            for payload in spec.payloads:
                streams = [name.split(".") for name in payload]  # "ob.BTC_USDT.50"
                books += [(contract, int(level)) for _, contract, level in streams]
        else:
            specs.append(spec)
    if books and options.settle != "usdt":
        raise UsageError(
            f"books over the bus use futures.obu, USDT perpetuals only, not {options.settle}"
        )
    return specs, books


async def _report_stream(publisher: Publisher) -> None:
    await publisher.wait_ready()
    report = publisher.stream_report
    if report is not None and report.differences:
        what = "; ".join(report.differences)
        if report.updated:
            print_error(f"stream {publisher.stream.name} updated: {what}", prefix="info")
        else:
            print_error(
                f"stream {publisher.stream.name} exists with other settings, used as it is: "
                f"{what} (--update-stream changes it)",
                prefix="warning",
            )


async def _publish_body(client: Client, options: PublishOptions) -> int:
    from gatetrio.nats import open_publisher  # noqa: PLC0415 - nats-py loads only here

    contracts = await listed(client) if options.all_contracts else ()
    specs, books = publish_plan(options, contracts)
    async with (
        open_publisher(
            client,
            options.nats,
            stream=options.stream_settings(),
            prefix=options.prefix,
            update_stream=options.update_stream,
            beyond_window="drop" if options.beyond_window == "drop" else "publish",
        ) as publisher,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(_report_stream, publisher)
        _metrics.add(publisher)
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
                f"beyond the duplicate window {s.beyond_window} stored and "
                f"{s.beyond_window_dropped} dropped, buffered {s.buffered}, "
                f"publish failures {s.publish_failures}",
                prefix="info",
            )
    return EXIT_OK  # pragma: no cover - runs until --duration or Ctrl-C


async def publish(options: PublishOptions) -> int:
    """`gatetrio publish --nats URL CHANNEL[,CHANNEL...] ARGS...`"""
    return await with_client(options, lambda client: _publish_body(client, options))


# -------------------------------------------------------------------------------- consume


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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def _write(data: bytes) -> bool:
    """Write to stdout in a worker thread (a slow reader blocks only this); False: it left.

    A write in progress is finished even when cancelled: lines stay whole, and what was
    written is what is acknowledged.
    """
    try:
        await trio.to_thread.run_sync(
            _write_all, sys.stdout.fileno(), data, abandon_on_cancel=False
        )
    except BrokenPipeError:
        silence_stdout()
        return False
    return True


async def _consume_items(sub: BusSubscription) -> None:
    while True:
        batch = await sub.receive_batch()
        if not await _write(encode_lines(item for _, item in batch)):
            return
        sub.acknowledge()  # on stdout: done with (a durable consumer goes on after them)


def _consumer_summary(stats: ConsumerStatistics) -> str:
    """The line `consume` ends with: what it read, and what could not be put in order."""
    line = (
        f"received {stats.received}, redeliveries {stats.redeliveries}, repeats dropped "
        f"{stats.repeats_dropped}, malformed {stats.malformed}, acknowledged {stats.acks}"
    )
    r = stats.reorder
    if r is not None:
        line += (
            f"; reordered {r.reordered}, duplicates dropped {r.duplicates}, late {r.late} "
            f"({r.late_dropped} dropped), gaps {r.gaps}, window overflows {r.overflows}"
        )
    return line


async def _consume_body(options: ConsumeOptions) -> None:
    from gatetrio.nats import Reorder, open_consumer, open_order_book  # noqa: PLC0415

    reorder = Reorder(max_delay=options.max_delay, late=options.late)  # type: ignore[arg-type]
    if options.book is not None:
        async with open_order_book(
            options.nats,
            options.book,
            level=options.level,
            stream=options.stream,
            prefix=options.prefix,
            reorder=reorder,
        ) as live:
            if live.subscription is not None:
                _metrics.add(live.subscription)
            _metrics.add(live)
            try:
                async for _ in live:
                    if not await _write(encode_lines([_book_line(live)])):
                        return
            finally:
                b = live.statistics()
                line = f"book updates {b.updates_applied}, gaps {b.gaps}, resyncs {b.resyncs}"
                if live.subscription is not None:
                    line += "; " + _consumer_summary(live.subscription.statistics())
                print_error(line, prefix="info")
        return  # pragma: no cover - a live book never ends by itself
    subscription: BusSubscription | None = None
    try:
        async with open_consumer(
            options.nats,
            list(options.subjects),
            stream=options.stream,
            start=options.start,
            durable=options.durable,
            shared=options.shared,
            ack_wait=options.ack_wait,
            reorder=reorder,
        ) as subscription:
            _metrics.add(subscription)
            await _consume_items(subscription)
    finally:
        if subscription is not None:  # after the block: its last acknowledgements counted
            print_error(_consumer_summary(subscription.statistics()), prefix="info")


async def consume(options: ConsumeOptions) -> int:
    """`gatetrio consume --nats URL SUBJECT...`: every item as a JSON line, like `stream`."""
    with (
        _metrics.serving(options.metrics_port),
        trio.move_on_after(math.inf if options.duration is None else options.duration),
    ):
        await _consume_body(options)
    return EXIT_OK


# ------------------------------------------------------------------------------- argparse


def publish_options(ns: argparse.Namespace) -> PublishOptions:
    """`publish`'s options, checked before connecting (`--all` against one contract)."""
    options = PublishOptions(
        nats=ns.nats,
        channel=ns.channel,
        args=tuple(ns.args),
        all_contracts=ns.all,
        snapshot_every=ns.snapshot_every,
        stream=ns.stream,
        prefix=ns.prefix,
        replicas=ns.replicas,
        duplicate_window=ns.duplicate_window,
        max_age=ns.max_age,
        max_bytes=ns.max_bytes,
        storage=ns.storage,
        update_stream=ns.update_stream,
        beyond_window=ns.beyond_window,
        **connect_options(ns),  # type: ignore[arg-type]
    )
    from gatetrio.nats._bridge import require_nats  # noqa: PLC0415

    require_nats()  # the extra, said before connecting
    if not options.snapshot_every > 0:
        raise UsageError(f"--snapshot-every must be > 0 seconds, got {options.snapshot_every}")
    publish_plan(options, _PROBE if options.all_contracts else ())
    options.stream_settings()
    return options


def consume_options(ns: argparse.Namespace) -> ConsumeOptions:
    """`consume`'s options, checked before connecting."""
    from gatetrio.nats import Reorder  # noqa: PLC0415
    from gatetrio.nats._bridge import require_nats  # noqa: PLC0415
    from gatetrio.nats._consumer import check_subjects, feed_spec  # noqa: PLC0415

    require_nats()  # the extra, said before connecting

    if ns.duration is not None and not ns.duration > 0:
        raise UsageError(f"--duration must be > 0 seconds, got {ns.duration}")
    if not ns.subjects and ns.book is None:
        raise UsageError(
            "name subjects to read (e.g. 'gate.futures.usdt.trades.>') or --book CONTRACT"
        )
    if ns.book is not None and (ns.subjects or ns.durable):
        raise UsageError("--book reads its own subjects, from the latest snapshot")
    options = ConsumeOptions(
        nats=ns.nats,
        subjects=tuple(ns.subjects),
        book=ns.book,
        level=ns.level,
        start=ns.start,
        stream=ns.stream,
        prefix=ns.prefix,
        durable=ns.durable,
        shared=ns.shared,
        ack_wait=ns.ack_wait,
        max_delay=ns.max_delay,
        late=ns.late,
        duration=ns.duration,
        metrics_port=ns.metrics_port,
    )
    _metrics.check_port(options.metrics_port)
    reorder = Reorder(max_delay=options.max_delay, late=options.late)  # type: ignore[arg-type]
    if options.book is None:
        feed_spec(
            stream=options.stream,
            subjects=check_subjects(list(options.subjects)),
            start=options.start,
            durable=options.durable,
            shared=options.shared,
            ack_wait=options.ack_wait,
            batch=512,
            reorder=reorder,
        )
    return options


def _run_publish(ns: argparse.Namespace) -> int:
    return run_checked(publish, publish_options, ns)


def _run_consume(ns: argparse.Namespace) -> int:
    return run_checked(consume, consume_options, ns)


def _add_nats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats",
        required=True,
        metavar="URL",
        help="NATS server URL(s), comma-separated for a cluster (nats://user:pass@host:4222)",
    )
    parser.add_argument(
        "--stream", default=DEFAULT_STREAM, help=f"the JetStream stream (default {DEFAULT_STREAM})"
    )
    parser.add_argument(
        "--prefix", default=DEFAULT_PREFIX, help=f"the subjects' prefix (default {DEFAULT_PREFIX})"
    )


def add_publish(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="publish channels into NATS JetStream",
        description=(
            "Collect public channels and publish them into a JetStream stream, one message per "
            "event on PREFIX.SETTLE.CHANNEL.CONTRACT with a Nats-Msg-Id from the exchange's own "
            "ids: run two collectors for redundancy. CHANNEL may name several, comma-separated, "
            "for the same contracts (trades,tickers,obu BTC_USDT ETH_USDT); obu publishes a "
            "book (deltas and periodic snapshots). --all is every listed contract. The stream "
            "is created if missing; an existing one is used as it is (what differs is "
            "reported) unless --update-stream."
        ),
    )
    _add_nats_arguments(parser)
    parser.add_argument("channel", metavar="CHANNEL[,CHANNEL...]", help="e.g. trades,obu")
    parser.add_argument("args", nargs="*", help="contracts and name=value options")
    parser.add_argument(
        "--all",
        action="store_true",
        help="every listed contract (REST /futures/{settle}/contracts)",
    )
    parser.add_argument(
        "--snapshot-every", type=float, default=5.0, metavar="S", help="book snapshot period"
    )
    stream = parser.add_argument_group("the stream, when publish creates it (or updates it)")
    stream.add_argument("--replicas", type=int, metavar="N", help="1 to 5 (default 1)")
    stream.add_argument("--duplicate-window", type=float, metavar="S", help="seconds (default 120)")
    stream.add_argument("--max-age", type=float, metavar="S", help="seconds (default a day)")
    stream.add_argument("--max-bytes", type=int, metavar="N", help="bytes (default 1 GiB)")
    stream.add_argument("--storage", choices=["file", "memory"], help="default file")
    stream.add_argument(
        "--update-stream",
        action="store_true",
        help="change an existing stream to these settings (else it is used as it is)",
    )
    parser.add_argument(
        "--beyond-window",
        choices=["publish", "drop"],
        default="publish",
        help="events older than the stream's duplicate window when sent: publish (counted) "
        "or drop them",
    )
    add_connect_arguments(parser)
    parser.set_defaults(func=_run_publish)


def add_consume(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "consume",
        help="read events from NATS JetStream as JSON lines",
        description=(
            "Read what `publish` wrote, as the same JSON lines as `stream`, one per event, each "
            "subject in the exchange's order. SUBJECT may use NATS wildcards "
            "('gate.futures.usdt.trades.>'). --durable NAME keeps this reader's place on the "
            "server: run it again to go on exactly there (--shared: workers split the events). "
            "`--book CONTRACT` prints the book built from the bus (top 10 levels) instead."
        ),
    )
    _add_nats_arguments(parser)
    parser.add_argument("subjects", nargs="*", metavar="SUBJECT")
    parser.add_argument("--book", metavar="CONTRACT", help="show a live book from the bus")
    parser.add_argument(
        "--level", type=int, default=int(OBU_LEVEL), help=f"the obu level of --book ({OBU_LEVEL})"
    )
    parser.add_argument(
        "--start",
        default="new",
        metavar="WHERE",
        help="new (default), all, a stream sequence, or an ISO time with its offset "
        "(2026-12-01T10:00:00Z); a durable that exists resumes instead",
    )
    parser.add_argument("--durable", metavar="NAME", help="a durable consumer of this name")
    parser.add_argument(
        "--shared", action="store_true", help="with --durable: workers split its events"
    )
    parser.add_argument(
        "--ack-wait", type=float, default=5.0, metavar="S", help="seconds before redelivery"
    )
    parser.add_argument(
        "--max-delay",
        type=float,
        default=5.0,
        metavar="S",
        help="the longest an event waits for one before it (default 5)",
    )
    parser.add_argument(
        "--late",
        choices=["deliver", "drop"],
        default="deliver",
        help="an event arriving after a later one went out: deliver (default) or drop it",
    )
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    _metrics.add_metrics_argument(parser)
    parser.set_defaults(func=_run_consume)


COMMANDS: Final = (add_publish, add_consume)
"""The adders `_main._COMMANDS` lists."""
