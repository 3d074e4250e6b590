"""Exception groups at gatetrio's boundaries: the one place they are taken apart.

Contract (STYLE.md 2.6, trio docs' "second" pattern). `collapse(group)` returns the one
exception to raise for a group that escaped a nursery:

1. KeyboardInterrupt wins, wherever it sits; then any other BaseException that is not an
   Exception (SystemExit, GeneratorExit): a process is ending, nothing may swallow that.
2. A group of only `trio.Cancelled` stays the group itself, so the cancel scope that caused it
   absorbs it (unwrapping a lone Cancelled would hand it to the wrong scope's `__exit__`).
3. One real failure (Cancelled leaves ignored) is raised as itself: the user's own exception,
   or gatetrio's `ConnectionLost`, not a group of one.
4. Several real failures, all `GateTrioError`, become one `GateTrioError` naming them, whose
   `__cause__` is the group.
5. Anything else (several failures, one of them foreign) is a bug: `GateTrioInternalError`
   ("please report"), `__cause__` the group.

Nothing here unwraps blindly; `leaves`, `first_leaf` and `only_of` are for callers that decide
by what a group holds.

The `async with` blocks of the public API (`open_client`, `order_book`, `open_pool`, the
recorder, the NATS publisher and consumer, ...) host their tasks in `open_host_nursery`, which
adds one rule in front of `collapse`, the body's (`settle`):

6. The body's own exception comes out unchanged: the very object, with its traceback and its
   context, however the nursery wrapped it (a `trio.TooSlowError` from `wait_ready()` is caught
   by `except trio.TooSlowError`, a group the body raised is that group). Only a
   KeyboardInterrupt from the hosted tasks goes before it, and a real failure of theirs goes
   before a mere Cancelled of the body (the failure is why the body was cancelled). A failure of
   the hosted tasks while the body raised something else is logged, not lost.

And one rule on how it is raised: outside the `except` block, and a library error with
`raise error from error.__cause__`, so that its traceback shows where it came from and why
(its cause), never the groups it travelled in nor the Cancelled it replaced (issue 17.11).
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Final, TypeVar

import trio

from gatetrio._core._errors import GateTrioError, GateTrioInternalError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = [
    "collapse",
    "first_leaf",
    "leaves",
    "only_cancelled",
    "only_of",
    "open_host_nursery",
    "real_leaves",
    "settle",
]

log: Final = logging.getLogger("gatetrio")

E = TypeVar("E", bound=BaseException)


def leaves(exc: BaseException) -> list[BaseException]:
    """Every non-group exception in `exc`, depth first; `[exc]` when it is not a group."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaves(sub)]
    return [exc]


def real_leaves(exc: BaseException) -> list[BaseException]:
    """The leaves of `exc` that are not `trio.Cancelled`."""
    return [leaf for leaf in leaves(exc) if not isinstance(leaf, trio.Cancelled)]


def first_leaf(exc: BaseException) -> BaseException:
    """The first non-group exception in `exc` (`exc` itself when it is not a group)."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def only_cancelled(exc: BaseException) -> bool:
    """True if `exc` is Cancelled or a group holding nothing but Cancelled."""
    return not real_leaves(exc)


def only_of(exc: BaseException, kind: type[E]) -> E | None:
    """The first `kind` leaf if every non-Cancelled leaf of `exc` is a `kind`, else None.

    None too for a group of only Cancelled. Used where one kind of failure has one answer
    (every leaf a ConnectionLost: reconnect), whatever else was cancelled along with it.
    """
    real = real_leaves(exc)
    if not real or not all(isinstance(leaf, kind) for leaf in real):
        return None
    first = real[0]
    return first if isinstance(first, kind) else None  # (always; narrows the type)


def collapse(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception to raise for `group`, by the contract in this module's docstring."""
    real = real_leaves(group)
    for leaf in real:
        if isinstance(leaf, KeyboardInterrupt):
            return leaf
    for leaf in real:
        if not isinstance(leaf, Exception):
            return leaf
    if not real:
        return group
    if len(real) == 1:
        return real[0]
    error: GateTrioError
    if all(isinstance(leaf, GateTrioError) for leaf in real):
        error = GateTrioError(f"{len(real)} failures: " + "; ".join(map(str, real)))
    else:
        error = GateTrioInternalError(
            f"{len(real)} concurrent failures (please report): " + "; ".join(map(repr, real))
        )
    error.__cause__ = group
    return error


def settle(group: BaseExceptionGroup[BaseException], body: BaseException | None) -> BaseException:
    """The one exception to raise for `group`, which a nursery raised around a block whose body
    raised `body` (None: the body finished, or did not get to run); rule 6 of the docstring.

    The body's exception is known by its leaves, not by the group trio put it in: a cancelled
    scope splits Cancelled out of the groups it closes, which copies every group on the way
    (`BaseExceptionGroup.split`), the body's own included. The original `body` is returned.
    """
    if body is None:
        return collapse(group)
    own = leaves(body)
    own_ids = {id(leaf) for leaf in own}
    failures = [leaf for leaf in real_leaves(group) if id(leaf) not in own_ids]
    if not failures:
        return body
    if not any(isinstance(leaf, KeyboardInterrupt) for leaf in own):
        for leaf in failures:
            if isinstance(leaf, KeyboardInterrupt):
                return leaf
    if only_cancelled(body):
        return collapse(BaseExceptionGroup("failures of the hosted tasks", failures))
    log.error(
        "while the block raised %r, its tasks failed too: %s",
        body,
        "; ".join(map(repr, failures)),
    )
    return body


@contextlib.asynccontextmanager
async def open_host_nursery(reason: str) -> AsyncIterator[trio.Nursery]:
    """A nursery for the tasks of one of gatetrio's `async with` blocks: the body's own
    exception comes out unchanged, the tasks' failures as one exception (see the docstring).
    The nursery is cancelled with `reason` when the body ends, however it ends.
    """
    body: BaseException | None = None
    error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                yield nursery
            except BaseException as exc:
                body = exc
                raise
            finally:
                nursery.cancel_scope.cancel(reason=reason)
    except BaseExceptionGroup as group:
        error = settle(group, body)
    if error is None:
        return
    if error is body:
        raise error  # unchanged: its context is the exception being handled, itself
    raise error from error.__cause__  # keeps the cause, shows no group or Cancelled
