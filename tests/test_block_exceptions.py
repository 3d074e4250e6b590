"""Every `async with` of the public API lets the block's own exception through unchanged.

The table below holds each block to it (issue 17.9): a plain exception, a `trio.TooSlowError`
(what `except trio.TooSlowError` around `wait_ready()` must catch), a Cancelled from an outer
scope, a KeyboardInterrupt, and exception groups the block raised itself must come out as the
very object raised: not wrapped in a group, not replaced, not re-chained. And the library still
tears down cleanly behind it: the subscription is gone from the exchange, the client goes on.
The tracebacks are the user's (issue 17.11): no group from the library's nurseries in them.
"""

from __future__ import annotations

import contextlib
import random
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import channels
from gatetrio.recording import open_recorder
from gatetrio.testing import FakeGateServer

from .helpers import client_config, open_against

if TYPE_CHECKING:
    from .nats_server import NatsCluster

Block = Callable[["Harness"], contextlib.AbstractAsyncContextManager[object]]
KINDS: Final = ("plain", "too_slow", "cancelled", "keyboard_interrupt", "group", "base_group")


class Harness:
    """What a block needs: the fake, an open client, a folder; `pool` opens a pool."""

    def __init__(self, gate: FakeGateServer, client: gatetrio.Client, folder: Path) -> None:
        self.gate = gate
        self.client = client
        self.folder = folder

    def pool(self) -> contextlib.AbstractAsyncContextManager[gatetrio.Pool]:
        return gatetrio.open_pool(
            contracts="all",
            listing_fetcher=self.gate.fetch_contracts,
            streams_per_connection=1,  # two contracts: two shards, a merged subscription
            connector=self.gate.connector,
            config=client_config(),
            wall_clock=self.gate.wall_time,
        )


@contextlib.asynccontextmanager
async def _in_pool(
    h: Harness, use: Callable[[gatetrio.Pool], contextlib.AbstractAsyncContextManager[object]]
) -> AsyncIterator[object]:
    async with h.pool() as pool, use(pool) as value:
        yield value


TRADES = channels.trades("BTC_USDT", "ETH_USDT")
BLOCKS: Final[dict[str, Block]] = {
    "open_client": lambda h: open_against(h.gate, rng=random.Random(1)),
    "client.subscribe": lambda h: h.client.subscribe(TRADES),
    "client.events": lambda h: h.client.events(),
    "client.raw_frames": lambda h: h.client.raw_frames(),
    "client.order_book obu": lambda h: h.client.order_book("BTC_USDT"),
    "client.order_book rest": lambda h: h.client.order_book(
        "BTC_USDT", method="order_book_update", snapshot_fetcher=h.gate.fetch_order_book
    ),
    "open_pool": lambda h: h.pool(),
    "pool.subscribe": lambda h: _in_pool(h, lambda p: p.subscribe(TRADES)),
    "pool.subscribe_listed": lambda h: _in_pool(h, lambda p: p.subscribe_listed(channels.trades)),
    "pool.order_book": lambda h: _in_pool(h, lambda p: p.order_book("BTC_USDT")),
    "pool.events": lambda h: _in_pool(h, lambda p: p.events()),
    "pool.raw_frames": lambda h: _in_pool(h, lambda p: p.raw_frames()),
    "open_recorder": lambda h: open_recorder(h.client, h.folder, in_thread=False),
}


def _raised(kind: str) -> BaseException:
    match kind:
        case "plain":
            return ValueError("the block's own")
        case "keyboard_interrupt":
            return KeyboardInterrupt()
        case "group":
            return ExceptionGroup("the block's own", [ValueError("a"), KeyError("b")])
        case "base_group":
            return BaseExceptionGroup("the block's own", [ValueError("a"), KeyboardInterrupt()])
    raise AssertionError(kind)  # pragma: no cover


async def _body(kind: str, seen: list[BaseException]) -> None:
    """Let the block's tasks run a little, then end the block the way `kind` says."""
    await trio.sleep(1.5)
    try:
        if kind == "too_slow":
            with trio.fail_after(0.5):
                await trio.sleep_forever()
        elif kind == "cancelled":
            await trio.sleep_forever()  # the outer scope is cancelled meanwhile
        else:
            raise _raised(kind)  # noqa: TRY301 - raised here, where `seen` records it
    except BaseException as exc:
        seen.append(exc)
        raise


