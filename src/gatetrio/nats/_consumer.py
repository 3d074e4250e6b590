"""Reading the bus: `open_consumer` yields each subject's items in the exchange's order.

    trades = ["gate.futures.usdt.trades.>"]
    async with gatetrio.nats.open_consumer("nats://127.0.0.1:4222", trades) as sub:
        async for trade in sub:
            ...

    # resumes where it stopped, after a restart; several workers: durable=..., shared=True
    async with gatetrio.nats.open_consumer(url, trades, durable="recorder") as sub:
        ...

Reading goes through a JetStream pull consumer on the asyncio thread (`_pull`): pulling is
the flow control, at most 2 x `batch` messages are held in the process, nothing is dropped on
this side, and a slow reader leaves the backlog in the stream. Ephemeral by default (no acks;
the server forgets it 30 s after this process goes away); `durable=NAME` keeps the reader's
place on the server.

Who acknowledges what, when (durable). A message is acknowledged once the reader is done with
it: when it asks for the next item, or leaves the `async with` block without an exception; a
message dropped here (a duplicate, a late event under `late="drop"`, a malformed payload) at
once. What is held in the re-sequencing window, buffered here, or being processed when the
block raises is not acknowledged, so the next reader gets it. Acks travel with the next pull
(one hop for both), or within ACK_INTERVAL when the reader works through a buffered batch.
Leaving the block cleanly gives back (NAK) what was fetched but not delivered, so the next
reader starts with it at once.

Exactly where it stopped. Across a clean stop nothing is lost or repeated. A reader killed
outright leaves its unacknowledged messages to the server, which delivers them again after
`ack_wait` (before newer ones): the next reader of the durable waits for them (at most
`ack_wait` after the attach) before it releases anything, so they come in order; messages
whose ack had not left the killed process come again too, flagged `redelivered`. Within a
process, a redelivery of a message already received (the same stream sequence) is dropped. If
the pull consumer is lost (its node died, the connection dropped), it is attached again: an
ephemeral or one-reader durable consumer is recreated at the first stream sequence not yet
acknowledged, so what was in flight comes at once and nothing is skipped or repeated.

A shared durable (`shared=True`) splits its messages among the workers that read it, each
message to one; they come in arrival order (per-subject order needs one reader: give each
worker its own subjects), and a worker's unacknowledged messages go to the others after
`ack_wait`.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import datetime as dt
import functools
import logging
import random
import re
from array import array
from typing import TYPE_CHECKING, Final, final

import attrs
import trio

from gatetrio._core._backoff import Backoff
from gatetrio._core._errors import ProtocolError, UsageError

from ._bridge import NatsLink, nats_options, open_asyncio_thread
from ._errors import NatsError, NatsUnavailable
from ._pull import FeedSpec, Start
from ._reorder import Kind, Reorder, ReorderStatistics, Resequencer, Verdict
from ._wire import decode_payload, sequence

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from ._bridge import AsyncioThread, NatsOptions
    from ._pull import Attached, BusMessage, PullFeed
    from ._wire import BusItem

log: Final = logging.getLogger("gatetrio.nats")

DEFAULT_STREAM: Final = "GATE_FUTURES"
FETCH_BATCH: Final = 512
FETCH_WAIT: Final = 1.0  # seconds a fetch long-polls for the first message
ACK_INTERVAL: Final = 0.1  # seconds an acknowledgement may wait for the next pull
ACK_WAIT: Final = 5.0  # seconds JetStream waits for a durable's ack before delivering again
SEQ_MEMORY: Final = 65_536  # stream sequences remembered to drop a message received twice
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,200}")

Released = tuple["BusMessage", "BusItem"]


@final
@attrs.frozen
class ConsumerStatistics:
    """Counters of a `BusSubscription` (see `open_consumer`)."""

    received: int
    """Items handed to the reader."""
    messages: int
    """Messages read off the bus (deliveries)."""
    malformed: int
    """Messages whose payload was not a gatetrio bus payload (skipped, counted)."""
    redeliveries: int
    """Deliveries JetStream made again (not acknowledged in time, or a killed reader's)."""
    repeats_dropped: int
    """Messages dropped because their stream sequence had been received already."""
    acks: int
    """Acknowledgements sent (durable consumers)."""
    last_stream_seq: int
    consumer_restarts: int
    """Times the pull consumer was attached again (node loss, reconnect)."""
    reorder: ReorderStatistics | None
    """The re-sequencing window's counters (None: `reorder=None`, or a shared consumer)."""


def parse_start(start: object) -> Start:
    """`open_consumer`'s `start`: "new", "all", a stream sequence, or a time.

    A time is an aware `datetime`, or ISO 8601 text with its offset ("2026-12-01T10:00:00Z").
    """
    if start in {"new", "all"}:
        return Start(policy=start)
    if isinstance(start, int) and not isinstance(start, bool) and start >= 1:
        return Start(policy="seq", seq=start)
    if isinstance(start, str) and start.isdecimal() and int(start) >= 1:
        return Start(policy="seq", seq=int(start))
    when = start
    if isinstance(start, str):
        with contextlib.suppress(ValueError):
            when = dt.datetime.fromisoformat(start)
    if isinstance(when, dt.datetime) and when.tzinfo is not None:
        return Start(policy="time", time=when.timestamp())
    raise UsageError(
        f"start must be 'new', 'all', a stream sequence >= 1 or an aware datetime / ISO time "
        f"with its offset (2026-12-01T10:00:00Z), got {start!r}"
    )


class _Puller:
    """One pull consumer, attached again (recreated where it was) when it fails."""

    def __init__(
        self,
        thread: AsyncioThread,
        link: NatsLink,
        spec: FeedSpec,
        resume_point: Callable[[], int | None],
    ) -> None:
        self.thread = thread
        self.link = link
        self.spec = spec
        self.restarts = 0
        self.attached: Attached | None = None
        self._resume_point = resume_point
        self._feed: PullFeed | None = None
        self._failed = False
        self._backoff = Backoff(initial=0.1, maximum=2.0, jitter=0.1, rng=random.Random())

    async def attach(self) -> Attached:
        """Attach the first time. A stream not there yet is waited for (a publisher creates
        it); any other `NatsError` (a durable with other settings) is the caller's."""
        warned = False
        while True:
            try:
                feed, attached = await self.thread.run(
                    functools.partial(self.link.pull, self.spec, resume_from=None)
                )
            except NatsUnavailable as exc:
                if not warned:
                    log.warning("NATS consumer on %s: %s; retrying", self.spec.stream, exc)
                    warned = True
                await trio.sleep(self._backoff.next_delay())
                continue
            self._backoff.reset()
            self._feed, self.attached = feed, attached
            return attached

    async def fetch(self, wait: float, acks: list[str]) -> list[BusMessage]:
        """Send `acks`, then what arrived (waiting up to `wait` for the first). Cancellation
        loses nothing: what arrived meanwhile stays in the feed for the next call."""
        while True:
            feed = self._feed
            try:
                feed = feed or await self._reattach()
                await self.thread.run(functools.partial(self.link.fetch, feed, wait, acks))
            except NatsError as exc:
                log.warning("NATS consumer on %s: %s; attaching again", self.spec.stream, exc)
                leftover = feed.drain() if feed is not None else []
                await self._drop()
                if leftover:
                    return leftover  # delivered before it failed: they count
                await trio.sleep(self._backoff.next_delay())
                continue
            self._backoff.reset()
            return feed.drain()

    async def _reattach(self) -> PullFeed:
        resume = self._resume_point() if self._failed else None
        feed, self.attached = await self.thread.run(
            functools.partial(self.link.pull, self.spec, resume_from=resume)
        )
        self._feed = feed
        return feed

    async def send(self, acks: list[str], *, nak: bool = False) -> None:
        """Acknowledge (or give back) at once; lost if NATS is down (they come again)."""
        if not acks:
            await trio.lowlevel.checkpoint()
            return
        try:
            await self.thread.run(functools.partial(self.link.ack, acks, nak=nak))
        except NatsError as exc:
            log.warning("NATS consumer on %s: acks not sent: %s", self.spec.stream, exc)

    async def stop(self) -> None:
        """Stop pulling (the inbox goes, and with it the interest in the open request)."""
        feed, self._feed = self._feed, None
        if feed is not None:
            await self.thread.run(functools.partial(self.link.unsubscribe, feed))

    async def _drop(self) -> None:
        feed, self._feed = self._feed, None
        self._failed = True
        if feed is not None:
            self.restarts += 1
            await self.thread.run(lambda: self.link.unsubscribe(feed))

    async def close(self) -> None:
        with trio.CancelScope(shield=True):
            feed, self._feed = self._feed, None
            if feed is not None:
                await self.thread.run(lambda: self.link.unsubscribe(feed))


def _same_subject(subject: str) -> str:
    return subject


@final
class BusSubscription:
    """Items read off the bus, each subject's in the exchange's order; from `open_consumer`.

    `async for item in sub`, or `await sub.receive_message()` for the `BusMessage` (stream
    sequence, `redelivered`, `late`) with its item. `statistics()` counts what happened.
    """

    def __init__(
        self,
        puller: _Puller,
        *,
        reorder: Reorder | None,
        group: Callable[[str], str] = _same_subject,
    ) -> None:
        self._puller = puller
        self._durable = puller.spec.durable is not None
        self._seq: Resequencer[Released] | None = Resequencer(reorder) if reorder else None
        self._group = group
        self._ready: collections.deque[Released] = collections.deque()
        self._current: list[BusMessage] = []  # delivered; acknowledged on the next call
        self._acks: list[str] = []
        self._acks_since = 0.0
        self._unacked: dict[int, str] = {}  # stream seq -> reply: received, not yet done
        self._seen: array[int] = array("q")  # stream seqs received, ascending
        self._gate: tuple[float, int] | None = None  # (until, redeliveries awaited)
        self._counts = dict.fromkeys(
            ("received", "messages", "malformed", "redeliveries", "repeats_dropped", "acks"), 0
        )
        self._last_seq = 0
        self._troubles = (0, 0, 0)  # (late, gaps, overflows) last reported
        self._closed = False

    def statistics(self) -> ConsumerStatistics:
        return ConsumerStatistics(
            last_stream_seq=self._last_seq,
            consumer_restarts=self._puller.restarts,
            reorder=self._seq.statistics() if self._seq is not None else None,
            **self._counts,
        )

    def resume_point(self) -> int | None:
        """Where a recreated consumer starts: the first stream sequence not acknowledged."""
        if self._unacked:
            return min(self._unacked)
        return self._seen[-1] + 1 if self._seen else None

    def hold_for_redeliveries(self, pending: int, ack_wait: float) -> None:
        """A killed reader left `pending` messages unacknowledged: release nothing until they
        came again (JetStream sends them after `ack_wait`, before newer ones) or that is over."""
        if pending > 0 and self._seq is not None:
            self._gate = (trio.current_time() + ack_wait + 1.0, pending)
            log.info("durable consumer: waiting for %d messages a previous reader left", pending)

    # ---------------------------------------------------------------------------- reading

    async def receive_message(self) -> tuple[BusMessage, BusItem]:
        """The next message and the item it carries, in its subject's exchange order.

        Waits for one. Acknowledges (durable) what was returned before: asking for the next
        is saying you are done with it. Cancellation leaves the subscription unchanged:
        nothing buffered is lost.
        """
        return (await self.receive_batch(1))[0]

    async def receive_batch(self, max: int = FETCH_BATCH) -> list[tuple[BusMessage, BusItem]]:  # noqa: A002
        """Wait for at least one message, then return every one released, up to `max`.

        The batch form of `receive_message`, acknowledged the same way (the whole batch, at
        the next call or by `acknowledge()`).
        """
        if isinstance(max, bool) or not isinstance(max, int) or max < 1:
            raise UsageError(f"max must be a positive int, got {max!r}")
        self._check_open("receive")
        self.acknowledge()
        if not self._ready:
            while not self._ready:
                await self._pump()
        else:
            if self._acks and trio.current_time() - self._acks_since > ACK_INTERVAL:
                await self._flush_acks()
            await trio.lowlevel.checkpoint()
        ready = self._ready
        batch = [ready.popleft() for _ in range(min(max, len(ready)))]
        self._counts["received"] += len(batch)
        if self._durable:
            self._current = [msg for msg, _ in batch]
        return batch

    def __aiter__(self) -> BusSubscription:
        return self

    async def __anext__(self) -> BusItem:
        return (await self.receive_message())[1]

    def acknowledge(self) -> None:
        """Done with everything returned so far (durable): it is acknowledged with the next
        pull, or when the block is left. Without it, the next `receive_*` call says so."""
        self._check_open("acknowledge")
        current, self._current = self._current, []
        for msg in current:
            self._ack(msg.stream_seq)

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise UsageError(
                f"{what} after the consumer's block: it is closed (what it had is acknowledged "
                "or given back); open a new one with gatetrio.nats.open_consumer()"
            )

    def _ack(self, stream_seq: int) -> None:
        reply = self._unacked.pop(stream_seq, None)
        if reply:
            if not self._acks:
                self._acks_since = trio.current_time()
            self._acks.append(reply)

    async def _flush_acks(self) -> None:
        acks, self._acks = self._acks, []
        self._counts["acks"] += len(acks)
        await self._puller.send(acks)

    async def _pump(self) -> None:
        """One pull: send the acks, take what arrived, release what is due."""
        seq = self._seq
        now = trio.current_time()
        wait = FETCH_WAIT
        deadline = self._next_deadline()
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - now))
        acks, self._acks = self._acks, []
        try:
            msgs = await self._puller.fetch(wait, acks)
        except BaseException:
            self._acks[:0] = acks  # maybe not sent: again with the next pull (twice is harmless)
            raise
        self._counts["acks"] += len(acks)
        now = trio.current_time()
        out: list[Released] = []
        for msg in msgs:
            self._take(msg, now, out)
        if seq is not None:
            if self._gate_open(now):
                seq.expire(now, out)
            if seq.troubles() != self._troubles:
                self._report(seq.troubles())
        self._ready.extend(out)

    def _report(self, troubles: tuple[int, int, int]) -> None:
        """Say it when events could not be put in order: the first time, then every 1000."""
        before, self._troubles = sum(self._troubles), troubles
        total = sum(troubles)
        if before == 0 or total // 1000 != before // 1000:
            log.warning(
                "NATS consumer on %s: events not in the exchange's order so far: %d late, "
                "%d gaps (a predecessor that never came), %d let go by a full window "
                "(Reorder.window / max_held)",
                self._puller.spec.stream,
                *troubles,
            )

    def _next_deadline(self) -> float | None:
        if self._gate is not None:
            return self._gate[0]
        return self._seq.next_deadline() if self._seq is not None else None

    def _gate_open(self, now: float) -> bool:
        gate = self._gate
        if gate is not None and now < gate[0] and gate[1] > 0:
            return False
        self._gate = None
        return True

    def _repeat(self, stream_seq: int) -> bool:
        """Whether this stream sequence was received already (and remember it if not)."""
        seen = self._seen
        if seen and stream_seq <= seen[-1]:
            at = bisect.bisect_left(seen, stream_seq)
            if at < len(seen) and seen[at] == stream_seq:
                return True
            seen.insert(at, stream_seq)  # a redelivery of a message this reader never had
        else:
            seen.append(stream_seq)
        if len(seen) >= 2 * SEQ_MEMORY:
            del seen[:SEQ_MEMORY]
        return False

    def _take(self, msg: BusMessage, now: float, out: list[Released]) -> None:
        counts = self._counts
        counts["messages"] += 1
        stream_seq = msg.stream_seq
        self._last_seq = max(self._last_seq, stream_seq)
        if msg.delivered > 1:
            counts["redeliveries"] += 1
            if self._gate is not None:
                self._gate = (self._gate[0], self._gate[1] - 1)
        if stream_seq and self._repeat(stream_seq):
            counts["repeats_dropped"] += 1
            if self._durable and stream_seq not in self._unacked:
                self._unacked[stream_seq] = msg.reply  # done long ago: acknowledge again
                self._ack(stream_seq)
            return
        if self._durable and msg.reply:
            self._unacked[stream_seq] = msg.reply
        try:
            item = decode_payload(msg.data)
        except ProtocolError:
            counts["malformed"] += 1
            self._ack(stream_seq)
            return
        seq = self._seq
        if seq is None:
            out.append((msg, item))
            return
        kind, key, own_prev = sequence(item)
        prev = own_prev if kind is Kind.RANGE else msg.prev
        verdict = seq.feed(self._group(msg.subject), kind, key, prev, (msg, item), now=now, out=out)
        if verdict is Verdict.LATE:
            out[-1] = (attrs.evolve(msg, late=True), item)
        elif verdict is not Verdict.ACCEPTED:
            self._ack(stream_seq)

    async def close(self, *, clean: bool) -> None:
        """Send what is acknowledged (and, leaving cleanly, the last item delivered too), and
        give back what was fetched but not delivered. Shielded, bounded by the link's own
        timeouts."""
        with trio.CancelScope(shield=True):
            if clean:  # else what is being processed is given back with the rest
                self.acknowledge()
            self._closed = True
            self._current = []
            # Stop pulling first: a pull request still open would take the messages given
            # back below, for a reader that is gone (they would come again after ack_wait).
            await self._puller.stop()
            if self._acks:
                await self._flush_acks()
            if self._unacked:  # held or buffered: the next reader gets them at once
                giveback = list(self._unacked.values())
                self._unacked.clear()
                await self._puller.send(giveback, nak=True)


