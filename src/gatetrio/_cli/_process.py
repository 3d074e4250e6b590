"""Process-level behaviour shared by the commands: exit codes, one-line errors, signals, logging.

`run_command(command, options)` runs an async command under trio and maps what ends it to an
exit code:
- success 0; an error 1 (one line on stderr, no traceback); a bad argument 2;
- Ctrl-C (SIGINT) 130, the shell convention for "interrupted"; SIGTERM (a service manager's
  normal stop) 0; both cancel the command cleanly, so its `finally` blocks run;
- a reader that goes away (`| head`) ends the command quietly with 0;
- a file or folder it cannot use (`OSError`: permissions, a full disk, a missing path) 1, one
  line naming it.
Anything else is a bug in gatetrio, and keeps its traceback for the report.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Final, TypeVar

import attrs
import trio

from gatetrio._core._errors import GateTrioError, UsageError
from gatetrio._shell._excgroups import leaves

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable

T = TypeVar("T")

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


def print_error(message: str, *, prefix: str = "error") -> None:
    print(f"gatetrio: {prefix}: {message}", file=sys.stderr, flush=True)


def describe(exc: BaseException) -> str:
    """One line for an error the user can act on: gatetrio's message, or what the system said
    about which file (`Permission denied: '/data/capture'`)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename!r}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def exit_code(exc: BaseException) -> int:
    return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ERROR


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A stderr handler that writes to whatever `sys.stderr` is now (the live view redirects
    it above the screen), not the object it was when the handler was made."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        del value


def configure_logging(level: str | None) -> None:
    """Send the `gatetrio` logger to stderr: at `level`, or errors only when None.

    The commands report failures themselves, in one line: the library's own warnings
    (retries, resyncs) stay out of the terminal unless asked for (`--log-level`) or the
    application configured logging itself.
    """
    library = logging.getLogger("gatetrio")
    if library.handlers or (level is None and logging.getLogger().handlers):
        return
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("gatetrio: %(levelname)s: %(name)s: %(message)s"))
    library.addHandler(handler)
    library.setLevel(logging.ERROR if level is None else level.upper())


@attrs.define
class _Stop:
    signum: int | None = None


async def _cancel_on_signal(
    scope: trio.CancelScope,
    stop: _Stop,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            stop.signum = signum
            scope.cancel(reason="interrupted" if signum == signal.SIGINT else "terminated")
            return


async def _until_signal(command: Callable[[T], Awaitable[int]], options: T) -> int:
    code = EXIT_OK
    stop = _Stop()
    async with trio.open_nursery() as nursery:
        # the receiver is installed before the command starts: a Ctrl-C from then on (right
        # after a banner, say) cancels the command instead of raising KeyboardInterrupt in it
        await nursery.start(_cancel_on_signal, nursery.cancel_scope, stop)
        code = await command(options)
        nursery.cancel_scope.cancel(reason="command finished")
    return EXIT_INTERRUPTED if stop.signum == signal.SIGINT else code


def run_checked(
    command: Callable[[T], Awaitable[int]],
    check: Callable[[argparse.Namespace], T],
    ns: argparse.Namespace,
) -> int:
    """Check the arguments with `check` (its `UsageError`: one line, `EXIT_USAGE`, before
    anything connects), then `run_command` with the options it returned."""
    try:
        options = check(ns)
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    return run_command(command, options)


def run_command(command: Callable[[T], Awaitable[int]], options: T) -> int:
    """Run an async command under trio; map interruption and errors to exit codes."""
    try:
        return trio.run(_until_signal, command, options)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # Ctrl-C outside the signal receiver's lifetime
    except BaseException as exc:  # the process boundary: one line, not a traceback
        found = leaves(exc)
        if all(isinstance(e, (KeyboardInterrupt, trio.Cancelled)) for e in found):
            return EXIT_INTERRUPTED
        if isinstance(exc, BrokenPipeError):
            silence_stdout()
            return EXIT_OK
        # the user's to act on: one line (the first; the others are its consequences)
        errors = [e for e in found if isinstance(e, GateTrioError | OSError)]
        if errors and len(errors) == len(found):
            print_error(describe(errors[0]))
            return exit_code(errors[0])
        raise


def silence_stdout() -> None:
    # The reader is gone: point fd 1 at /dev/null so nothing at exit (a flush of sys.stdout)
    # hits the broken pipe again (Python docs, "Note on SIGPIPE").
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
