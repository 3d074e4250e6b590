"""Place an order, cancel it, handle a rejection, and resolve an order left in doubt, over
Gate's WebSocket trading API.

    python examples/place_and_cancel.py          against the fake exchange, in this process
    python examples/place_and_cancel.py --live   against Gate: GATE_API_KEY, GATE_API_SECRET
                                                 (it places and cancels one far-away order)

Safety, as the library guarantees it: `client.request` logs in when needed and returns the
typed result (an `Order` here) within its deadline, or raises one typed error; a request is
never re-sent. Every order carries a client order id (`text`), so one whose answer never came
(`RequestInDoubt`) is looked up with `client.resolve(exc)`: placed (and as it stands now) or
not placed, for certain.
"""

from __future__ import annotations

import os
import sys

import trio

import gatetrio
from gatetrio.testing import FakeGateServer, Misbehaviour

CONTRACT = "BTC_USDT"


async def trade(client: gatetrio.Client) -> None:
    # A limit buy far below the market rests on the book. The result is a typed Order.
    order = await client.request(
        gatetrio.PlaceOrder(contract=CONTRACT, size=1, price="30000"), request_timeout=5.0
    )
    print("placed:", order.id, order.text, order.status, order.price, order.left)

    cancelled = await client.request(gatetrio.CancelOrder(order_id=order.id))
    print("cancelled:", cancelled.id, cancelled.status, cancelled.finish_as)

    # The exchange refuses a bad order with a label: a typed error with one clean message.
    try:
        await client.request(gatetrio.PlaceOrder(contract="NOPE_USDT", size=1, price="1"))
    except gatetrio.InvalidArgument as exc:
        print("rejected:", exc.label, "-", exc)


async def in_doubt(client: gatetrio.Client, server: FakeGateServer) -> None:
    # The fake carries the next order out and then closes the socket without answering.
    server.trading.misbehave(Misbehaviour.DROP_AFTER, channel="futures.order_place")
    try:
        await client.request(
            gatetrio.PlaceOrder(contract=CONTRACT, size=1, price="30000"), request_timeout=2.0
        )
    except gatetrio.RequestInDoubt as exc:
        print("in doubt:", type(exc).__name__, exc.client_order_ids)
        # waits until Gate would refuse the order (its deadline, 2 s, plus a margin), then looks
        resolution = await client.resolve(exc)
        assert resolution.order is not None
        print("resolved: placed =", resolution.placed, "status =", resolution.order.status)


async def main() -> None:
    if "--live" in sys.argv:
        credentials = gatetrio.Credentials(
            key=os.environ["GATE_API_KEY"], secret=os.environ["GATE_API_SECRET"]
        )
        async with gatetrio.open_client(settle="usdt", credentials=credentials) as client:
            await trade(client)
        return
    credentials = gatetrio.Credentials(key="demo-key", secret="demo-secret", user_id="20011")
    server = FakeGateServer(seed=0, credentials=credentials)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with gatetrio.open_client(
            connector=server.connector, wall_clock=server.wall_time, credentials=credentials
        ) as client:
            await trade(client)
            await in_doubt(client, server)
        nursery.cancel_scope.cancel()  # the fake serves until cancelled


if __name__ == "__main__":
    trio.run(main)