def check_subjects(subjects: object) -> tuple[str, ...]:
    if isinstance(subjects, str):
        subjects = [subjects]
    if (
        not isinstance(subjects, list | tuple)
        or not subjects
        or not all(isinstance(s, str) and s and " " not in s for s in subjects)
    ):
        raise UsageError(f"subjects must be NATS subjects like 'gate.futures.>', got {subjects!r}")
    return tuple(subjects)


def feed_spec(
    *,
    stream: str,
    subjects: tuple[str, ...],
    start: object,
    durable: str | None,
    shared: bool,
    ack_wait: float,
    batch: int,
    reorder: Reorder | None,
) -> FeedSpec:
    """Check `open_consumer`'s arguments (a bad one raises here, before connecting)."""
    if not isinstance(stream, str) or not _NAME.fullmatch(stream):
        raise UsageError(f"stream must be a JetStream stream name like GATE_FUTURES, {stream!r}")
    if durable is not None and (not isinstance(durable, str) or not _NAME.fullmatch(durable)):
        raise UsageError(
            f"durable must be a consumer name of letters, digits, '-' and '_', got {durable!r}"
        )
    if shared and durable is None:
        raise UsageError("shared=True splits a durable consumer among workers: name it (durable=)")
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
        raise UsageError(f"batch must be an int from 1 to 10000, got {batch!r}")
    if isinstance(ack_wait, bool) or not isinstance(ack_wait, int | float) or not ack_wait >= 1:
        raise UsageError(f"ack_wait must be seconds >= 1, got {ack_wait!r}")
    if reorder is not None and not isinstance(reorder, Reorder):
        raise UsageError(f"reorder must be a gatetrio.nats.Reorder or None, got {reorder!r}")
    held = reorder.max_held if reorder is not None else 0
    return FeedSpec(
        stream=stream,
        subjects=subjects,
        start=parse_start(start),
        durable=durable,
        shared=shared,
        ack_wait=float(ack_wait),
        max_ack_pending=held + 4 * batch,
        batch=batch,
    )


