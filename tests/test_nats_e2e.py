"""gatetrio.nats against a real nats-server: publish from the fake, consume, in order.

Real time throughout (nats-server is a real process); every test is bounded by `fail_after`,
and waits on events or on data arriving, never on a guessed sleep. Most tests share one node
(`nats_url`), each with a stream and subject prefix of its own (`Names`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import trio

pytest.importorskip("nats")

import gatetrio
from gatetrio import channels
from gatetrio._core._events import ObuDelta, ObuLevel
from gatetrio.nats import (
    BufferPolicy,
    PublisherEventKind,
    Reorder,
    StreamMismatch,
    StreamSettings,
    envelope,
    open_consumer,
    open_order_book,
    open_publisher,
)
from gatetrio.nats._bridge import NatsLink, NatsOptions, open_asyncio_thread
from gatetrio.nats._wire import Envelope, snapshot_envelope
from gatetrio.testing import FakeGateServer, MarketOptions

from .helpers import Recording, deadline, record_events
from .nats_server import Names, NatsCluster, StallProxy, free_port, nats_cluster, nats_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence
    from pathlib import Path

    from gatetrio.nats import Publisher, PublisherStatistics

__all__ = ["nats_url"]  # the module-scoped node fixture, used by name

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


async def consume_trades(
    url: str | list[str],
    into: list[int],
    until: int,
    *,
    subject: str = TRADES,
    stream: str = "GATE_FUTURES",
) -> None:
    """Read the stream from its start until trade id `until` is seen."""
    async with open_consumer(url, [subject], start="all", stream=stream) as sub:
        async for trade in sub:
            assert isinstance(trade, gatetrio.Trade)
            into.append(trade.id)
            if trade.id >= until:
                return


async def reaches(
    publisher: Publisher, condition: Callable[[PublisherStatistics], bool], what: str
) -> PublisherStatistics:
    with deadline(what, 30):
        return await publisher.wait_statistics(condition)
    raise AssertionError(what)  # pragma: no cover - deadline fails the test first


async def js_call(url: str, call: Any) -> Any:
    """`call(js)` on nats-py's JetStream context, from trio (through gatetrio's bridge)."""
    async with open_asyncio_thread() as thread:
        link = NatsLink(NatsOptions(servers=url))
        await thread.run(link.connect)
        try:
            js = link.js
            return await thread.run(lambda: call(js))
        finally:
            await thread.run(link.close)


async def publish_raw(url: str, envelopes: Sequence[Envelope]) -> None:
    """Put crafted messages in the stream exactly in this order (one batch at a time)."""
    async with open_asyncio_thread() as thread:
        link = NatsLink(NatsOptions(servers=url))
        await thread.run(link.connect)
        try:
            for env in envelopes:
                outcomes = await thread.run(
                    functools.partial(link.publish_batch, [env], ack_wait=5)
                )
                assert outcomes[0].ok, outcomes
        finally:
            await thread.run(link.close)


# --------------------------------------------------------------------- collectors, books


async def test_publish_consume_every_trade_once_and_exact_book(nats_url: str) -> None:
    names = Names()
    stream = StreamSettings.for_prefix(names.prefix, name=names.stream)
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
            publish = functools.partial(
                open_publisher, stream=stream, prefix=names.prefix, wall_clock=server.wall_time
            )
            async with publish(c1, nats_url) as p1, publish(c2, nats_url) as p2:
                for publisher in (p1, p2):  # two redundant collectors, same contracts
                    await publisher.add(channels.trades("BTC_USDT"))
                    await publisher.add_book("BTC_USDT", snapshot_every=0.5)
                await truth.wait_until(lambda ids: len(ids) >= 30, "30 trades at the exchange")
                # a consumer joining late builds the exact book from the latest snapshot
                async with open_order_book(
                    nats_url, "BTC_USDT", prefix=names.prefix, stream=names.stream
                ) as live:
                    await live.wait_ready()
                    for _ in range(20):
                        update_id = await live.wait_update()
                        state = server.book_at("BTC_USDT", update_id, depth=50)
                        assert live.book.bids(50) == list(state.bids)
                        assert live.book.asks(50) == list(state.asks)
                    stats = live.statistics()
                    assert (stats.gaps, stats.resyncs, stats.method) == (0, 0, "nats")
                    assert live.level == "50"  # the same default as add_book's
                await p1.flush()
                await p2.flush()
                last = truth.items[-1]
                s1, s2 = p1.statistics(), p2.statistics()
            nursery.cancel_scope.cancel()
        seen: list[int] = []
        await consume_trades(
            nats_url, seen, until=last, subject=names.subject("trades"), stream=names.stream
        )
    assert seen == sorted(set(seen)), "every trade once, in the exchange's order"
    assert seen == [t for t in truth.items if seen[0] <= t <= last]
    # both collectors published everything; the stream kept one copy of each
    for s in (s1, s2):
        assert s.dropped == s.beyond_window == 0
        assert s.published + s.duplicates + s.buffered == s.enqueued
    assert s1.duplicates + s2.duplicates > 0


async def wait_event(events: trio.MemoryReceiveChannel[object], kind: PublisherEventKind) -> str:
    with deadline(f"publisher event {kind.name}", 30):
        async for event in events:
            if getattr(event, "kind", None) is kind:
                return str(getattr(event, "detail", ""))
    pytest.fail(f"the publisher's events ended before {kind.name}")


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
                    client,
                    node.url,
                    buffer=40,
                    policy=BufferPolicy.DROP_OLDEST,
                    wall_clock=server.wall_time,
                ) as publisher,
                publisher.events() as events,
            ):
                await publisher.add_book("BTC_USDT", snapshot_every=0.5)
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


async def test_fail_policy_raises_buffer_full() -> None:
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
                    await publisher.add_book("BTC_USDT")
                    await trio.sleep_forever()
    assert raised.value.capacity == 5


async def test_a_collector_that_lost_its_connection_vouches_for_nothing_across_it(
    nats_url: str,
) -> None:
    """After a reconnect to the exchange the next trades carry no predecessor (the collector
    may have missed some); the ones after chain again."""
    names = Names()
    stream = StreamSettings.for_prefix(names.prefix, name=names.stream)
    with trio.fail_after(30):
        async with (
            fake_exchange() as server,
            collector(server) as client,
            record_events(client) as log,
            open_publisher(
                client, nats_url, stream=stream, prefix=names.prefix, wall_clock=server.wall_time
            ) as publisher,
        ):
            await publisher.add(channels.trades("BTC_USDT"))
            await reaches(publisher, lambda s: s.published >= 5, "5 trades published")
            server.drop()
            await log.wait(gatetrio.ClientEventKind.RESUBSCRIBED)
            before = publisher.statistics().published
            await reaches(publisher, lambda s: s.published >= before + 5, "5 more published")
            assert publisher.statistics().chain_breaks >= 1
            await publisher.flush()
        unvouched = 0
        async with open_consumer(
            nats_url, [names.subject("trades")], stream=names.stream, start="all"
        ) as sub:
            for _ in range(before + 5):
                msg, _ = await sub.receive_message()
                unvouched += msg.prev is None
    assert unvouched >= 2  # the very first trade, and the first after the reconnect


# ------------------------------------------------------------------- the operator's stream


def _config(
    name: str, subjects: list[str], storage: str, window: float, *, replicas: int = 1
) -> Any:
    from nats.js import api

    return api.StreamConfig(
        name=name,
        subjects=subjects,
        max_age=3600.0,
        max_bytes=10**8,
        duplicate_window=window,
        num_replicas=replicas,
        storage=api.StorageType(storage),
    )


async def test_an_operators_stream_is_never_changed_unless_asked(
    nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gatetrio.nats")
    names = Names()
    hand = _config(names.stream, [f"{names.prefix}.>", "other.>"], "memory", 60.0)
    await js_call(nats_url, lambda js: js.add_stream(hand))
    asked = StreamSettings.for_prefix(names.prefix, name=names.stream)  # R1, 120 s, file, ...
    with trio.fail_after(30):
        async with fake_exchange() as server, collector(server) as client:
            async with (
                open_publisher(
                    client, nats_url, stream=asked, prefix=names.prefix, wall_clock=server.wall_time
                ) as publisher,
                publisher.events() as events,
            ):
                detail = await wait_event(events, PublisherEventKind.STREAM_MISMATCH)
                await publisher.add(channels.trades("BTC_USDT"))
                await reaches(publisher, lambda s: s.published >= 3, "publishing into it")
                report = publisher.stream_report
            assert report is not None
            assert not report.created
            assert not report.updated
            assert report.duplicate_window == 60.0  # the stream's, not the one asked for
            text = "; ".join(report.differences)
            assert detail == text
            for part in ("duplicate window 60s (asked 120s)", "storage memory (asked file)"):
                assert part in text
            assert "max age 3600s (asked 86400s)" in text
            info = await js_call(nats_url, lambda js: js.stream_info(names.stream))
            assert info.config.duplicate_window == 60.0
            assert sorted(info.config.subjects) == sorted(hand.subjects)
            assert any("used as it is" in r.getMessage() for r in caplog.records)

            # asked to update: JetStream cannot change the storage, and says so
            with pytest.raises(StreamMismatch, match="storage"):
                async with open_publisher(
                    client, nats_url, stream=asked, prefix=names.prefix, update_stream=True
                ) as publisher:
                    await trio.sleep_forever()

            # a file stream updated as asked: its own subjects are kept, ours added
            other = Names()
            await js_call(
                nats_url,
                lambda js: js.add_stream(_config(other.stream, ["elsewhere.>"], "file", 60.0)),
            )
            asked = StreamSettings.for_prefix(other.prefix, name=other.stream, max_age=600.0)
            async with open_publisher(
                client, nats_url, stream=asked, prefix=other.prefix, update_stream=True
            ) as publisher:
                await publisher.wait_ready()
                assert publisher.stream_report is not None
                assert publisher.stream_report.updated
            info = await js_call(nats_url, lambda js: js.stream_info(other.stream))
            assert sorted(info.config.subjects) == sorted(["elsewhere.>", f"{other.prefix}.>"])
            assert (info.config.max_age, info.config.duplicate_window) == (600.0, 120.0)

            # a stream that does not take what would be published: a clear error, at once
            with pytest.raises(StreamMismatch, match="does not take") as raised:
                async with open_publisher(
                    client,
                    nats_url,
                    stream=StreamSettings(name=other.stream),
                    prefix="nowhere.futures",
                ):
                    await trio.sleep_forever()
            assert "update_stream" in str(raised.value)
            assert raised.value.takes == "nowhere.futures.usdt.>"


# ---------------------------------------------------------------------------- ordering


def _trade(trade_id: int, contract: str) -> gatetrio.Trade:
    return gatetrio.Trade(id=trade_id, contract=contract, price=Decimal(100), size=1)


async def test_consumers_put_a_disordered_stream_back_in_exchange_order(nats_url: str) -> None:
    """What two collectors leave in a stream around an outage: events displaced, copies
    stored twice past the duplicate window. Consumers deliver each contract in order, once."""
    names = Names()
    await js_call(
        nats_url,
        lambda js: js.add_stream(_config(names.stream, [f"{names.prefix}.>"], "file", 60.0)),
    )
    rng = random.Random(3)
    expected: dict[str, list[int]] = {}
    messages: list[tuple[float, Envelope]] = []
    for contract in ("BTC_USDT", "ETH_USDT"):
        ids = sorted(rng.sample(range(10**6, 2 * 10**6), 150))
        expected[contract] = ids
        for i, trade_id in enumerate(ids):
            env = envelope(
                _trade(trade_id, contract),
                settle="usdt",
                prefix=names.prefix,
                prev=ids[i - 1] if i else None,
            )
            messages.append((i + rng.uniform(-12, 12), env))
            if rng.random() < 0.1:  # a copy the duplicate window no longer caught
                copy = Envelope(env.subject, env.msg_id + ":late", env.payload, True, env.prev)
                messages.append((i + rng.uniform(0, 40), copy))
    messages.sort(key=lambda m: m[0])
    copies = sum(1 for _, env in messages if env.msg_id.endswith(":late"))
    with trio.fail_after(60):
        await publish_raw(nats_url, [env for _, env in messages])
        got: dict[str, list[int]] = {"BTC_USDT": [], "ETH_USDT": []}
        async with open_consumer(
            nats_url, [f"{names.prefix}.>"], stream=names.stream, start="all"
        ) as sub:
            while sum(map(len, got.values())) < 300:
                msg, trade = await sub.receive_message()
                assert isinstance(trade, gatetrio.Trade)
                assert not msg.late
                got[trade.contract].append(trade.id)
            with trio.move_on_after(0.5):  # nothing more comes: the copies were dropped
                await sub.receive_message()
                raise AssertionError("a copy was delivered")
            stats = sub.statistics().reorder
    assert got == expected
    assert stats is not None
    assert stats.duplicates == copies
    assert stats.reordered > 0
    assert stats.gaps == stats.late == stats.held == 0


async def test_an_event_beyond_the_window_is_late_or_dropped_as_asked(nats_url: str) -> None:
    names = Names()
    await js_call(
        nats_url,
        lambda js: js.add_stream(_config(names.stream, [f"{names.prefix}.>"], "memory", 60.0)),
    )

    def env(trade_id: int, prev: int | None, contract: str) -> Envelope:
        trade = _trade(trade_id, contract)
        return envelope(trade, settle="usdt", prefix=names.prefix, prev=prev)

    with trio.fail_after(30):
        for late, contract in (("deliver", "BTC_USDT"), ("drop", "ETH_USDT")):
            # 3 is still in flight when the consumer has waited long enough for it
            await publish_raw(
                nats_url, [env(1, None, contract), env(2, 1, contract), env(4, 3, contract)]
            )
            reorder = Reorder(max_delay=0.3, settle=0.05, late=late)  # type: ignore[arg-type]
            async with open_consumer(
                nats_url,
                [names.subject("trades", contract)],
                stream=names.stream,
                start="all",
                reorder=reorder,
            ) as sub:
                got = [(await sub.receive_message()) for _ in range(3)]  # 4 waited, then went
                await publish_raw(nats_url, [env(3, 2, contract)])
                with trio.move_on_after(1.0):
                    got.append(await sub.receive_message())
                stats = sub.statistics().reorder
            ids = [getattr(item, "id", None) for _, item in got]
            assert ids == ([1, 2, 4, 3] if late == "deliver" else [1, 2, 4])
            assert [msg.late for msg, _ in got] == [False, False, False, True][: len(ids)]
            assert stats is not None
            assert (stats.gaps, stats.late, stats.late_dropped) == (1, 1, int(late == "drop"))


async def test_a_full_window_lets_go_in_order_counted_and_reported(
    nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """2 never comes; 3 and on wait for it, more than the window holds: the oldest goes past
    the missing one at once (no wait for max_delay), the rest follow in order, and the
    overflow and the gap are counted in the statistics and said in the log."""
    names = Names()
    await js_call(
        nats_url,
        lambda js: js.add_stream(_config(names.stream, [f"{names.prefix}.>"], "memory", 60.0)),
    )
    envs = [
        envelope(
            _trade(k, "BTC_USDT"), settle="usdt", prefix=names.prefix, prev=k - 1 if k > 1 else None
        )
        for k in (1, *range(3, 13))
    ]
    caplog.set_level(logging.WARNING, logger="gatetrio.nats")
    with trio.fail_after(20):  # far less than max_delay
        await publish_raw(nats_url, envs[:1])
        async with open_consumer(
            nats_url,
            [names.subject("trades")],
            stream=names.stream,
            start="all",
            reorder=Reorder(window=4, max_delay=600),
        ) as sub:
            got = [await sub.receive_message()]  # the subject's first: after `settle`
            await publish_raw(nats_url, envs[1:])
            got += [(await sub.receive_message()) for _ in range(10)]
            stats = sub.statistics().reorder
    assert [getattr(item, "id", None) for _, item in got] == [1, *range(3, 13)]
    assert not any(msg.late for msg, _ in got)
    assert stats is not None
    assert (stats.overflows, stats.gaps, stats.late, stats.held) == (1, 1, 0, 0)
    said = [
        r.getMessage() for r in caplog.records if "not in the exchange's order" in r.getMessage()
    ]
    assert said == [
        (
            f"NATS consumer on {names.stream}: events not in the exchange's order so far: "
            "0 late, 1 gaps (a predecessor that never came), 1 let go by a full window "
            "(Reorder.window / max_held)"
        )
    ]


def _longer(length: int, items: list[int]) -> bool:
    return len(items) >= length


def _levels(side: dict[int, int]) -> tuple[ObuLevel, ...]:
    return tuple(ObuLevel(str(p), s) for p, s in sorted(side.items()))


async def test_a_reordered_book_stream_never_resyncs_the_bus_book(nats_url: str) -> None:
    names = Names()
    await js_call(
        nats_url,
        lambda js: js.add_stream(_config(names.stream, [f"{names.prefix}.>"], "memory", 60.0)),
    )
    rng = random.Random(11)
    bids, asks = {99: 5, 98: 4}, {101: 5, 102: 4}
    stream_name = "ob.BTC_USDT.50"
    deltas_subject = names.subject("obu_50")
    first = ObuDelta(t=1, s=stream_name, u=100, b=_levels(bids), a=_levels(asks), full=True)
    envs: list[tuple[float, Envelope]] = [(-1.0, snapshot_envelope(first, deltas_subject))]
    u = 100
    for i in range(120):
        price_b, price_a = rng.randint(90, 99), rng.randint(101, 110)
        size_b, size_a = rng.randint(0, 9), rng.randint(0, 9)
        step = rng.randint(1, 3)
        delta = ObuDelta(
            t=2 + i,
            s=stream_name,
            U=u + 1,
            u=u + step,
            b=_levels({price_b: size_b}),
            a=_levels({price_a: size_a}),
        )
        u += step
        bids = {p: s for p, s in {**bids, price_b: size_b}.items() if s}
        asks = {p: s for p, s in {**asks, price_a: size_a}.items() if s}
        envs.append((i + rng.uniform(-4, 4), envelope(delta, settle="usdt", prefix=names.prefix)))
    envs.sort(key=lambda e: e[0])
    with trio.fail_after(30):
        await publish_raw(nats_url, [env for _, env in envs])
        async with open_order_book(
            nats_url, "BTC_USDT", prefix=names.prefix, stream=names.stream
        ) as live:
            while live.book.update_id != u:
                await live.wait_update()
            stats = live.statistics()
            assert live.subscription is not None
            reorder = live.subscription.statistics().reorder
    assert (stats.resyncs, stats.gaps) == (0, 0)
    assert reorder is not None
    assert reorder.reordered > 0
    assert live.book.bids() == sorted(((Decimal(p), s) for p, s in bids.items()), reverse=True)
    assert live.book.asks() == sorted((Decimal(p), s) for p, s in asks.items())


# ------------------------------------------------------------ past the duplicate window


@pytest.mark.slow
async def test_a_collector_stalled_past_the_duplicate_window(nats_url: str) -> None:
    """Collector B's network stalls for longer than the stream's 1 s duplicate window while A
    goes on. B's backlog lands as events the stream can no longer recognise: counted and
    reported by B (or dropped, by policy), and dropped by the consumers' re-sequencing."""
    names = Names()
    stream = StreamSettings.for_prefix(
        names.prefix, name=names.stream, duplicate_window=1.0, max_age=300.0, storage="memory"
    )
    subject = names.subject("trades")
    truth = Recording[int]()
    with trio.fail_after(90):
        async with (
            fake_exchange() as server,
            trio.open_nursery() as nursery,
            collector(server) as witness,
            collector(server) as a,
            collector(server) as b,
        ):
            proxy = StallProxy(int(nats_url.rpartition(":")[2]))
            await nursery.start(proxy.run)
            await nursery.start(record_trades, witness, truth)
            publish = functools.partial(
                open_publisher, stream=stream, prefix=names.prefix, wall_clock=server.wall_time
            )
            stats = []
            async with publish(a, nats_url) as pa:  # A goes on throughout
                await pa.add(channels.trades("BTC_USDT"))
                for policy in ("publish", "drop"):
                    async with (
                        publish(b, proxy.url, beyond_window=policy, ack_timeout=0.5) as pb,
                        pb.events() as events,
                    ):
                        await pb.add(channels.trades("BTC_USDT"))
                        await reaches(pb, lambda s: s.published >= 10, "B publishing")
                        proxy.stall()
                        enough = len(truth.items) + 10
                        await trio.sleep(1.5)  # past the 1 s window
                        await truth.wait_until(functools.partial(_longer, enough), "trades")
                        proxy.resume()
                        detail = await wait_event(events, PublisherEventKind.BEYOND_WINDOW)
                        with trio.fail_after(20):
                            await pb.flush()
                        stats.append(pb.statistics())
                        # stored past the window (or, dropping, some were in transit already)
                        assert detail.endswith(("stored", "dropped"))
                await pa.flush()
            last = truth.items[-1]
            nursery.cancel_scope.cancel()
        seen_ids: list[int] = []
        await consume_trades(nats_url, seen_ids, until=last, subject=subject, stream=names.stream)
    kept, dropped = stats
    assert kept.beyond_window > 0
    assert dropped.beyond_window_dropped > 0
    for s in stats:
        assert (
            s.published + s.duplicates + s.dropped + s.beyond_window_dropped + s.buffered
            == s.enqueued
        )
    window = [t for t in truth.items if seen_ids[0] <= t <= last]
    missing, extra = sorted(set(window) - set(seen_ids)), sorted(set(seen_ids) - set(window))
    assert seen_ids == sorted(set(seen_ids)), "every trade once, in order"
    assert seen_ids == window, (missing, extra, stats)
