"""`BookSync`: keep an `OrderBook` in sync with `futures.order_book_update` and REST snapshots.

Pure (spec 6.5): no I/O, no trio, no clock reads. The trio shell fetches the snapshots and feeds
every delta; this module decides what each one means.
"""

from __future__ import annotations

import enum
import typing
from collections import deque
from typing import TYPE_CHECKING, Final

import attrs

from gatetrio._core._errors import BookGap, ProtocolError, UsageError

from ._orderbook import OrderBook

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gatetrio._core._events import BookDelta, BookLevel


# A delta the book is already past is skipped as a duplicate: while two connections overlap (a
# handover) an update can come twice, between new ones. A long run of them with nothing new in
# between is no overlap: the stream's ids went back (a server that restarted its sequence, or a
# hostile one), and skipping on would keep a stale book ready for ever while every real change
# is thrown away. After this many in a row the book resyncs as on a gap (counted in `gaps`).
# The same holds for a REST snapshot that the stream never reaches: this many deltas in a row
# below it after it loaded mean it is ahead of the stream (a bogus id), and it is fetched again
# (`snapshots_ahead`) rather than waited past for ever.
MAX_DUPLICATE_RUN: Final = 100


def went_back(contract: str, update_id: int, first: int, last: int) -> str:
    """Why a run of `MAX_DUPLICATE_RUN` deltas at or below `update_id` resyncs the book (the
    latest covering ids `first..last`)."""
    return (
        f"order book ids went back on {contract}: {MAX_DUPLICATE_RUN} deltas in a row at or "
        f"below update id {update_id} (the latest {first}..{last})"
    )


class SyncStatus(enum.Enum):
    """Where a `BookSync` stands; each value says what the caller does next."""

    NEED_SNAPSHOT = "need_snapshot"
    """Deltas are being buffered and the book is empty: fetch a REST snapshot and pass it to
    `BookSync.load_snapshot`. Also the status after a gap or a too-old snapshot."""

    WAITING = "waiting"
    """A snapshot is loaded (the book is correct as of its id) but no delta has reached past it
    yet; keep feeding deltas."""

    SYNCED = "synced"
    """The book follows the stream; every delta fed is applied."""


@attrs.frozen
class BookSyncStatistics:
    """Counters of one `BookSync` since it was created (`reset()` does not zero them)."""

    buffered: int
    """Deltas held now, waiting for a snapshot."""
    peak_buffered: int
    deltas_dropped: int
    """Buffered deltas pushed out (oldest first) because the buffer was full."""
    deltas_discarded: int
    """Deltas older than the snapshot they were matched against (spec 6.5 step 3)."""
    snapshots_too_old: int
    """Snapshots found older than the first delta after them (spec 6.5 step 3)."""
    gaps: int
    """Lost updates detected once synced (spec 6.5 step 5); each one restarts the sync."""
    updates_applied: int = 0
    """Deltas (and `full` pushes) that changed the book, replays included."""
    duplicates: int = 0
    """Deltas skipped once synced because the book was already past them (`u <= update_id`)."""
    malformed: int = 0
    """Malformed deltas (`u < U`, a bad level); each one reset the sync."""
    crossed: int = 0
    """Deltas that left the book crossed, with `reject_crossed`; each one restarted the sync."""
    snapshots_ahead: int = 0
    """Snapshots the stream stayed below for `MAX_DUPLICATE_RUN` deltas; each fetched again."""


