"""Re-sequencing bus messages into the exchange's own order, per subject. Pure.

Why it is needed. Two collectors of the same contracts publish every event twice; JetStream
stores the first copy of each message id. Which copy lands first changes from message to
message, and around a collector's stall, a node outage or a retried batch one collector's
backlog lands after the other's newer events: the stream holds each event once, but not in
the exchange's order. A consumer that wants "each contract's events in exchange order" has to
put them back in order, and it cannot do that by waiting a fixed time on every event (that
time would be added to every event's latency).

How it knows without waiting. Every sequenced item has a key from the exchange (a trade's id,
a book delta's last update id `u`, a book ticker's `u`, a ticker's `t`) and, when the
collector could tell, the key of its predecessor on the same subject, `prev`:

- book deltas carry it themselves (`U - 1`: the update ids are contiguous);
- trades, book tickers and stamped tickers get it from the collector that published them (the
  `Gatetrio-Prev` header: the key of the event the collector saw just before on that subject).
  A collector that may have missed events (it reconnected, its subscription dropped items, it
  just started) sends no `prev` for the next one: it does not know. On a subject where no
  message ever carried one (another publisher), events go in arrival order, duplicates and
  late ones still told apart: there is nothing to wait for.
- full books (a snapshot, an obu full push) need no predecessor: they replace everything.

An item whose `prev` is at most the last key delivered on its subject is *connected*: nothing
can come between, and it is released at once. That is every item in the steady state, so the
window costs no latency there. An item that is not connected waits, held in order of its key,
until its predecessor arrives (then the run behind it is released), or until its wait runs out:
`max_delay` when the predecessor is known to exist (the exchange sent it; a collector still has
it in flight), `settle` when nobody said (`prev` unknown, or the first item of a subject). The
held items of a subject are bounded by `window`, all subjects together by `max_held`; what
overflows is released in key order, counted.

What cannot be put in order is counted, never silently reordered: an item whose key is at or
below the last delivered one arrived after its window closed. If its key is one delivered
recently (the last `memory` keys of the subject, or any covered update id of a book), it is a
*duplicate* (a copy published past JetStream's duplicate window, or a redelivery) and dropped;
otherwise it is *late*, delivered or dropped as `late` says. A wait that ran out with a known
predecessor still missing is a *gap*.

Exact: trades, obu and order_book_update deltas and snapshots, order_book snapshots, book_ticker
and stamped tickers, within the window. Arrival (stream) order: candlesticks, liquidations,
contract stats and info, ADL warnings, unstamped tickers (the exchange gives them no sequence).
Across subjects, items keep arrival order.
"""

from __future__ import annotations

import bisect
import enum
import heapq
import itertools
import typing
from array import array
from typing import Final, Generic, Literal, TypeVar

import attrs

from gatetrio._core._errors import UsageError

__all__ = ["Kind", "Reorder", "ReorderStatistics", "Resequencer", "Verdict"]

T = TypeVar("T")


class Kind(enum.Enum):
    """How an item takes part in the ordering of its subject."""

    CHAIN = "chain"
    """A key from the exchange and maybe a predecessor from the collector (trades, tickers)."""
    RANGE = "range"
    """A book delta: key `u`, predecessor `U - 1`; anything at or below the book is covered."""
    RESET = "reset"
    """A full book: key `u` (or book id); it needs no predecessor."""
    NONE = "none"
    """No sequence from the exchange: delivered in arrival order."""


class Verdict(enum.Enum):
    """What `Resequencer.feed` did with the item it was given."""

    ACCEPTED = "accepted"
    """Released at once or held; it comes out in key order."""
    DUPLICATE = "duplicate"
    """Already delivered (or covered): dropped."""
    LATE = "late"
    """Arrived after a later key was delivered; delivered now (out of order), counted."""
    LATE_DROPPED = "late_dropped"
    """Arrived after a later key was delivered; dropped (`late="drop"`), counted."""


def _positive_seconds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise UsageError(f"{attribute.name} must be seconds >= 0, got {value!r}")


