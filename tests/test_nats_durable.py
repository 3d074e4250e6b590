"""Durable and shared consumers, and where a consumer starts: against a real nats-server.

One node for the module (`nats_url`); each test has a stream and prefix of its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
import trio

pytest.importorskip("nats")

import gatetrio
from gatetrio.nats import NatsError, Reorder, envelope, open_consumer

from .nats_server import Names, nats_url
from .test_nats_e2e import _config, js_call, publish_raw

if TYPE_CHECKING:
    from gatetrio.nats import BusMessage, BusSubscription
    from gatetrio.nats._wire import BusItem, Envelope

__all__ = ["nats_url"]  # the module-scoped node fixture, used by name


def trades(names: Names, ids: range, contract: str = "BTC_USDT") -> list[Envelope]:
    out = []
    for trade_id in ids:
        trade = gatetrio.Trade(id=trade_id, contract=contract, price=Decimal(1), size=1)
        prev = trade_id - 1 if trade_id > ids.start else None
        out.append(envelope(trade, settle="usdt", prefix=names.prefix, prev=prev))
    return out


async def setup(url: str) -> Names:
    names = Names()
    config = _config(names.stream, [f"{names.prefix}.>"], "memory", 60.0)
    await js_call(url, lambda js: js.add_stream(config))
    return names


def trade_ids(batch: list[tuple[BusMessage, BusItem]]) -> list[int]:
    out = []
    for _, item in batch:
        assert isinstance(item, gatetrio.Trade)
        out.append(item.id)
    return out


async def take(sub: BusSubscription, n: int) -> list[tuple[BusMessage, int]]:
    out = []
    for _ in range(n):
        msg, item = await sub.receive_message()
        assert isinstance(item, gatetrio.Trade)
        out.append((msg, item.id))
    return out


async def test_a_durable_consumer_resumes_exactly_where_it_stopped(nats_url: str) -> None:
    names = await setup(nats_url)
    subjects = [names.subject("trades")]
    got: list[int] = []
    with trio.fail_after(30):
        await publish_raw(nats_url, trades(names, range(1, 101)))
        async with open_consumer(nats_url, subjects, stream=names.stream, durable="r1") as sub:
            with trio.move_on_after(0.3) as idle:  # the first run starts at "new": nothing yet
                await sub.receive_message()
            assert idle.cancelled_caught
    with trio.fail_after(30):
        # ... it exists now, at the stream's end; what is published while it is away waits
        await publish_raw(nats_url, trades(names, range(101, 201)))
        for stop_after in (30, 45, 25):
            async with open_consumer(
                nats_url, subjects, stream=names.stream, durable="r1", start="all"
            ) as sub:
                run = 0
                async for trade in sub:
                    assert isinstance(trade, gatetrio.Trade)
                    got.append(trade.id)
                    run += 1
                    if run == stop_after:
                        break  # leaving cleanly acknowledges what was had, nothing more
            stats = sub.statistics()
            assert stats.acks == stop_after
            assert stats.reorder is not None
            assert stats.reorder.late == stats.reorder.duplicates == 0
    assert got == list(range(101, 201))


async def test_what_was_being_processed_when_the_block_raised_comes_again(nats_url: str) -> None:
    names = await setup(nats_url)
    subjects = [names.subject("trades")]
    with trio.fail_after(30):
        await publish_raw(nats_url, trades(names, range(1, 51)))
        with pytest.raises(ZeroDivisionError):
            async with open_consumer(
                nats_url, subjects, stream=names.stream, durable="r2", start="all"
            ) as sub:
                first = await take(sub, 10)
                raise ZeroDivisionError  # while processing the tenth
        async with open_consumer(
            nats_url, subjects, stream=names.stream, durable="r2", start="all"
        ) as sub:
            second = await take(sub, 41)
    assert [i for _, i in first] == list(range(1, 11))
    assert [i for _, i in second] == list(range(10, 51))
    # the first reader had fetched them all: each was given back at once, not after ack_wait
    assert all(msg.redelivered for msg, _ in second)


async def test_where_a_consumer_starts(nats_url: str) -> None:
    names = await setup(nats_url)
    subjects = [names.subject("trades")]
    with trio.fail_after(30):
        await publish_raw(nats_url, trades(names, range(1, 21)))
        async with open_consumer(nats_url, subjects, stream=names.stream, start=7) as sub:
            (msg, trade_id), *_ = await take(sub, 3)
        assert (msg.stream_seq, trade_id) == (7, 7)
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        middle = epoch + dt.timedelta(microseconds=msg.time_ns // 1000)  # at or just before 7
        await trio.sleep(0.05)
        after = dt.datetime.now(tz=dt.UTC)
        await publish_raw(nats_url, trades(names, range(21, 26)))
        for case, (start, first_id) in enumerate(
            (
                (middle, 7),
                (middle.isoformat(), 7),
                (after.isoformat().replace("+00:00", "Z"), 21),
                ("12", 12),
                ("all", 1),
            )
        ):
            async with open_consumer(
                nats_url, subjects, stream=names.stream, start=start, durable=f"s{case}"
            ) as sub:
                (_, got), *_ = await take(sub, 1)
            assert got == first_id, start
    for bad in ("soon", 0, -3, True, dt.datetime(2026, 1, 1), "2026-01-01T00:00:00"):  # noqa: DTZ001
        with pytest.raises(gatetrio.UsageError, match="start must be"):
            async with open_consumer(nats_url, subjects, start=bad):
                pass  # pragma: no cover


async def test_a_shared_durable_splits_events_among_workers(nats_url: str) -> None:
    """Three workers on one shared durable: each event to exactly one of them; a worker that
    fails gives back what it held, and the others get it."""
    names = await setup(nats_url)
    subjects = [names.subject("trades")]
    per_worker: dict[int, list[int]] = {0: [], 1: [], 2: []}
    total = 400

    def fail() -> None:
        raise ValueError("worker 0 fails")

    async def worker(index: int, done: trio.Event) -> None:
        try:
            async with open_consumer(
                nats_url,
                subjects,
                stream=names.stream,
                durable="pool",
                shared=True,
                start="all",
                batch=16,
            ) as sub:
                async for trade in sub:
                    assert isinstance(trade, gatetrio.Trade)
                    if index == 0 and len(per_worker[0]) == 20:
                        fail()  # before it processed this one
                    per_worker[index].append(trade.id)
                    if sum(map(len, per_worker.values())) == total:
                        done.set()
                    await trio.sleep(0.001)  # each takes a little time
        except ValueError:
            pass

    with trio.fail_after(60):
        await publish_raw(nats_url, trades(names, range(1, total + 1)))
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            for index in per_worker:
                nursery.start_soon(worker, index, done)
            await done.wait()
            nursery.cancel_scope.cancel()
    everything = sorted(i for ids in per_worker.values() for i in ids)
    assert everything == list(range(1, total + 1)), "each event to exactly one worker"
    assert len(per_worker[0]) == 20
    assert per_worker[1]
    assert per_worker[2]


async def test_a_durable_with_other_settings_or_another_reader_is_refused(nats_url: str) -> None:
    names = await setup(nats_url)
    trades_subject, books = names.subject("trades"), names.subject("obu_50")
    with trio.fail_after(30):
        async with open_consumer(nats_url, [trades_subject], stream=names.stream, durable="x"):
            # a second reader of a one-reader durable: it would silently get half the events
            with pytest.raises(NatsError, match="another process"):
                async with open_consumer(
                    nats_url, [trades_subject], stream=names.stream, durable="x"
                ):
                    pass  # pragma: no cover
        with pytest.raises(NatsError, match=f"it reads {trades_subject}"):
            async with open_consumer(nats_url, [books], stream=names.stream, durable="x"):
                pass  # pragma: no cover
        with pytest.raises(NatsError, match="one reader's"):
            async with open_consumer(
                nats_url, [trades_subject], stream=names.stream, durable="x", shared=True
            ):
                pass  # pragma: no cover
    with pytest.raises(gatetrio.UsageError, match="name it"):
        async with open_consumer(nats_url, [books], shared=True):
            pass  # pragma: no cover
    with pytest.raises(gatetrio.UsageError, match="durable must be"):
        async with open_consumer(nats_url, [books], durable="a.b"):
            pass  # pragma: no cover


READER = textwrap.dedent(
    """
    import sys, trio
    from gatetrio.nats import open_consumer

    async def main(url, stream, subject):
        async with open_consumer(
            url, [subject], stream=stream, durable="k", start="all", ack_wait=2
        ) as sub:
            while True:
                msg, trade = await sub.receive_message()
                print(trade.id, int(msg.redelivered), flush=True)
                await trio.sleep(0.005)  # processing takes a while

    trio.run(main, *sys.argv[1:])
    """
)


class Reader:
    """The reader program in a process of its own; its lines, read without blocking trio."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._pending = b""

    async def raw(self, n: float) -> list[bytes]:
        """`n` lines (or, n = inf, every line until the process is gone)."""
        stdout = self.process.stdout
        assert stdout is not None
        out: list[bytes] = []
        while len(out) < n:
            if b"\n" not in self._pending:
                data = await stdout.receive_some()
                if not data and n == math.inf:
                    return out
                assert data, "the reader ended"
                self._pending += data
                continue
            line, self._pending = self._pending.split(b"\n", 1)
            out.append(line)
        return out

    async def lines(self, n: float) -> list[tuple[int, bool]]:
        """`n` lines of "trade-id redelivered" (n = inf: until the process is gone)."""
        pairs = [line.split() for line in await self.raw(n)]
        return [(int(trade_id), redelivered == b"1") for trade_id, redelivered in pairs]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)