@typing.final
class BookSync:
    """Keep an `OrderBook` in sync with `futures.order_book_update` and REST snapshots (spec 6.5).

    The algorithm: buffer deltas from subscribing on; fetch a snapshot (`baseId`); discard
    buffered deltas with `u < baseId + 1`; if the first remaining has `U > baseId + 1` the
    snapshot is too old, fetch another; else apply from the delta with `U <= baseId+1 <= u`, and
    from then on every delta must have `U == update_id + 1`. A `full` delta syncs at once.
    Once synced, a delta the book is already past (`u <= update_id`, seen twice while two
    connections overlap) is skipped and counted; `MAX_DUPLICATE_RUN` of them in a row mean the
    ids went back, and restart the sync like a gap.

    Pure and sync: the trio shell owns the fetching. It feeds every decoded delta to `feed` and
    fetches a snapshot whenever the status is `NEED_SNAPSHOT`:

        sync = BookSync("BTC_USDT")
        # reader task, for each OrderBookUpdate event `ev` of this contract:
        if sync.feed(ev.result) is SyncStatus.NEED_SNAPSHOT:
            wake_fetcher()
        # fetcher task (started after subscribing, and on each wake):
        while sync.status is SyncStatus.NEED_SNAPSHOT:
            snap = parse_rest_snapshot(await fetch(contract, limit=level))
            sync.load_snapshot(snap.id, snap.bids, snap.asks, t=snap.t)
        # anyone: sync.book.best_bid(), ...

    `book.ready` is False exactly when the status is `NEED_SNAPSHOT`. The buffer keeps at most
    `max_buffered` deltas and drops the oldest beyond that (counted): the oldest are the ones a
    fresh snapshot makes obsolete, and if one was still needed the snapshot shows up as too old
    and is fetched again, so a drop never corrupts the book.

    With `reject_crossed=True` a delta that leaves a synced book crossed restarts the sync like a
    gap (a live book wants that; the book itself tolerates a crossed state, see `OrderBook`).
    """

    __slots__ = (
        "_buffer",
        "_counts",
        "_duplicate_run",
        "_reject_crossed",
        "_status",
        "book",
        "last_gap",
        "last_resync",
    )

    def __init__(
        self, contract: str, *, max_buffered: int = 1000, reject_crossed: bool = False
    ) -> None:
        if max_buffered < 1:
            raise UsageError(f"max_buffered must be at least 1, got {max_buffered}")
        self.book: Final = OrderBook(contract)
        """The book kept in sync: read it freely, update it only through this object."""
        self.last_gap: BookGap | None = None
        """The latest gap or too-old snapshot, for logging."""
        self.last_resync = ""
        """Why the sync last went back to `NEED_SNAPSHOT` (gap, too old, crossed, malformed)."""
        self._status = SyncStatus.NEED_SNAPSHOT
        self._buffer: deque[BookDelta] = deque(maxlen=max_buffered)
        self._reject_crossed = reject_crossed
        self._duplicate_run = 0  # duplicates since the last delta that changed the book
        # one dict of counters rather than nine slots: statistics() names them
        self._counts = dict.fromkeys(_COUNTERS, 0)

    def __repr__(self) -> str:
        return f"<BookSync {self.book.contract} {self._status.name} buffered={len(self._buffer)}>"

    @property
    def status(self) -> SyncStatus:
        """The current `SyncStatus`."""
        return self._status

    def statistics(self) -> BookSyncStatistics:
        """The counters, as a frozen record."""
        return BookSyncStatistics(buffered=len(self._buffer), **self._counts)

    def reset(self) -> None:
        """Start over (e.g. after a reconnect): empty the book and the buffer, need a snapshot."""
        self._duplicate_run = 0
        self._buffer.clear()
        self.book.clear()
        self._status = SyncStatus.NEED_SNAPSHOT

    def feed(self, delta: BookDelta) -> SyncStatus:
        """Take the next `futures.order_book_update` result of this book's contract.

        Returns the status afterwards. `NEED_SNAPSHOT` after `SYNCED` or `WAITING` means updates
        were lost, the snapshot was too old or (with `reject_crossed`) the book crossed; see
        `last_resync`. The delta is kept as the first of a new buffer, and the caller fetches a
        snapshot.

        Raises:
            ProtocolError: the delta is malformed (`u < U`, a bad level). The sync is `reset()`
                first, so it stays consistent: the caller may log it and fetch a snapshot.
        """
        try:
            return self._feed(delta)
        except ProtocolError as exc:
            self._malformed(exc)
            raise

    def load_snapshot(
        self,
        snapshot_id: int,
        bids: Iterable[BookLevel],
        asks: Iterable[BookLevel],
        *,
        t: int = 0,
    ) -> SyncStatus:
        """Take a REST snapshot (`id`, `bids`, `asks`) and replay the buffered deltas onto it.

        Returns `SYNCED`, `WAITING` (the snapshot is newer than every delta so far), or
        `NEED_SNAPSHOT` (too old, or the buffered deltas have a gap after it: fetch again).
        A snapshot that is not needed (already `SYNCED`, or not newer than the one being
        waited on) is ignored.

        Raises:
            ProtocolError: a level of the snapshot is malformed; nothing changes. Or a buffered
                delta is malformed; the sync is `reset()` first, as for `feed`.
        """
        status = self._status
        if status is SyncStatus.SYNCED:
            return status
        current = self.book.update_id
        if status is SyncStatus.WAITING and current is not None and snapshot_id <= current:
            return status
        self.book.load_snapshot(snapshot_id, bids, asks, t=t)
        self._status = SyncStatus.WAITING
        pending = list(self._buffer)
        self._buffer.clear()
        try:
            for delta in pending:
                self._feed(delta)
                self._duplicate_run = 0  # (deltas buffered before the snapshot: no evidence)
        except ProtocolError as exc:
            self._malformed(exc)
            raise
        return self._status

    def _feed(self, delta: BookDelta) -> SyncStatus:
        status = self._status
        book = self.book
        counts = self._counts
        if delta.full:
            book.load_snapshot(delta.u, delta.b, delta.a, t=delta.t)
            self._buffer.clear()  # everything buffered is older than a full push
            self._status = SyncStatus.SYNCED
            self._duplicate_run = 0
            counts["updates_applied"] += 1
        elif status is SyncStatus.SYNCED:
            update_id = typing.cast("int", book.update_id)
            if delta.U <= delta.u <= update_id:
                counts["duplicates"] += 1  # seen twice while two connections overlapped
                self._duplicate_run += 1
                if self._duplicate_run >= MAX_DUPLICATE_RUN:
                    counts["gaps"] += 1
                    self.last_gap = BookGap(book.contract, expected=update_id + 1, got=delta.U)
                    self._restart(delta, went_back(book.contract, update_id, delta.U, delta.u))
                return self._status
            self._duplicate_run = 0
            try:
                book.apply_delta(delta.U, delta.u, delta.b, delta.a, t=delta.t)
            except BookGap as gap:
                counts["gaps"] += 1
                self.last_gap = gap
                self._restart(delta, str(gap))
                return self._status
            counts["updates_applied"] += 1
        elif status is SyncStatus.WAITING:
            next_id = typing.cast("int", book.update_id) + 1
            if delta.u < next_id:
                counts["deltas_discarded"] += 1
                self._duplicate_run += 1
                if self._duplicate_run >= MAX_DUPLICATE_RUN:
                    counts["snapshots_ahead"] += 1
                    self.last_resync = (
                        f"REST snapshot {next_id - 1} is ahead of the {book.contract} stream: "
                        f"{MAX_DUPLICATE_RUN} deltas in a row below it (the latest {delta.u})"
                    )
                    self.reset()
                return self._status
            if next_id < delta.U:
                counts["snapshots_too_old"] += 1
                too_old = BookGap(book.contract, expected=next_id, got=delta.U)
                self.last_gap = too_old
                self._restart(delta, f"snapshot too old: {too_old}")
                return self._status
            # The delta straddles the snapshot id. Its sizes are absolute as of `u`, so all
            # of its levels apply on top of the snapshot (spec 6.5 step 4).
            book.apply_delta(next_id, delta.u, delta.b, delta.a, t=delta.t)
            self._status = SyncStatus.SYNCED
            self._duplicate_run = 0
            counts["updates_applied"] += 1
        else:
            self._buffer_delta(delta)
            return self._status
        if self._reject_crossed and book.is_crossed():
            # Not kept for the next snapshot, unlike a gapped delta: it is what crossed the book
            # (or met stale levels); a newer snapshot, or a too-old one refetched, replaces it.
            counts["crossed"] += 1
            self.last_resync = f"crossed book on {book.contract} at update id {delta.u}"
            self.reset()
        return self._status

    def _buffer_delta(self, delta: BookDelta) -> None:
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            self._counts["deltas_dropped"] += 1  # deque(maxlen) drops the oldest itself
        buffer.append(delta)
        self._counts["peak_buffered"] = max(self._counts["peak_buffered"], len(buffer))

    def _restart(self, delta: BookDelta, reason: str) -> None:
        # Back to spec 6.5 step 2. The offending delta may straddle the next snapshot's id, so
        # it opens the new buffer.
        self.last_resync = reason
        self.reset()
        self._buffer_delta(delta)

    def _malformed(self, exc: ProtocolError) -> None:
        self._counts["malformed"] += 1
        self.last_resync = str(exc)
        self.reset()


_COUNTERS: Final = tuple(
    field.name for field in attrs.fields(BookSyncStatistics) if field.name != "buffered"
)
