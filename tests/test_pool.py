"""The sharded pool over the fake exchange's realistic catalogue, under autojump_clock."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import channels
from gatetrio.recording import EventLine, FrameLine, open_recorder, read_recording
from gatetrio.testing import FakeGateServer
from gatetrio.testing._market import catalogue

from .helpers import client_config


async def _kill_one_shard_and_watch(n_contracts: int, cap: int) -> None:
    specs = catalogue(n_contracts, seed=5)
    gate = FakeGateServer(seed=5, markets={"usdt": specs})
    async with trio.open_nursery() as nursery:
        await nursery.start(gate.run)

        async with gatetrio.open_pool(
            contracts="all",
            listing_fetcher=gate.fetch_contracts,
            streams_per_connection=cap,
            connector=gate.connector,
            config=client_config(),
            wall_clock=gate.wall_time,
        ) as pool:
            listed = pool.contracts
            delisting = {s.name for s in specs if s.in_delisting}
            assert set(listed) == {s.name for s in specs} - delisting
            assert delisting  # the catalogue has some, and they are left out
            seen_after: dict[str, int] = {}
            kill_at = trio.current_time() + 2.0
            events: list[gatetrio.PoolEvent] = []
            async with (
                pool.events() as pool_events,
                pool.subscribe(channels.obu(*listed, level=50), buffer=100_000) as books,
            ):
                n_shards = len(pool.shards)
                assert n_shards == -(-len(listed) // cap)
                assert pool.statistics().streams == tuple(
                    min(cap, len(listed) - i * cap) for i in range(n_shards)
                )

                async def kill() -> None:
                    await trio.sleep_until(kill_at)
                    victim = gate.connections[1]  # shard 1's socket (opened second)
                    gate.drop(victim)

                async def collect_events() -> None:
                    async for event in pool_events:
                        events.append(event)  # noqa: PERF401

                async with trio.open_nursery() as inner:
                    inner.start_soon(kill)
                    inner.start_soon(collect_events)
                    with trio.fail_after(60):
                        async for delta in books:
                            if trio.current_time() > kill_at + 0.5:
                                seen_after[delta.contract] = delta.u
                                if len(seen_after) == len(listed):
                                    break
                    inner.cancel_scope.cancel()
            stats = pool.statistics()
        nursery.cancel_scope.cancel()
    assert set(seen_after) == set(listed)  # every contract kept (or went back to) streaming
    assert [s.reconnects for s in stats.shards] == [int(i == 1) for i in range(n_shards)]
    resubscribed = {
        e.shard
        for e in events
        if e.event is not None and e.event.kind is gatetrio.ClientEventKind.RESUBSCRIBED
    }
    assert resubscribed == {1}
    assert stats.merged.reconnects == 1
    assert stats.merged.messages_received == sum(s.messages_received for s in stats.shards)


async def test_a_dropped_shard_resubscribes_alone(autojump_clock: trio.testing.MockClock) -> None:
    await _kill_one_shard_and_watch(40, cap=12)


async def test_600_contracts_across_shards_survive_one_shard_drop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    await _kill_one_shard_and_watch(600, cap=200)


async def test_the_pool_checks_its_arguments() -> None:
    with pytest.raises(gatetrio.UsageError, match="streams_per_connection"):
        async with gatetrio.open_pool(streams_per_connection=0):
            pass
    with pytest.raises(gatetrio.UsageError, match="contracts"):
        async with gatetrio.open_pool(contracts="some"):
            pass


async def test_subscribe_listed_follows_listings_and_delistings(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = FakeGateServer(seed=2)
    listing: list[dict[str, object]] = [{"name": "BTC_USDT"}, {"name": "ETH_USDT"}]
    async with trio.open_nursery() as nursery:
        await nursery.start(gate.run)

        async def fetch() -> object:
            await trio.lowlevel.checkpoint()
            return list(listing)

        async with (
            gatetrio.open_pool(
                contracts="all",
                listing_fetcher=fetch,
                refresh_interval=10.0,
                streams_per_connection=1,
                connector=gate.connector,
                config=client_config(),
                wall_clock=gate.wall_time,
            ) as pool,
            pool.subscribe_listed(channels.book_ticker, buffer=10_000) as tickers,
        ):
            seen: dict[str, float] = {}
            # at 10 s: SOL listed, ETH being delisted (left out like a delisted one)
            listing[1] = {"name": "ETH_USDT", "in_delisting": True}
            listing.append({"name": "SOL_USDT"})
            with trio.move_on_after(20):
                async for ticker in tickers:
                    seen[ticker.s] = trio.current_time()
            assert pool.contracts == ("BTC_USDT", "SOL_USDT")
            stats = pool.statistics()
        nursery.cancel_scope.cancel()
    start = seen["BTC_USDT"] - 20
    assert seen["BTC_USDT"] > start + 19
    assert seen["ETH_USDT"] < start + 10.5  # unsubscribed at the refresh
    assert start + 10 <= seen["SOL_USDT"] > start + 19
    assert stats.listing_refreshes == 2
    assert stats.streams.count(1) == 2  # BTC and SOL; ETH's stream was released


async def test_a_pool_recording_tells_the_shards_apart(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    gate = FakeGateServer(seed=4, markets={"usdt": catalogue(12, seed=4)})
    async with trio.open_nursery() as nursery:
        await nursery.start(gate.run)
        async with (
            gatetrio.open_pool(
                contracts="all",
                listing_fetcher=gate.fetch_contracts,
                streams_per_connection=4,
                connector=gate.connector,
                config=client_config(),
                wall_clock=gate.wall_time,
            ) as pool,
            open_recorder(pool, tmp_path, wall_clock=gate.wall_time, in_thread=False),
            pool.subscribe(channels.obu(*pool.contracts, level=50)) as books,
        ):
            with trio.move_on_after(3):
                async for _ in books:
                    pass
            shards = len(pool.shards)
        nursery.cancel_scope.cancel()
    lines = list(read_recording(tmp_path))
    frames = [line for line in lines if isinstance(line, FrameLine)]
    assert shards == 3
    assert {line.s for line in frames} == {0, 1, 2}
    for shard in range(3):  # each shard's acks are in its own part of the capture
        acks = [f for f in frames if f.s == shard and '"event":"subscribe"' in f.text]
        assert len(acks) == 1
    kinds = [line.kind for line in lines if isinstance(line, EventLine)]
    assert kinds[0] == "recording_started"
    assert kinds[-1] == "recording_stopped"
