"""A trades tape: every trade of two contracts, one line each, with a running count.

    python examples/trades_tape.py           against the fake exchange, in this process
    python examples/trades_tape.py --live    against Gate (runs until Ctrl-C)

Against the fake it stops after 20 trades; Ctrl-C stops it in either case.
"""

from __future__ import annotations

import sys

import trio

import gatetrio
from gatetrio import channels
from gatetrio.testing import FakeGateServer

CONTRACTS = ("BTC_USDT", "ETH_USDT")


async def tape(client: gatetrio.Client, limit: int | None) -> None:
    # buffer: how many trades may wait for this loop; overflow: what happens past that.
    # DROP_OLDEST (the default) keeps the newest and counts every drop.
    spec = channels.trades(*CONTRACTS)
    async with client.subscribe(
        spec, buffer=1024, overflow=gatetrio.OverflowPolicy.DROP_OLDEST
    ) as trades:
        count = 0
        async for trade in trades:  # gatetrio.Trade: Decimal price, signed size (+ buy, - sell)
            side = "buy " if trade.size > 0 else "sell"
            size = abs(trade.size)
            print(f"{trade.create_time_ms}  {trade.contract:<9} {side} {trade.price} x {size}")
            count += 1
            if limit is not None and count >= limit:
                break
        print(f"{count} trades, {trades.statistics().messages_dropped} dropped")


async def main() -> None:
    if "--live" in sys.argv:
        async with gatetrio.open_client(settle="usdt") as client:
            await tape(client, limit=None)
        return
    server = FakeGateServer(seed=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with gatetrio.open_client(
            connector=server.connector, wall_clock=server.wall_time
        ) as client:
            await tape(client, limit=20)
        nursery.cancel_scope.cancel()  # the fake serves until cancelled


if __name__ == "__main__":
    trio.run(main)