async def _through(block: contextlib.AbstractAsyncContextManager[object], kind: str) -> None:
    """Run `block` with a body ending by `kind`; check what comes out is what the body raised."""
    seen: list[BaseException] = []
    out: BaseException | None = None
    with trio.CancelScope() as outer:
        if kind == "cancelled":
            outer.deadline = trio.current_time() + 2.0
        try:
            async with block:
                await _body(kind, seen)
        except BaseException as exc:
            out = exc
            if kind == "cancelled":
                raise
    assert len(seen) == 1
    assert out is seen[0], f"{out!r} came out instead of the body's {seen[0]!r}"
    if kind == "cancelled":
        assert outer.cancelled_caught  # and the scope that cancelled it absorbed it
    if kind in ("plain", "keyboard_interrupt"):
        assert out.__context__ is None  # not re-chained to the groups it travelled in
    if kind in ("plain", "group", "too_slow"):
        text = "".join(traceback.format_exception(out))
        assert "gatetrio" not in text.replace("test_block_exceptions", "")
        assert "nursery" not in text.lower()


@pytest.fixture
async def gate(nursery: trio.Nursery) -> FakeGateServer:
    server = FakeGateServer(seed=4)
    await nursery.start(server.run)
    return server


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(BLOCKS))
async def test_the_blocks_own_exception_comes_out_unchanged(
    name: str,
    kind: str,
    gate: FakeGateServer,
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(120):
        async with open_against(gate, rng=random.Random(0)) as client:
            await _through(BLOCKS[name](Harness(gate, client, tmp_path)), kind)
            # torn down cleanly: nothing left subscribed, and the client goes on
            stats = client.statistics()
            assert stats.open_subscriptions == 0
            assert client._rt.links.lost_watchers == 0
            async with client.subscribe(channels.trades("BTC_USDT")) as trades:
                await trades.receive()
        if name == "open_client":
            await trio.testing.wait_all_tasks_blocked()
            assert len(gate.connections) == 0  # every socket the blocks opened is closed


async def test_wait_ready_timeout_is_caught_by_except_too_slow(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    """The newcomer's case of issue 17.9, as they wrote it."""
    async with open_against(gate) as client:
        gate.stall()  # the book never becomes ready
        caught = False
        try:
            async with client.order_book("BTC_USDT") as live:
                with trio.fail_after(1.0):
                    await live.wait_ready()
        except trio.TooSlowError:
            caught = True
        assert caught
        gate.resume()


# ------------------------------------------------------------------ NATS (real clock)


@pytest.fixture(scope="module")
def nats_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    from .nats_server import nats_cluster

    with nats_cluster(tmp_path_factory.mktemp("nats"), size=1) as cluster:
        yield cluster


NATS_BLOCKS: Final = ("open_publisher", "publisher.events", "open_consumer", "nats.open_order_book")


@contextlib.asynccontextmanager
async def _publisher_events(client: gatetrio.Client, url: str) -> AsyncIterator[object]:
    from gatetrio.nats import open_publisher

    async with open_publisher(client, url) as publisher, publisher.events() as events:
        yield events


@pytest.mark.slow  # a nats-server subprocess
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NATS_BLOCKS)
async def test_the_nats_blocks_let_the_exception_through(
    name: str, kind: str, nats_node: NatsCluster
) -> None:
    from gatetrio.nats import open_consumer, open_order_book, open_publisher

    url = nats_node.urls[0]
    server = FakeGateServer(seed=4)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            async with gatetrio.open_client(
                url="wss://fx-ws.gateio.ws/v4/ws/usdt",
                connector=server.connector,
                wall_clock=server.wall_time,
            ) as client:
                block: contextlib.AbstractAsyncContextManager[object]
                if name == "open_publisher":
                    block = open_publisher(client, url)
                elif name == "publisher.events":
                    block = _publisher_events(client, url)
                elif name == "open_consumer":
                    block = open_consumer(url, ["gate.futures.>"], start="new")
                else:
                    block = open_order_book(url, "BTC_USDT")
                await _through(block, kind)
            nursery.cancel_scope.cancel()
