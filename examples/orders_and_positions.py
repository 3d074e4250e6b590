"""Your orders and positions as they change: two private channels side by side.

    python examples/orders_and_positions.py          the fake exchange, in this process
    python examples/orders_and_positions.py --live   Gate: GATE_API_KEY and GATE_API_SECRET

Private subscriptions are signed with your key (re-signed on every reconnect); the account's
user id, which they name, is learned from Gate. Against the fake, the program buys 3 contracts
at the market so there is something to see, then stops.
"""

from __future__ import annotations

import os
import sys

import trio

import gatetrio
from gatetrio import channels
from gatetrio.testing import FakeGateServer

CONTRACT = "BTC_USDT"


async def follow_orders(client: gatetrio.Client, seen: trio.Event) -> None:
    # no user id given: the client puts in the one it learns from Gate
    async with client.subscribe(channels.orders(None, CONTRACT)) as orders:
        async for order in orders:  # gatetrio.Order
            print(f"order {order.id}: {order.status} size {order.size} left {order.left}")
            if order.status == "finished":
                seen.set()


async def follow_positions(client: gatetrio.Client, seen: trio.Event) -> None:
    async with client.subscribe(channels.positions(None, CONTRACT)) as positions:
        async for position in positions:  # gatetrio.Position
            print(
                f"position {position.contract}: size {position.size} entry {position.entry_price}"
            )
            seen.set()


async def run(client: gatetrio.Client, *, demo: bool) -> None:
    order_done, position_seen = trio.Event(), trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(follow_orders, client, order_done)
        nursery.start_soon(follow_positions, client, position_seen)
        if not demo:
            return  # runs until Ctrl-C
        await trio.sleep(0.5)  # both subscriptions acknowledged
        await client.request(gatetrio.PlaceOrder(contract=CONTRACT, size=3, price="0", tif="ioc"))
        with trio.fail_after(10):
            await order_done.wait()
            await position_seen.wait()
        nursery.cancel_scope.cancel()


async def main() -> None:
    if "--live" in sys.argv:
        env = os.environ
        credentials = gatetrio.Credentials(key=env["GATE_API_KEY"], secret=env["GATE_API_SECRET"])
        async with gatetrio.open_client(settle="usdt", credentials=credentials) as client:
            await run(client, demo=False)
        return
    credentials = gatetrio.Credentials(key="demo-key", secret="demo-secret")
    server = FakeGateServer(seed=0, credentials=credentials)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with gatetrio.open_client(
            connector=server.connector,
            rest_transport=server.rest_transport,
            wall_clock=server.wall_time,
            credentials=credentials,
        ) as client:
            await run(client, demo=True)
        nursery.cancel_scope.cancel()  # the fake serves until cancelled


if __name__ == "__main__":
    trio.run(main)