async def reader(url: str, names: Names) -> Reader:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", READER, url, names.stream, names.subject("trades")],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return Reader(process)


@pytest.mark.slow
async def test_a_killed_durable_reader_loses_nothing_and_its_successor_keeps_order(
    nats_url: str,
) -> None:
    """SIGKILL: nothing acknowledged is lost; what the killed reader had not acknowledged comes
    again (flagged), first, in order; then the rest, each once."""
    names = await setup(nats_url)
    with trio.fail_after(60):
        await publish_raw(nats_url, trades(names, range(1, 301)))
        first = await reader(nats_url, names)
        try:
            got1 = await first.lines(120)
        finally:
            first.kill()  # mid-stream: fetched, printed, acknowledged, all at different points
            await first.process.wait()
        got1 += await first.lines(math.inf)  # what it printed before it died
        assert len(got1) < 300
        await publish_raw(nats_url, trades(names, range(301, 351)))
        second = await reader(nats_url, names)
        try:
            printed = got1[-1][0]
            got2: list[tuple[int, bool]] = []
            while not got2 or got2[-1][0] < 350:
                got2 += await second.lines(1)
            repeats = [line for line in got2 if line[0] <= printed]
        finally:
            second.kill()
            await second.process.wait()
    ids1 = [i for i, _ in got1]
    ids2 = [i for i, _ in got2]
    assert ids1 == list(range(1, len(ids1) + 1))
    assert ids2 == sorted(ids2), "in order across the restart"
    assert ids2[-1] == 350
    missing = sorted(set(range(1, 351)) - set(ids1 + ids2))
    assert not missing, (missing, got2[:5])
    assert all(redelivered for _, redelivered in repeats), "a repeat is flagged"
    assert len(repeats) <= 30  # only what had no ack out yet (ACK_INTERVAL at 200 items/s)


