"""`python -m gatetrio record` and `python -m gatetrio export`: captures on disk.

    record trades BTC_USDT [--simulate] [--duration S] --out DIR    raw frames + events, zstd
    export DIR --to parquet [--dest DIR]                             typed tables per channel

`record` takes the channel arguments `stream` takes; it subscribes, discards the decoded items
and records every frame as received (`gatetrio.recording`). `--all` subscribes every listed
contract (REST `/futures/{settle}/contracts`, without the ones being delisted).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import attrs
import trio

from gatetrio._core._errors import UsageError

from ._watch import (
    EXIT_OK,
    EXIT_USAGE,
    ConnectOptions,
    add_connect_arguments,
    connect_options,
    print_error,
    resolve_specs,
    run_command,
    with_client,
)

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
        specs = await resolve_specs(client, options.channel, options.args, options.all_contracts)
        meta = {"url": client.config.url, "subscriptions": [s.channel for s in specs]}
        async with open_recorder(client, options.out, meta=meta) as recorder:
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


def _run_record(ns: argparse.Namespace) -> int:
    try:
        options = RecordOptions(
            channel=ns.channel,
            args=tuple(ns.args),
            all_contracts=ns.all,
            out=ns.out,
            **connect_options(ns),  # type: ignore[arg-type]
        )
        if not options.all_contracts:
            from ._watch import channel_spec  # noqa: PLC0415

            channel_spec(options.channel, options.args)  # a bad argument fails before connecting
        from gatetrio.recording._files import import_zstandard  # noqa: PLC0415

        import_zstandard()
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    return run_command(record, options)


def add_record(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `record` to the `gatetrio` parser."""
    parser = subparsers.add_parser(
        "record",
        help="record raw frames and connection events to a directory",
        description=(
            "Subscribe like `stream` and record every frame exactly as received, with its "
            "receive time and connection, plus connection events, as rotating zstd-compressed "
            "JSON lines with a manifest. Replay it with `serve --replay DIR`."
        ),
    )
    parser.add_argument("channel", help="a public channel, e.g. trades")
    parser.add_argument("args", nargs="*", help="channel arguments, e.g. BTC_USDT")
    parser.add_argument(
        "--all",
        action="store_true",
        help="every listed contract (REST /futures/{settle}/contracts)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="a new directory")
    add_connect_arguments(parser)
    parser.set_defaults(func=_run_record)


# ---------------------------------------------------------------------------------- export


def _run_export(ns: argparse.Namespace) -> int:
    from gatetrio.recording._parquet import export_parquet  # noqa: PLC0415 - pyarrow optional

    try:
        written = export_parquet(ns.directory, ns.dest)
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    for path, rows in written.items():
        print(f"{path}\t{rows} rows")
    return EXIT_OK


def add_export(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `export` to the `gatetrio` parser."""
    parser = subparsers.add_parser(
        "export",
        help="export a recording to typed tables (parquet)",
        description=(
            "Write one parquet table per channel of a recording (decoded with gatetrio's "
            "records; decimals as strings), plus frames and events tables. Needs pyarrow."
        ),
    )
    parser.add_argument("directory", help="a recording made by `record`")
    parser.add_argument("--to", choices=["parquet"], default="parquet")
    parser.add_argument("--dest", metavar="DIR", help="output directory (default DIR/parquet)")
    parser.set_defaults(func=_run_export)
