"""Place an order, cancel it, and handle a rejection, over Gate's WebSocket trading API.

    python examples/place_and_cancel.py          against the fake exchange, in this process
    python examples/place_and_cancel.py --live   against Gate: GATE_API_KEY, GATE_API_SECRET

Safety, as the library guarantees it: `client.request` logs in when needed and returns the
final result; a request is never re-sent after a reconnect. If the socket closes before the
reply, `ConnectionLost` is raised and the order may or may not exist: look it up (by its
`text` tag) before placing it again.
"""

from __future__ import annotations

import os
import sys

import trio

import gatetrio
from gatetrio.testing import FakeGateServer

CONTRACT = "BTC_USDT"


async def trade(client: gatetrio.Client) -> None:
    # A limit buy far below the market rests on the book; `text` tags it as ours.
    placed = await client.request(
        gatetrio.PlaceOrder(contract=CONTRACT, size=1, price="30000", text="t-example-1")
    )
    order = placed.result
    assert isinstance(order, dict)
    print("placed:", order["id"], order["status"], order["price"])

    cancelled = await client.request(gatetrio.CancelOrder(order_id=order["id"]))
    assert isinstance(cancelled.result, dict)
    print("cancelled:", cancelled.result["id"], cancelled.result["status"])

    # The exchange refuses a bad order with a label and a message: a typed error, not a crash.
    try:
        await client.request(gatetrio.PlaceOrder(contract="NOPE_USDT", size=1, price="1"))
    except gatetrio.RequestRejected as exc:
        print("rejected:", exc.label, "-", exc)


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
        nursery.cancel_scope.cancel()  # the fake serves until cancelled


if __name__ == "__main__":
    trio.run(main)