async def test_cancelling_a_receive_loses_nothing(nats_url: str) -> None:
    """Cancelled mid-pull again and again (a reader's timeouts): every event still comes,
    once, in order; and a batch reader acknowledges what it says it is done with."""
    names = await setup(nats_url)
    subjects = [names.subject("trades")]
    got: list[int] = []
    timeouts = 0
    with trio.fail_after(60):
        await publish_raw(nats_url, trades(names, range(1, 301)))
        async with open_consumer(
            nats_url, subjects, stream=names.stream, start="all", durable="c", batch=7
        ) as sub:
            attempt = 0
            while len(got) < 300:
                attempt += 1
                with trio.move_on_after(0.002 * (attempt % 4)) as scope:
                    batch = await sub.receive_batch(13)
                    assert len(batch) <= 13
                    for _, item in batch:
                        assert isinstance(item, gatetrio.Trade)
                        got.append(item.id)
                    sub.acknowledge()
                timeouts += scope.cancelled_caught
        stats = sub.statistics()
    assert got == list(range(1, 301))
    assert timeouts > 0
    assert stats.acks == 300
    with pytest.raises(gatetrio.UsageError, match="max must be"):
        await sub.receive_batch(0)


async def test_a_batch_reader_that_raises_mid_batch_acknowledges_none_of_it(
    nats_url: str,
) -> None:
    """Acknowledged is only what the reader said it was done with: a batch it raised in the
    middle of comes again whole, and what waited in the re-sequencing window (never delivered)
    was not acknowledged either."""
    names = await setup(nats_url)
    subjects = [names.subject("trades")]
    # 21 has no predecessor from its collector (say it reconnected): it waits `settle`,
    # long enough for the rest to come; 46 to 60 wait for 45, which is late
    later = trades(names, range(21, 61))
    missing = later.pop(24)
    reorder = Reorder(settle=1.0)
    with trio.fail_after(30):
        await publish_raw(nats_url, trades(names, range(1, 21)))
        with pytest.raises(ZeroDivisionError):
            async with open_consumer(
                nats_url, subjects, stream=names.stream, durable="b", start="all", reorder=reorder
            ) as sub:
                first = await sub.receive_batch(20)
                sub.acknowledge()  # done with 1-20
                await publish_raw(nats_url, later)
                second = await sub.receive_batch(20)
                assert sub.statistics().reorder.held == 15  # type: ignore[union-attr]
                raise ZeroDivisionError  # while processing 21-40
        assert sub.statistics().acks == 20
        await publish_raw(nats_url, [missing])
        async with open_consumer(
            nats_url, subjects, stream=names.stream, durable="b", start="all"
        ) as sub:
            again = await take(sub, 40)
            with trio.move_on_after(0.3) as idle:  # 1-20 were acknowledged: never again
                await sub.receive_message()
            assert idle.cancelled_caught
    assert trade_ids(first) == list(range(1, 21))
    assert trade_ids(second) == list(range(21, 41))
    assert [i for _, i in again] == list(range(21, 61))


