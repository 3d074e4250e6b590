"""Redundant collectors on a 3-node JetStream cluster (R3): lose a collector and a node mid-run.

Consumers must still see every trade id exactly once and a bus book that is exact or resynced;
the surviving publisher counts what it could not publish and recovers when the node returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

pytest.importorskip("nats")

import gatetrio
from gatetrio import channels
from gatetrio.nats import StreamSettings, open_order_book, open_publisher

from .helpers import Recording, deadline
from .nats_server import nats_cluster
from .test_nats_e2e import TRADES, collector, consume_trades, fake_exchange, record_trades

if TYPE_CHECKING:
    from pathlib import Path

    from gatetrio.nats import Publisher, PublisherStatistics

pytestmark = pytest.mark.slow


async def run_collector(
    client: gatetrio.Client,
    urls: list[str],
    out: list[Publisher],
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    settings = StreamSettings(replicas=3, max_age=600.0)
    async with open_publisher(client, urls, stream=settings) as publisher:
        await publisher.wait_ready()
        await publisher.add(channels.trades("BTC_USDT"))
        await publisher.add_book("BTC_USDT", level=50, snapshot_every=0.5)
        out.append(publisher)
        task_status.started()
        await trio.sleep_forever()


async def wait_published(publisher: Publisher, more_than: int) -> PublisherStatistics:
    with deadline(f"more than {more_than} messages published"):
        return await publisher.wait_statistics(lambda s: s.published + s.duplicates > more_than)
    raise AssertionError  # unreachable: `deadline` fails the test  # pragma: no cover


async def test_lose_a_collector_and_a_node(tmp_path: Path) -> None:
    truth = Recording[int]()
    with nats_cluster(tmp_path, size=3) as cluster, trio.fail_after(90):
        urls = cluster.urls
        async with (
            fake_exchange() as server,
            trio.open_nursery() as nursery,
            collector(server) as witness,
            collector(server) as c1,
            collector(server) as c2,
        ):
            await nursery.start(record_trades, witness, truth)
            publishers: list[Publisher] = []
            scope1 = trio.CancelScope()

            async def first(*, task_status: trio.TaskStatus[None]) -> None:
                with scope1:
                    await run_collector(c1, urls, publishers, task_status=task_status)

            await nursery.start(first)
            await nursery.start(run_collector, c2, urls, publishers)
            p2 = publishers[1]
            async with open_order_book(urls[1:], "BTC_USDT", level=50) as live:
                await live.wait_ready()
                await wait_published(p2, 50)
                scope1.cancel()  # collector 1 dies
                cluster.nodes[0].stop()  # and so does a NATS node
                before = p2.statistics()
                await wait_published(p2, before.published + before.duplicates + 100)
                # the book followed through both losses: exact, or resynced and exact again
                for _ in range(10):
                    update_id = await live.wait_update()
                    state = server.book_at("BTC_USDT", update_id, depth=50)
                    assert live.book.bids(50) == list(state.bids)
                    assert live.book.asks(50) == list(state.asks)
                book_stats = live.statistics()
                assert book_stats.ready
                assert book_stats.gaps == book_stats.resyncs
                cluster.nodes[0].start()  # the node returns; publishing carries on
                cluster.nodes[0].wait_healthy()
                middle = p2.statistics()
                await wait_published(p2, middle.published + middle.duplicates + 50)
            await p2.flush()
            last = truth.items[-1]
            stats = p2.statistics()
            nursery.cancel_scope.cancel()
        seen: list[int] = []
        with trio.fail_after(30):
            await consume_trades(urls[0], seen, until=last)
    assert len(seen) == len(set(seen)), "a trade id appeared twice in the stream"
    assert sorted(seen) == [t for t in truth.items if seen[0] <= t <= last]
    assert stats.dropped == 0
    assert stats.published + stats.duplicates + stats.buffered == stats.enqueued
    assert TRADES.endswith("BTC_USDT")
