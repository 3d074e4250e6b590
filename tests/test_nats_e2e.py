"""gatetrio.nats against a real nats-server (single node): publish from the fake, consume.

Real time throughout (nats-server is a real process); every test is bounded by `fail_after`,
and waits on events or on data arriving, never on a guessed sleep.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import pytest
import trio

pytest.importorskip("nats")

import gatetrio
from gatetrio import channels
from gatetrio.nats import (
    BufferPolicy,
    PublisherEventKind,
    StreamSettings,
    open_consumer,
    open_order_book,
    open_publisher,
)
from gatetrio.testing import FakeGateServer, MarketOptions

from .helpers import Recording, deadline
from .nats_server import NatsCluster, free_port, nats_cluster

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

    from gatetrio.nats import Publisher, PublisherStatistics

URL = "wss://fx-ws.gateio.ws/v4/ws/usdt"
TRADES = "gate.futures.usdt.trades.BTC_USDT"


@pytest.fixture
def nats_node(tmp_path: Path) -> Iterator[NatsCluster]:
    with nats_cluster(tmp_path, size=1) as cluster:
        yield cluster


@contextlib.asynccontextmanager
async def fake_exchange() -> AsyncIterator[FakeGateServer]:
    server = FakeGateServer(seed=7, market=MarketOptions(obu_full_every=0))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        yield server
        nursery.cancel_scope.cancel()


def collector(server: FakeGateServer) -> contextlib.AbstractAsyncContextManager[gatetrio.Client]:
    return gatetrio.open_client(url=URL, connector=server.connector, wall_clock=server.wall_time)


async def record_trades(
    client: gatetrio.Client, into: Recording[int], *, task_status: trio.TaskStatus[None]
) -> None:
    async with client.subscribe(channels.trades("BTC_USDT")) as sub:
        task_status.started()
        async for trade in sub:
            into.append(trade.id)


async def consume_trades(url: str, into: list[int], until: int) -> None:
    """Read the stream from its start until trade id `until` is seen."""
    async with open_consumer(url, [TRADES], start="all") as sub:
        async for trade in sub:
            assert isinstance(trade, gatetrio.Trade)
            into.append(trade.id)
            if trade.id >= until:
                return


async def test_publish_consume_every_trade_once_and_exact_book(nats_node: NatsCluster) -> None:
    url = nats_node.urls[0]
    truth = Recording[int]()
    with trio.fail_after(60):
        async with (
            fake_exchange() as server,
            trio.open_nursery() as nursery,
            collector(server) as witness,
            collector(server) as c1,
            collector(server) as c2,
        ):
            await nursery.start(record_trades, witness, truth)
            async with open_publisher(c1, url) as p1, open_publisher(c2, url) as p2:
                for publisher in (p1, p2):  # two redundant collectors, same contracts
                    await publisher.add(channels.trades("BTC_USDT"))
                    await publisher.add_book("BTC_USDT", level=50, snapshot_every=0.5)
                await truth.wait_until(lambda ids: len(ids) >= 30, "30 trades at the exchange")
                # a consumer joining late builds the exact book from the latest snapshot
                async with open_order_book(url, "BTC_USDT", level=50) as live:
                    await live.wait_ready()
                    for _ in range(20):
                        update_id = await live.wait_update()
                        state = server.book_at("BTC_USDT", update_id, depth=50)
                        assert live.book.bids(50) == list(state.bids)
                        assert live.book.asks(50) == list(state.asks)
                    stats = live.statistics()
                    assert stats.gaps == 0
                    assert stats.method == "nats"
                await p1.flush()
                await p2.flush()
                last = truth.items[-1]
                s1, s2 = p1.statistics(), p2.statistics()
            nursery.cancel_scope.cancel()
        seen: list[int] = []
        await consume_trades(url, seen, until=last)
    assert len(seen) == len(set(seen)), "a trade id appeared twice in the stream"
    window = [t for t in truth.items if seen[0] <= t <= last]
    assert sorted(seen) == window
    # both collectors published everything; the stream kept one copy of each
    for s in (s1, s2):
        assert s.dropped == 0
        assert s.published + s.duplicates + s.buffered == s.enqueued
    assert s1.duplicates + s2.duplicates > 0


async def wait_event(events: trio.MemoryReceiveChannel[object], kind: PublisherEventKind) -> None:
    with deadline(f"publisher event {kind.name}", 30):
        async for event in events:
            if getattr(event, "kind", None) is kind:
                return
    pytest.fail(f"the publisher's events ended before {kind.name}")


async def reaches(
    publisher: Publisher, condition: Callable[[PublisherStatistics], bool], what: str
) -> None:
    with deadline(what, 30):
        await publisher.wait_statistics(condition)


async def test_nats_down_at_start_and_mid_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from .nats_server import NatsNode, nats_server_binary

    binary = nats_server_binary()
    assert binary is not None
    node = NatsNode(binary, tmp_path, name="late")
    caplog.set_level(logging.WARNING, logger="gatetrio.nats")
    try:
        with trio.fail_after(60):
            async with (
                fake_exchange() as server,
                collector(server) as client,
                open_publisher(
                    client, node.url, buffer=40, policy=BufferPolicy.DROP_OLDEST
                ) as publisher,
                publisher.events() as events,
            ):
                await publisher.add_book("BTC_USDT", level=50, snapshot_every=0.5)
                # NATS is not there: the collector keeps collecting into its buffer
                await wait_event(events, PublisherEventKind.NATS_UNAVAILABLE)
                await wait_event(events, PublisherEventKind.BUFFER_FULL)
                await reaches(publisher, lambda s: s.dropped > 0, "a message dropped")
                assert client.statistics().connected
                node.start()
                await wait_event(events, PublisherEventKind.NATS_CONNECTED)
                await reaches(publisher, lambda s: s.published >= 40, "40 messages published")
                # mid-run: the node dies, the buffer policy applies again, then it returns
                node.stop()
                await wait_event(events, PublisherEventKind.NATS_DISCONNECTED)
                before = publisher.statistics()
                await reaches(publisher, lambda s: s.dropped > before.dropped, "one more dropped")
                node.start()
                await wait_event(events, PublisherEventKind.NATS_CONNECTED)
                await reaches(
                    publisher, lambda s: s.published > before.published + 40, "40 more published"
                )
                stats = publisher.statistics()
                assert client.statistics().reconnects == 0  # the exchange side never noticed
                assert stats.disconnects == 1
                assert stats.connect_failures >= 1
                assert stats.dropped > before.dropped
                assert (
                    stats.published + stats.duplicates + stats.dropped + stats.buffered
                    == stats.enqueued
                )
    finally:
        node.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("NATS unavailable" in m for m in messages)
    assert any("buffer full" in m for m in messages)
    assert any("disconnected" in m for m in messages)


async def test_fail_policy_raises_buffer_full(tmp_path: Path) -> None:
    unreachable = f"nats://127.0.0.1:{free_port()}"
    with trio.fail_after(30):
        async with fake_exchange() as server:
            with pytest.raises(gatetrio.nats.PublishBufferFull) as raised:
                async with (
                    collector(server) as client,
                    open_publisher(
                        client, unreachable, buffer=5, policy=BufferPolicy.FAIL
                    ) as publisher,
                ):
                    await publisher.add_book("BTC_USDT", level=50)
                    await trio.sleep_forever()
    assert raised.value.capacity == 5


async def stream_config(url: str, name: str) -> object:
    from gatetrio.nats._bridge import NatsLink, NatsOptions, open_asyncio_thread

    async with open_asyncio_thread() as thread:
        link = NatsLink(NatsOptions(servers=url))
        await thread.run(link.connect)
        try:
            assert link.js is not None
            js = link.js
            info = await thread.run(lambda: js.stream_info(name))
        finally:
            await thread.run(link.close)
    return info.config


async def test_stream_setup_is_idempotent_and_updates(nats_node: NatsCluster) -> None:
    url = nats_node.urls[0]
    with trio.fail_after(30):
        async with fake_exchange() as server, collector(server) as client:
            for window in (60.0, 60.0, 30.0):
                settings = StreamSettings(duplicate_window=window, max_age=3600.0, max_bytes=10**8)
                async with open_publisher(client, url, stream=settings) as publisher:
                    await publisher.wait_ready()
                config = await stream_config(url, "GATE_FUTURES")
                assert getattr(config, "duplicate_window", None) == window
                assert getattr(config, "max_age", None) == 3600.0
                assert getattr(config, "max_bytes", None) == 10**8
                assert getattr(config, "subjects", None) == ["gate.futures.>"]