SHARED_WORKER = textwrap.dedent(
    """
    import sys, trio
    from gatetrio.nats import open_consumer

    async def main(url, stream, subject):
        async with open_consumer(
            url, [subject], stream=stream, durable="team", shared=True, start="all",
            ack_wait=1, batch=8,
        ) as sub:
            while True:
                msg, trade = await sub.receive_message()
                print(trade.id, flush=True)
                await trio.sleep(0.01)

    trio.run(main, *sys.argv[1:])
    """
)


@pytest.mark.slow
async def test_a_killed_shared_worker_leaves_its_events_to_the_others(nats_url: str) -> None:
    """SIGKILL one of two workers of a shared durable: what it had not acknowledged goes to the
    other after ack_wait (flagged), and every event reaches a worker; only what the killed one
    may have processed without its ack leaving comes twice."""
    names = await setup(nats_url)
    subject = names.subject("trades")
    everything = set(range(1, 301))
    mine: list[tuple[int, bool]] = []
    theirs: list[int] = []
    done = trio.Event()

    async def worker() -> None:
        async with open_consumer(
            nats_url,
            [subject],
            stream=names.stream,
            durable="team",
            shared=True,
            ack_wait=1,
            batch=8,
        ) as sub:
            while True:
                msg, trade = await sub.receive_message()
                assert isinstance(trade, gatetrio.Trade)
                mine.append((trade.id, msg.redelivered))
                if {i for i, _ in mine} | set(theirs) >= everything:
                    done.set()
                await trio.sleep(0.01)

    with trio.fail_after(60):
        await publish_raw(nats_url, trades(names, range(1, 301)))
        other = Reader(
            await trio.lowlevel.open_process(
                [sys.executable, "-c", SHARED_WORKER, nats_url, names.stream, subject],
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        )
        try:
            theirs += map(int, await other.raw(20))  # it made the durable and reads
            async with trio.open_nursery() as nursery:
                nursery.start_soon(worker)
                theirs += map(int, await other.raw(20))
                other.kill()  # a batch fetched: some printed, some acknowledged, some neither
                await other.process.wait()
                theirs += map(int, await other.raw(math.inf))
                await done.wait()
                nursery.cancel_scope.cancel()
        finally:
            with contextlib.suppress(ProcessLookupError):
                other.kill()
            await other.process.wait()
    ids = [i for i, _ in mine]
    assert set(ids) | set(theirs) == everything
    assert len(ids) == len(set(ids)), "each event once to this worker"
    twice = set(ids) & set(theirs)
    assert all(redelivered for i, redelivered in mine if i in twice), "a repeat is flagged"
    assert len(twice) <= 16  # at most what the killed one had without its ack out
    assert any(redelivered for _, redelivered in mine), "the killed one's unacked came here"
