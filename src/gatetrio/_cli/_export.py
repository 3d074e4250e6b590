"""`gatetrio export DIR --to parquet`: a recording as typed tables, one per channel.

    export DIR --to parquet [--dest DIR]

Needs pyarrow (`gatetrio[parquet]`), imported when the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatetrio._core._errors import UsageError

from ._process import EXIT_OK, EXIT_USAGE, print_error

if TYPE_CHECKING:
    import argparse


def run_export(ns: argparse.Namespace) -> int:
    """`func` of the `export` parser."""
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
    parser.set_defaults(func=run_export)
