"""`BusBookSync`: rebuild an exact order book from a book stream read off the bus. Pure.

The bus carries, in stream order, an obu stream's deltas (``U..u``, absolute sizes), its full
pushes, and periodic full snapshots from the collectors (the companion subject). A consumer
starts at the latest snapshot, so it holds an exact book from the first message.

The rule differs from `ObuSync`'s ``U == update_id + 1`` on purpose: two collectors may see
Gate batch the same updates differently, so the stream may hold overlapping ranges (A's 5-8,
then B's 7-9, both new to the duplicate window). Sizes are absolute, so a delta with
``U <= update_id + 1 <= u`` brings every level it touches to its state at ``u``, whatever
part of it was applied already: it is applied (the REST sync's first-delta rule, spec 6.5).
``u <= update_id`` is a duplicate; ``U > update_id + 1`` is a gap: the book is cleared and
waits for the next snapshot or full push, which the stream brings (collectors snapshot
periodically).
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Final, TypeAlias

import attrs

from gatetrio._core._book import ObuStatus, ObuSyncStatistics, OrderBook
from gatetrio._core._book._obu import RESYNC_COUNTERS
from gatetrio._core._errors import ProtocolError

if TYPE_CHECKING:
    from gatetrio._core._events import ObuDelta


# The same outcomes as a live obu book's; on the bus, a status that `needs_resync` means the book
# is cleared until the next snapshot message (there is no stream to resubscribe).
BusStatus: TypeAlias = ObuStatus


@typing.final
class BusBookSync:
    """Feed every message of one book stream (deltas and snapshots, in stream order)."""

    __slots__ = ("_counts", "book", "last_resync")

    def __init__(self, contract: str) -> None:
        self.book: Final = OrderBook(contract)
        self.last_resync = ""
        self._counts = dict.fromkeys(_COUNTERS, 0)

    def statistics(self) -> ObuSyncStatistics:
        return ObuSyncStatistics(**self._counts)

    def feed(self, delta: ObuDelta) -> BusStatus:
        """Take the next message; say what it did. Never raises for content."""
        book = self.book
        counts = self._counts
        update_id = book.update_id
        if delta.full:
            if update_id is not None and delta.u <= update_id:
                counts["duplicates"] += 1
                return BusStatus.DUPLICATE
            try:
                book.load_snapshot(delta.u, delta.b, delta.a, t=delta.t)
            except ProtocolError as exc:
                return self._resync(BusStatus.MALFORMED, str(exc))
            counts["snapshots"] += 1
        else:
            if update_id is None:
                counts["waiting_dropped"] += 1
                return BusStatus.WAITING
            if delta.u < delta.U:
                return self._resync(BusStatus.MALFORMED, f"bad range {delta.U}-{delta.u}")
            if delta.u <= update_id:
                counts["duplicates"] += 1
                return BusStatus.DUPLICATE
            if update_id + 1 < delta.U:
                return self._resync(
                    BusStatus.GAP,
                    f"{book.contract}: updates {update_id + 1}..{delta.U - 1} missing on the bus",
                )
            try:
                # an overlapping range starts where the book is: levels are absolute sizes
                book.apply_delta(update_id + 1, delta.u, delta.b, delta.a, t=delta.t)
            except ProtocolError as exc:
                return self._resync(BusStatus.MALFORMED, str(exc))
        if book.is_crossed():
            return self._resync(BusStatus.CROSSED, f"crossed book at update id {delta.u}")
        counts["updates_applied"] += 1
        return BusStatus.APPLIED

    def _resync(self, status: BusStatus, reason: str) -> BusStatus:
        self._counts[RESYNC_COUNTERS[status]] += 1
        self.last_resync = reason
        self.book.clear()
        return status


_COUNTERS: Final = tuple(field.name for field in attrs.fields(ObuSyncStatistics))
