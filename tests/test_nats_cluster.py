"""The bus under chaos: a 3-node JetStream cluster (R3), two redundant collectors, one of them
killed and restarted, the stream's leader node killed and restarted, a durable consumer killed
and restarted. The consumer must see every trade exactly once, in each contract's order, and
the bus book must equal the exchange's book at every update it shows, never resyncing.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest
import trio

pytest.importorskip("nats")

import gatetrio
from gatetrio import channels
from gatetrio.nats import StreamSettings, open_consumer, open_order_book, open_publisher

from .helpers import Recording, deadline
from .nats_server import Names, nats_cluster
from .test_nats_e2e import _config, collector, fake_exchange, js_call

if TYPE_CHECKING:
    from pathlib import Path

    from gatetrio.nats import Publisher, PublisherStatistics

pytestmark = pytest.mark.slow

CONTRACTS = ("BTC_USDT", "ETH_USDT")


def _count(publisher: Publisher) -> int:
    stats = publisher.statistics()
    return stats.published + stats.duplicates


def _more(mark: int, stats: PublisherStatistics) -> bool:
    return stats.published + stats.duplicates >= mark


async def make_stream(url: str, config: object) -> None:
    """Add a stream once the new cluster can place it (a request before then goes unanswered;
    adding the same stream again is a no-op)."""
    from nats.errors import TimeoutError as NatsTimeout

    with deadline("the cluster to take a stream", 60):
        while True:
            try:
                await js_call(url, lambda js: js.add_stream(config))
            except NatsTimeout:
                await trio.sleep(0.2)
            else:
                return


async def test_chaos_every_trade_once_in_order_and_the_book_exact(tmp_path: Path) -> None:
    names = Names()
    # the operator's stream, made by hand (R3, a 60 s duplicate window); the collectors ask for
    # the defaults (R1, 120 s): they say what differs, and publish into it as it is
    settings = StreamSettings.for_prefix(names.prefix, name=names.stream)
    hand = _config(names.stream, [f"{names.prefix}.>"], "file", 60.0, replicas=3)
    truth: dict[str, list[int]] = {c: [] for c in CONTRACTS}
    seen = Recording[gatetrio.Trade]()
    checked = {"updates": 0, "mismatches": 0}

    async def witness(client: gatetrio.Client, *, task_status: trio.TaskStatus[None]) -> None:
        async with client.subscribe(channels.trades(*CONTRACTS)) as sub:
            task_status.started()
            async for trade in sub:
                truth[trade.contract].append(trade.id)

    async def run_collector(
        server: gatetrio.testing.FakeGateServer,
        urls: list[str],
        out: list[Publisher],
        *,
        task_status: trio.TaskStatus[trio.CancelScope],
    ) -> None:
        with trio.CancelScope() as scope:
            async with (
                collector(server) as client,
                open_publisher(
                    client, urls, stream=settings, prefix=names.prefix, wall_clock=server.wall_time
                ) as publisher,
            ):
                await publisher.wait_ready()
                await publisher.add(channels.trades(*CONTRACTS))
                await publisher.add_book("BTC_USDT", snapshot_every=0.5)
                out.append(publisher)
                task_status.started(scope)
                await trio.sleep_forever()

    async def reader(urls: list[str], *, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            async with open_consumer(
                urls,
                [f"{names.prefix}.usdt.trades.>"],
                stream=names.stream,
                durable="chaos",
                start="all",
            ) as sub:
                task_status.started(scope)
                async for trade in sub:
                    assert isinstance(trade, gatetrio.Trade)
                    seen.append(trade)

    async def book_checker(
        server: gatetrio.testing.FakeGateServer,
        urls: list[str],
        *,
        task_status: trio.TaskStatus[object],
    ) -> None:
        async with open_order_book(
            urls, "BTC_USDT", prefix=names.prefix, stream=names.stream
        ) as live:
            await live.wait_ready()
            task_status.started(live)
            async for update_id in live:
                state = server.book_at("BTC_USDT", update_id, depth=50)
                checked["updates"] += 1
                if live.book.bids(50) != list(state.bids) or live.book.asks(50) != list(state.asks):
                    checked["mismatches"] += 1

    with nats_cluster(tmp_path, size=3) as cluster, trio.fail_after(120):
        urls = cluster.urls
        await make_stream(urls[0], hand)
        async with fake_exchange() as server, trio.open_nursery() as nursery:
            async with collector(server) as direct:
                await nursery.start(witness, direct)
                publishers: list[Publisher] = []
                start_collector = functools.partial(run_collector, server, urls, publishers)
                first = await nursery.start(start_collector)
                await nursery.start(start_collector)
                reading = await nursery.start(reader, urls)
                live = await nursery.start(book_checker, server, urls)

                async def progress(n: int = 60) -> None:
                    """Each live collector has published `n` more (or found them there)."""
                    with deadline(f"{n} more messages from each collector", 30):
                        for p in publishers[1:]:
                            await p.wait_statistics(functools.partial(_more, _count(p) + n))

                await progress()
                first.cancel()  # a collector dies...
                await progress()
                await nursery.start(start_collector)  # ... and comes back
                info = await js_call(urls[1], lambda js: js.stream_info(names.stream))
                leader = next(n for n in cluster.nodes if n.name == info.cluster.leader)
                leader.stop()  # the stream's leader node dies
                await progress()
                reading.cancel()  # the durable consumer dies mid-stream...
                await progress(30)
                await nursery.start(reader, urls)  # ... and resumes where it stopped
                leader.start()  # the node comes back
                await trio.to_thread.run_sync(leader.wait_healthy)
                await progress()
                for publisher in publishers[1:]:
                    await publisher.flush()
                last = {c: truth[c][-1] for c in CONTRACTS}
                await seen.wait_until(
                    lambda trades: all(
                        any(t.contract == c and t.id >= last[c] for t in trades[-200:])
                        for c in CONTRACTS
                    ),
                    "the consumer to catch up",
                    within=30,
                )
                book = live.statistics()
                stats = [p.statistics() for p in publishers]
                reports = [p.stream_report for p in publishers]
                info = await js_call(urls[1], lambda js: js.stream_info(names.stream))
            nursery.cancel_scope.cancel()
    for contract in CONTRACTS:
        ids = [t.id for t in seen.items if t.contract == contract]
        assert ids == sorted(set(ids)), f"{contract}: every trade once, in order"
        expected = [t for t in truth[contract] if ids[0] <= t <= last[contract]]
        assert ids[: len(expected)] == expected, f"{contract}: nothing lost"
    assert checked["updates"] > 50
    assert checked["mismatches"] == 0
    assert (book.resyncs, book.gaps) == (0, 0)
    assert (info.config.num_replicas, info.config.duplicate_window) == (3, 60.0)  # unchanged
    for report in reports:
        assert report is not None
        assert not report.created
        assert not report.updated
        assert "replicas 3 (asked 1)" in report.differences
        assert "duplicate window 60s (asked 120s)" in report.differences
    for s in stats:
        assert s.dropped == 0
        assert s.published + s.duplicates + s.buffered == s.enqueued
