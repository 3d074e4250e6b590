"""The command line: ``gatetrio <command> ...`` (or ``python -m gatetrio <command> ...``).

One module per command (`_serve`, `_watch`, `_stream`, `_record`, `_export`, `_nats` for
`publish` and `consume`), each with an adder (``add_watch(subparsers)``) that declares its
options and sets ``func``: the function that takes the parsed namespace and returns the exit
code. Add a command by writing such a module and listing its adder in `COMMANDS`. What
commands share lives in its own module and is imported from there: where to connect
(`_connect`), channel words (`_channel_args`), exit codes and one-line errors (`_process`),
JSON lines (`_jsonl`, `_stream.write_lines`). Optional dependencies (rich, zstandard, pyarrow,
nats-py) are imported by the command that needs them, when it runs.

Exit codes: 0 success (SIGTERM counts as a normal stop), 1 error (one line on stderr), 2 bad
arguments, 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from gatetrio._core._errors import GateTrioError

from . import _nats
from ._export import add_export
from ._process import (
    EXIT_INTERRUPTED,
    LOG_LEVELS,
    configure_logging,
    describe,
    exit_code,
    print_error,
)
from ._record import add_record
from ._serve import add_serve
from ._stream import add_stream
from ._watch import add_watch

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        configure_logging(args.log_level)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except KeyboardInterrupt:  # Ctrl-C before or after a command's own handling
        return EXIT_INTERRUPTED
    except (GateTrioError, OSError) as exc:  # a command that runs without trio (export)
        print_error(describe(exc))
        return exit_code(exc)


def program_name(argv0: str | None = None) -> str:
    """`gatetrio` when run as the console script, `python -m gatetrio` under `-m`."""
    name = Path(sys.argv[0] if argv0 is None else argv0).name
    return "python -m gatetrio" if name in ("__main__.py", "-m", "") else name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from gatetrio import __version__  # noqa: PLC0415 - the package is loaded by now anyway

    parser = argparse.ArgumentParser(
        prog=program_name() if prog is None else prog,
        description="gatetrio: a trio client for Gate's futures WebSocket API v4",
        epilog="exit codes: 0 done, 1 error, 2 bad arguments, 130 interrupted (Ctrl-C)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="show the library's log lines from this level on, on stderr (default: errors only)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


COMMANDS: Final[list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]] = [
    add_serve,
    add_watch,
    add_stream,
    add_record,
    add_export,
    *_nats.COMMANDS,
]
"""Subcommand adders, in `--help` order."""