@contextlib.asynccontextmanager
async def open_subscription(
    nats: NatsOptions | str | Sequence[str],
    spec: FeedSpec,
    *,
    reorder: Reorder | None,
    group: Callable[[str], str] = _same_subject,
) -> AsyncIterator[BusSubscription]:
    """A `BusSubscription` for `spec` (checked): connect, attach, read; close on exit."""
    options = nats_options(nats)
    if spec.shared:
        reorder = None  # a worker gets some of each subject's events: nothing to order by
    async with open_asyncio_thread() as thread:
        link = NatsLink(options)
        try:
            await thread.run(link.connect)
            sub: BusSubscription | None = None
            puller = _Puller(thread, link, spec, lambda: sub.resume_point() if sub else None)
            try:
                attached = await puller.attach()
                sub = BusSubscription(puller, reorder=reorder, group=group)
                if spec.durable is not None and not spec.shared:
                    sub.hold_for_redeliveries(attached.ack_pending, spec.ack_wait)
                clean = False
                try:
                    yield sub
                    clean = True
                finally:
                    await sub.close(clean=clean)
            finally:
                await puller.close()
        finally:
            with trio.CancelScope(shield=True):
                await thread.run(link.close)


@contextlib.asynccontextmanager
async def open_consumer(
    nats: NatsOptions | str | Sequence[str],
    subjects: Sequence[str],
    *,
    stream: str = DEFAULT_STREAM,
    start: object = "new",
    durable: str | None = None,
    shared: bool = False,
    ack_wait: float = ACK_WAIT,
    reorder: Reorder | None = Reorder(),  # noqa: B008 - frozen, shared safely
    batch: int = FETCH_BATCH,
) -> AsyncIterator[BusSubscription]:
    """Read the items published under `subjects` (wildcards allowed) from `stream`.

    Args:
        start: where a new consumer starts: "new" (what is published from now on), "all" (the
            stream's whole history), a stream sequence, or a time (an aware `datetime`, or
            ISO 8601 text with its offset). A durable that exists resumes where it stopped.
        durable: keep this reader's place on the server under this name (see the module
            doc): `async with` it again, in this or another process, to go on exactly there.
        shared: with `durable`, workers that open the same name split its items, each to
            one of them (arrival order; no re-sequencing).
        ack_wait: seconds JetStream waits for a durable's acknowledgement before delivering
            a message again (to this reader, or another worker).
        reorder: the re-sequencing window (`Reorder`): each subject's items come out in the
            exchange's order; None delivers in stream order.

    Raises `NatsUnavailable` if NATS cannot be reached at start, `NatsError` if a durable of
    that name exists with other subjects or mode; later losses are recovered. Leaving the
    block cancels nothing the server keeps: a durable stays until deleted
    (``nats consumer rm STREAM NAME``).
    """
    spec = feed_spec(
        stream=stream,
        subjects=check_subjects(subjects),
        start=start,
        durable=durable,
        shared=shared,
        ack_wait=ack_wait,
        batch=batch,
        reorder=reorder,
    )
    # no task here, so no group of ours: a group that comes out is the block's own, unchanged
    async with open_subscription(nats, spec, reorder=reorder) as sub:
        yield sub