def _positive_int(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{attribute.name} must be a positive int, got {value!r}")


def _late_policy(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in {"deliver", "drop"}:
        raise UsageError(f"late must be 'deliver' or 'drop', got {value!r}")


@typing.final
@attrs.frozen(kw_only=True)
class Reorder:
    """The bounds of a consumer's re-sequencing window (see `open_consumer`).

    `max_delay` (seconds) is the longest an item waits for a predecessor known to exist;
    `settle` the longest it waits when nobody said whether one exists (a collector's first
    event after a start or a reconnect, a subject's first event here). `window` bounds the
    items held per subject, `max_held` all subjects together; `memory` is how many delivered
    keys per subject are remembered to tell a duplicate from a late event. `late` says what
    happens to an event that arrives after a later one was delivered: "deliver" (counted,
    out of order: nothing is lost) or "drop" (counted).
    """

    max_delay: float = attrs.field(default=5.0, validator=_positive_seconds)
    settle: float = attrs.field(default=0.25, validator=_positive_seconds)
    window: int = attrs.field(default=4096, validator=_positive_int)
    max_held: int = attrs.field(default=65_536, validator=_positive_int)
    memory: int = attrs.field(default=4096, validator=_positive_int)
    late: Literal["deliver", "drop"] = attrs.field(default="deliver", validator=_late_policy)


@typing.final
@attrs.frozen
class ReorderStatistics:
    """Counters of a consumer's re-sequencing (part of `ConsumerStatistics`)."""

    in_order: int
    """Items released at once (their predecessor had been delivered)."""
    reordered: int
    """Items that waited for a predecessor and were then released in order."""
    duplicates: int
    """Items dropped as already delivered (a copy past the duplicate window, a redelivery)."""
    late: int
    """Items that arrived after a later item of their subject was delivered (out of order)."""
    late_dropped: int
    """Of those, dropped (`Reorder.late == "drop"`)."""
    gaps: int
    """Waits that ran out with a known predecessor still missing (released past it)."""
    overflows: int
    """Items released early because `window` or `max_held` was full."""
    held: int
    """Items waiting now."""
    peak_held: int
    """The most items waiting at once."""
    unsequenced: int
    """Items without an exchange sequence, passed on in arrival order."""


class _Held(Generic[T]):
    __slots__ = ("item", "key", "kind", "prev")

    def __init__(self, key: int, prev: int | None, kind: Kind, item: T) -> None:
        self.key = key
        self.prev = prev
        self.kind = kind
        self.item = item

    def connected(self, last: int | None) -> bool:
        """Its predecessor has been delivered (or it needs none)."""
        prev = self.prev
        return prev == _NO_PREV or (prev is not None and last is not None and prev <= last)


class _Group(Generic[T]):
    """One subject's state: the last key delivered, what waits, what was delivered lately."""

    __slots__ = ("chained", "heap", "held", "last", "released")

    def __init__(self) -> None:
        self.chained = False  # a predecessor was ever given for this subject
        self.last: int | None = None
        self.heap: list[int] = []  # keys of `held`, a heap
        self.held: dict[int, _Held[T]] = {}
        self.released: array[int] = array("q")  # ascending, trimmed to about `memory`


_NO_PREV: Final = -(2**63)  # a RESET item's predecessor: always delivered


class Resequencer(Generic[T]):
    """Feed items with their subject, key and predecessor; take them back in key order.

    `feed` and `expire` append released items to the `out` list they are given (no list per
    call on the hot path). Time is an argument (`now`, seconds on any monotonic clock).
    """

    def __init__(self, settings: Reorder | None = None) -> None:
        self.settings: Final = settings or Reorder()
        self._groups: dict[str, _Group[T]] = {}
        # (deadline, tie, subject, key) of every held item; stale entries are skipped lazily
        self._deadlines: list[tuple[float, int, str, int]] = []
        self._tie = itertools.count()
        self._held = 0
        self._counts = dict.fromkeys(
            (
                "in_order",
                "reordered",
                "duplicates",
                "late",
                "late_dropped",
                "gaps",
                "overflows",
                "peak_held",
                "unsequenced",
            ),
            0,
        )

    def statistics(self) -> ReorderStatistics:
        return ReorderStatistics(held=self._held, **self._counts)

    @property
    def held(self) -> int:
        return self._held

    def troubles(self) -> tuple[int, int, int]:
        """(late, gaps, overflows) so far: what could not be put in order (to report)."""
        counts = self._counts
        return counts["late"], counts["gaps"], counts["overflows"]

    def next_deadline(self) -> float | None:
        """When `expire` next has something to release (None: nothing is held)."""
        deadlines = self._deadlines
        while deadlines:
            _, _, subject, key = deadlines[0]
            group = self._groups.get(subject)
            if group is not None and key in group.held:
                return deadlines[0][0]
            heapq.heappop(deadlines)  # released already
        return None

    # ------------------------------------------------------------------------------- feeding

    def feed(
        self,
        subject: str,
        kind: Kind,
        key: int,
        prev: int | None,
        item: T,
        *,
        now: float,
        out: list[T],
    ) -> Verdict:
        """Take one item; append to `out` whatever is released by it, in order."""
        if kind is Kind.NONE:
            self._counts["unsequenced"] += 1
            out.append(item)
            return Verdict.ACCEPTED
        group = self._groups.get(subject)
        if group is None:
            group = self._groups[subject] = _Group()
        last = group.last
        if kind is Kind.RESET:
            prev = _NO_PREV
        if last is not None and key <= last:
            return self._behind(group, kind, key, item, out)
        if key in group.held:
            self._counts["duplicates"] += 1
            return Verdict.DUPLICATE
        if prev is not None:
            group.chained = True
        elif kind is Kind.CHAIN and not group.chained and last is not None:
            # Nobody on this subject ever gives a predecessor (a publisher other than
            # gatetrio's): waiting would only add `settle` to every event. Arrival order.
            prev = last
        if not group.heap and (
            prev == _NO_PREV or (prev is not None and last is not None and prev <= last)
        ):  # the steady state: connected, and nothing waits before it
            self._counts["in_order"] += 1
            self._deliver(group, kind, key, item, out)
            return Verdict.ACCEPTED
        # It waits in key order, even a full book once the subject has started (it goes when
        # what waits below it does: releasing those early would open a gap in the book it then
        # replaces). Before that a full book is where the subject starts: what waits below it
        # goes first, as it is.
        self._hold(subject, group, key, prev, kind=kind, item=item, now=now)
        if kind is Kind.RESET and last is None:
            self._release_through(group, key, out, forced=False)
        self._drain(group, out)
        if len(group.held) > self.settings.window:
            self._overflow(group, out)
        if self._held > self.settings.max_held:
            self._shed(out)
        return Verdict.ACCEPTED

    def _behind(self, group: _Group[T], kind: Kind, key: int, item: T, out: list[T]) -> Verdict:
        """An item at or below the last delivered key: a duplicate, or late."""
        counts = self._counts
        if kind is not Kind.CHAIN:  # a book at or below the delivered book: covered
            counts["duplicates"] += 1
            return Verdict.DUPLICATE
        released = group.released
        at = bisect.bisect_left(released, key)
        if at < len(released) and released[at] == key:
            counts["duplicates"] += 1
            return Verdict.DUPLICATE
        counts["late"] += 1
        if self.settings.late == "drop":
            counts["late_dropped"] += 1
            return Verdict.LATE_DROPPED
        out.append(item)
        return Verdict.LATE

    def _hold(
        self,
        subject: str,
        group: _Group[T],
        key: int,
        prev: int | None,
        *,
        kind: Kind,
        item: T,
        now: float,
    ) -> None:
        group.held[key] = _Held(key, prev, kind, item)
        heapq.heappush(group.heap, key)
        known = prev is not None and group.last is not None
        wait = self.settings.max_delay if known else self.settings.settle
        heapq.heappush(self._deadlines, (now + wait, next(self._tie), subject, key))
        self._held += 1
        self._counts["peak_held"] = max(self._counts["peak_held"], self._held)

    def _deliver(self, group: _Group[T], kind: Kind, key: int, item: T, out: list[T]) -> None:
        group.last = key
        if kind is Kind.CHAIN:
            released = group.released
            released.append(key)
            memory = self.settings.memory
            if len(released) >= 2 * memory:
                del released[:memory]
        out.append(item)

    def _pop(self, group: _Group[T]) -> _Held[T]:
        key = heapq.heappop(group.heap)
        self._held -= 1
        return group.held.pop(key)

    def _release(self, group: _Group[T], held: _Held[T], out: list[T], *, forced: bool) -> None:
        counts = self._counts
        last, prev = group.last, held.prev
        if forced and prev is not None and prev != _NO_PREV and last is not None and prev > last:
            counts["gaps"] += 1  # its predecessor was known to exist and never came
        counts["reordered"] += 1
        self._deliver(group, held.kind, held.key, held.item, out)

    def _drain(self, group: _Group[T], out: list[T]) -> None:
        """Release the held items whose predecessor has now been delivered, in order."""
        heap = group.heap
        while heap and group.held[heap[0]].connected(group.last):
            self._release(group, self._pop(group), out, forced=False)

    def _release_through(self, group: _Group[T], key: int, out: list[T], *, forced: bool) -> None:
        heap = group.heap
        while heap and heap[0] <= key:
            self._release(group, self._pop(group), out, forced=forced)

    def _overflow(self, group: _Group[T], out: list[T]) -> None:
        while len(group.held) > self.settings.window:
            self._counts["overflows"] += 1
            self._release(group, self._pop(group), out, forced=True)
            self._drain(group, out)

    def _shed(self, out: list[T]) -> None:
        """All subjects together hold too much: release the longest-waiting first."""
        deadlines = self._deadlines
        while self._held > self.settings.max_held and deadlines:
            _, _, subject, key = heapq.heappop(deadlines)
            group = self._groups[subject]
            if key in group.held:
                self._counts["overflows"] += 1
                self._release_through(group, key, out, forced=True)
                self._drain(group, out)

    # ------------------------------------------------------------------------------- timing

    def expire(self, now: float, out: list[T]) -> None:
        """Release what has waited its time (and, in order, whatever waits below it)."""
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, _, subject, key = heapq.heappop(deadlines)
            group = self._groups.get(subject)
            if group is None or key not in group.held:
                continue
            self._release_through(group, key, out, forced=True)
            self._drain(group, out)
