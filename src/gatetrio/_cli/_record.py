"""`gatetrio record CHANNEL[,CHANNEL...] ARGS... --out DIR`: raw frames and events on disk.

    record trades BTC_USDT [--simulate] [--duration S] --out DIR    rotating zstd JSON lines
    record trades,tickers,obu BTC_USDT ETH_USDT --out DIR          several channels at once

`record` takes the channel arguments `stream` takes, and several channels, comma-separated,
for the same contracts (`_channel_args`); it subscribes, discards the decoded items and records
every frame as received (`gatetrio.recording`). `--all` subscribes every listed contract (REST
`/futures/{settle}/contracts`, without the ones being delisted).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import trio

from . import _metrics
from ._channel_args import channel_specs, resolve_specs
from ._connect import ConnectOptions, add_connect_arguments, connect_options, with_client
from ._process import EXIT_OK, run_checked

if TYPE_CHECKING:
    import argparse

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client


@attrs.frozen(kw_only=True)
class RecordOptions(ConnectOptions):
    channel: str
    args: tuple[str, ...] = ()
    all_contracts: bool = False
    out: str


async def _drain(client: Client, spec: ChannelSpec[object]) -> None:
    async with client.subscribe(spec, buffer=4096) as sub:
        async for _ in sub:
            pass  # the recording is the raw frames; decoded items are not needed


async def record(options: RecordOptions) -> int:
    """`gatetrio record CHANNEL ARGS... --out DIR`: record until stopped."""
    from gatetrio.recording import open_recorder  # noqa: PLC0415 - zstandard is optional

    async def body(client: Client) -> int:
        specs = await resolve_specs(
            client,
            options.channel,
            options.args,
            all_contracts=options.all_contracts,
            command="record",
        )
        meta = {"url": client.config.url, "subscriptions": [s.channel for s in specs]}
        async with open_recorder(client, options.out, meta=meta) as recorder:
            _metrics.add(recorder)
            print(f"gatetrio: recording to {options.out}", flush=True)
            try:
                async with trio.open_nursery() as nursery:
                    for spec in specs:
                        nursery.start_soon(_drain, client, spec)
            finally:
                stats = recorder.statistics()
                print(
                    f"gatetrio: recorded {stats.frames} frames, {stats.events} events "
                    f"({stats.frames_dropped} frames dropped) to {options.out}",
                    file=sys.stderr,
                    flush=True,
                )
        return EXIT_OK

    return await with_client(options, body)


def run_record(ns: argparse.Namespace) -> int:
    """`func` of the `record` parser: check the arguments, then record."""
    return run_checked(record, _record_options, ns)


def _record_options(ns: argparse.Namespace) -> RecordOptions:
    options = RecordOptions(
        channel=ns.channel,
        args=tuple(ns.args),
        all_contracts=ns.all,
        out=ns.out,
        **connect_options(ns),  # type: ignore[arg-type]
    )
    # a bad argument fails before connecting (`--all` is checked against one contract)
    probe = ("BTC_USDT",) if options.all_contracts else ()
    channel_specs(options.channel, options.args, contracts=probe, command="record")
    from gatetrio.recording._files import check_directory, import_zstandard  # noqa: PLC0415

    import_zstandard()
    check_directory(Path(options.out))  # a folder it cannot use fails before connecting
    return options


def add_record(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `record` to the `gatetrio` parser."""
    parser = subparsers.add_parser(
        "record",
        help="record raw frames and connection events to a directory",
        description=(
            "Subscribe like `stream` (several channels: comma-separated, for the same "
            "contracts) and record every frame exactly as received, with its "
            "receive time and connection, plus connection events, as rotating zstd-compressed "
            "JSON lines with a manifest. Replay it with `serve --replay DIR`."
        ),
    )
    parser.add_argument(
        "channel", metavar="CHANNEL[,CHANNEL...]", help="e.g. trades, or trades,tickers,obu"
    )
    parser.add_argument(
        "args", nargs="*", help="channel arguments, e.g. BTC_USDT (several channels: contracts)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every listed contract (REST /futures/{settle}/contracts)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="a new directory")
    add_connect_arguments(parser)
    parser.set_defaults(func=run_record)
