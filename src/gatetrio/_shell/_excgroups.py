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

Raise the result inside the `except` block (`raise collapse(group)`): the group then stays
attached as `__context__` of a single exception too. Nothing here unwraps blindly; `leaves`,
`first_leaf` and `only_of` are for callers that decide by what a group holds.
"""

from __future__ import annotations

from typing import TypeVar

import trio

from gatetrio._core._errors import GateTrioError, GateTrioInternalError

__all__ = ["collapse", "first_leaf", "leaves", "only_cancelled", "only_of", "real_leaves"]

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
