"""A live account over real loopback sockets, through a proxy that black-holes and then cuts
them, while another client trades on the same account straight to the fake.

Real sockets take real time, so no autojump clock here: the client's timings are short (a
heartbeat of a second) and every wait is bounded. After the resync the account equals the
fake's REST truth, and what it missed during the outage came back as corrections.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import pytest
import trio

import gatetrio
from gatetrio import CancelOrder, ChangeReason, FillChange, PlaceOrder, SyncChange
from gatetrio.testing import FakeGateServer
from gatetrio.testing._loopback import serve_tcp

from .helpers import CREDS, client_config
from .test_account import assert_true_to, truth

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.slow

LIMIT: Final = 60.0  # seconds any wait here may take on a loaded machine


class Proxy:
    """A TCP proxy for one upstream port that can black-hole (sockets open, nothing through,
    new connections left hanging) and cut (every socket closed at once)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.holed = False
        self._scopes: set[trio.CancelScope] = set()
        self._healed = trio.Event()
        self.connections = 0

    async def run(self, *, task_status: trio.TaskStatus[int]) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._serve, listeners)

    def black_hole(self) -> None:
        self.holed = True
        self._healed = trio.Event()

    def cut(self) -> None:
        for scope in self._scopes:
            scope.cancel()

    def heal(self) -> None:
        self.holed = False
        self._healed.set()

    async def _serve(self, client: trio.SocketStream) -> None:
        with trio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                async with client:
                    if self.holed:
                        await self._healed.wait()  # a connect into the hole hangs
                    upstream = await trio.open_tcp_stream("127.0.0.1", self.upstream)
                    async with upstream, trio.open_nursery() as nursery:
                        self.connections += 1
                        nursery.start_soon(self._pump, client, upstream, nursery.cancel_scope)
                        nursery.start_soon(self._pump, upstream, client, nursery.cancel_scope)
            finally:
                self._scopes.discard(scope)

    async def _pump(
        self, source: trio.SocketStream, sink: trio.SocketStream, scope: trio.CancelScope
    ) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await source.receive_some(65536):
                if not self.holed:
                    await sink.send_all(data)
        scope.cancel()


@contextlib.asynccontextmanager
async def loopback_fake() -> AsyncIterator[tuple[FakeGateServer, int, Proxy, int]]:
    """The fake on a loopback port, and a proxy in front of it: (fake, its port, proxy, the
    proxy's port)."""
    gate = FakeGateServer(credentials=CREDS)
    async with trio.open_nursery() as nursery:
        await nursery.start(gate.run)
        port: int = await nursery.start(serve_tcp, gate, "127.0.0.1", 0)
        proxy = Proxy(port)
        proxy_port: int = await nursery.start(proxy.run)
        yield gate, port, proxy, proxy_port
        nursery.cancel_scope.cancel()


def open_loopback(
    gate: FakeGateServer, port: int
) -> contextlib.AbstractAsyncContextManager[gatetrio.Client]:
    """A client to `port` on loopback, socket and REST (a heartbeat of about a second)."""
    config = client_config(
        ping_interval=0.5, pong_timeout=1.0, backoff_initial=0.2, backoff_max=1.0
    )
    return gatetrio.open_client(
        url=f"ws://127.0.0.1:{port}/v4/ws/usdt",
        config=config,
        credentials=CREDS,
        wall_clock=gate.wall_time,
    )


async def test_the_account_survives_a_black_hole_then_a_cut() -> None:
    with trio.fail_after(LIMIT):
        async with (
            loopback_fake() as (gate, port, proxy, proxy_port),
            open_loopback(gate, proxy_port) as client,
            client.account(check_interval=None) as account,
            open_loopback(gate, port) as other,
        ):
            fills: list[FillChange] = []
            await account.wait_synced()
            bid = gate.book("BTC_USDT", 1).bids[0][0]
            for size, below, text in ((2, 300, "t-keep"), (1, 400, "t-gone")):
                order = PlaceOrder(
                    contract="BTC_USDT", size=size, price=str(bid - below), text=text
                )
                await other.request(order)
            while len(account.orders) < 2:
                await account.__anext__()
            proxy.black_hole()
            gone = next(o for o in truth(gate, "orders?status=open") if o["text"] == "t-gone")
            await other.request(CancelOrder(order_id=str(gone["id"])))
            ask = gate.book("BTC_USDT", 1).asks[0][0]
            await other.request(PlaceOrder(contract="BTC_USDT", size=4, price=str(ask), tif="ioc"))
            while account.synced:  # the heartbeat finds the hole
                change = await account.__anext__()
                if isinstance(change, FillChange):
                    fills.append(change)  # pragma: no cover - nothing comes through
            proxy.cut()
            await trio.sleep(0.5)
            proxy.heal()
            while True:  # what the resync corrected, then that it is synced
                change = await account.__anext__()
                if isinstance(change, FillChange):
                    fills.append(change)
                if isinstance(change, SyncChange) and change.synced:
                    break
            assert_true_to(gate, account)
            stats = account.statistics()
            assert (stats.fills_recovered, stats.snapshots) == (1, 2)
            assert stats.order_corrections >= 1
            assert proxy.connections >= 2
            assert [(f.reason, f.trade.size) for f in fills] == [
                (ChangeReason.CORRECTION, Decimal(4))
            ]
