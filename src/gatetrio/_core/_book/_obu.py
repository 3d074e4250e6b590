"""`ObuSync`: keep an `OrderBook` in sync with a `futures.obu` stream (spec 6.6, 15).

Pure: no I/O, no trio, no clock reads. The trio shell feeds every push of one stream and, when
a status says so, unsubscribes and resubscribes that stream; there is no REST step.

The rules: the first push of a subscription is full (`full: true`, only `u`) and replaces the
book; Gate may resend a full push at any time. Every other push must follow on,
`U == update_id + 1`; anything else means updates were lost and only a new subscription (whose
first push is full again) can repair the book.
"""

from __future__ import annotations

import enum
import typing
from typing import TYPE_CHECKING, Final

import attrs

from gatetrio._core._errors import BookGap, ProtocolError

from ._orderbook import OrderBook
from ._sync import MAX_DUPLICATE_RUN, went_back

if TYPE_CHECKING:
    from gatetrio._core._events import ObuDelta


class ObuStatus(enum.Enum):
    """What `ObuSync.feed` did with a push; the last three mean "resubscribe" (`needs_resync`)."""

    APPLIED = "applied"
    """The push changed the book (a delta, or a full snapshot); the book is ready."""

    WAITING = "waiting"
    """No snapshot yet: the delta was dropped (counted); the full push that opens every obu
    subscription is due."""

    DUPLICATE = "duplicate"
    """The book is already past this delta (`u <= update_id`; seen twice while two connections
    overlapped): skipped, counted."""

    GAP = "gap"
    """`U` is not `update_id + 1`: updates were lost, or `MAX_DUPLICATE_RUN` duplicates came
    in a row (the ids went back). The book is cleared."""

    MALFORMED = "malformed"
    """A bad level or `u < U`. The book is cleared."""

    CROSSED = "crossed"
    """The push left the best bid at or above the best ask. The book is cleared."""

    @property
    def needs_resync(self) -> bool:
        """True when the book was cleared: unsubscribe and resubscribe the stream."""
        return self in RESYNC_COUNTERS


# The statuses a delta usually gets, read once: on Python 3.11 `ObuStatus.X` goes through
# EnumType.__getattr__ (~700 instructions a read, callgrind), once per delta of a flood.
_APPLIED: Final = ObuStatus.APPLIED
_DUPLICATE: Final = ObuStatus.DUPLICATE
_WAITING: Final = ObuStatus.WAITING


# the statuses that clear the book, each with the counter it bumps (the bus book's too)
RESYNC_COUNTERS: Final = {
    ObuStatus.GAP: "gaps",
    ObuStatus.MALFORMED: "malformed",
    ObuStatus.CROSSED: "crossed",
}


@attrs.frozen
class ObuSyncStatistics:
    """Counters of one `ObuSync` since it was created (`reset()` does not zero them)."""

    updates_applied: int
    """Pushes that changed the book, full ones included."""
    snapshots: int
    """Full pushes loaded."""
    waiting_dropped: int
    """Deltas dropped because no full snapshot had been loaded yet."""
    duplicates: int
    gaps: int
    malformed: int
    crossed: int


@typing.final
class ObuSync:
    """Keep an `OrderBook` in sync with one `futures.obu` stream.

    Feed every `ObuDelta` of the stream, in order; act on the status:

        sync = ObuSync("BTC_USDT")
        async with client.subscribe(channels.obu("BTC_USDT", level=50)) as sub:
            async for delta in sub:
                status = sync.feed(delta)
                if status.needs_resync:
                    break            # log sync.last_resync, then resubscribe
                if status is ObuStatus.APPLIED:
                    wake_readers()

    `book.ready` is True from the first full push until a status that `needs_resync` (or
    `reset()`); meanwhile deltas are dropped as `WAITING`. A full push that is malformed reports
    `MALFORMED` like a bad delta: the stream resubscribes instead of ending the book. While
    ready, the book is never crossed.
    """

    __slots__ = ("_counts", "_duplicate_run", "book", "last_resync")

    def __init__(self, contract: str) -> None:
        self.book: Final = OrderBook(contract)
        """The book kept in sync: read it freely, update it only through this object."""
        self.last_resync = ""
        """Why the last status that `needs_resync` was returned, for logging."""
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._duplicate_run = 0  # duplicates since the last push that changed the book

    def __repr__(self) -> str:
        return f"<ObuSync {self.book.contract} update_id={self.book.update_id}>"

    def statistics(self) -> ObuSyncStatistics:
        """The counters, as a frozen record."""
        return ObuSyncStatistics(**self._counts)

    def reset(self) -> None:
        """Forget the book (e.g. after a reconnect): wait for the next full push."""
        self._duplicate_run = 0
        self.book.clear()

    def feed(self, delta: ObuDelta) -> ObuStatus:
        """Take the next push of this book's stream and say what it did (see `ObuStatus`).

        Never raises for wire content: gaps, malformed levels and crossed books come back as
        statuses, with the reason in `last_resync`.
        """
        book = self.book
        counts = self._counts
        if delta.full:
            try:
                book.load_snapshot(delta.u, delta.b, delta.a, t=delta.t)
            except ProtocolError as exc:  # the book is unchanged: clear it, it is stale now
                return self._resync(ObuStatus.MALFORMED, str(exc))
            counts["snapshots"] += 1
        else:
            update_id = book.update_id
            if update_id is None:
                counts["waiting_dropped"] += 1
                return _WAITING
            if delta.U <= delta.u <= update_id:  # u < U falls through to MALFORMED
                counts["duplicates"] += 1
                self._duplicate_run += 1
                if self._duplicate_run >= MAX_DUPLICATE_RUN:
                    reason = went_back(book.contract, update_id, delta.U, delta.u)
                    return self._resync(ObuStatus.GAP, reason)
                return _DUPLICATE
            try:
                book.apply_delta(delta.U, delta.u, delta.b, delta.a, t=delta.t)
            except BookGap as gap:
                return self._resync(ObuStatus.GAP, str(gap))
            except ProtocolError as exc:
                return self._resync(ObuStatus.MALFORMED, str(exc))
        if book.is_crossed():
            return self._resync(
                ObuStatus.CROSSED, f"crossed book on {book.contract} at update id {delta.u}"
            )
        counts["updates_applied"] += 1
        self._duplicate_run = 0
        return _APPLIED

    def _resync(self, status: ObuStatus, reason: str) -> ObuStatus:
        self._duplicate_run = 0
        self._counts[RESYNC_COUNTERS[status]] += 1
        self.last_resync = reason
        self.book.clear()
        return status


_COUNTERS: Final = tuple(field.name for field in attrs.fields(ObuSyncStatistics))
