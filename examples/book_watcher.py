"""An order-book watcher that notices when its data goes stale.

    python examples/book_watcher.py          against the fake exchange, in this process
    python examples/book_watcher.py --live   against Gate (runs until Ctrl-C)

It prints the top of the book whenever it changes (at most every half second) and warns when
no update came for `STALE_AFTER` seconds: a connection can look healthy while a feed is
frozen, and a trading decision on a frozen book is the expensive mistake. Against the fake it
stalls the feed on purpose, shows the warning, resumes it and stops.
"""

from __future__ import annotations

import sys

import trio

import gatetrio
from gatetrio.testing import FakeGateServer

CONTRACT = "BTC_USDT"
STALE_AFTER = 2.0  # seconds without a book update


def top(book: gatetrio.OrderBook) -> str:
    bid, ask = book.best_bid(), book.best_ask()  # (price, size) tuples, or None if empty
    if bid is None or ask is None:
        return "(one side empty)"
    return f"bid {bid[1]} @ {bid[0]}  ask {ask[1]} @ {ask[0]}  spread {ask[0] - bid[0]}"


async def watch(client: gatetrio.Client, *, until: trio.Event) -> None:
    async with client.order_book(CONTRACT, depth=20) as live:
        await live.wait_ready()  # the first full book: snapshot plus deltas, checked
        last_print = 0.0
        while not until.is_set():
            with trio.move_on_after(STALE_AFTER) as waited:
                await live.wait_update()
            now = trio.current_time()
            if waited.cancelled_caught:
                print(f"STALE: no book update for {STALE_AFTER}s (ready={live.ready})")
                continue
            if now - last_print >= 0.5 and live.ready:
                last_print = now
                print(f"{top(live.book)}  resyncs {live.statistics().resyncs}")


async def demo(server: FakeGateServer, done: trio.Event) -> None:
    await trio.sleep(2)
    print("-- the fake stops sending (its socket stays open)")
    server.stall()
    await trio.sleep(STALE_AFTER * 1.5)
    print("-- the fake resumes")
    server.resume()
    await trio.sleep(1.5)
    done.set()


async def main() -> None:
    done = trio.Event()
    if "--live" in sys.argv:
        async with gatetrio.open_client(settle="usdt") as client:
            await watch(client, until=done)
        return
    server = FakeGateServer(seed=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with gatetrio.open_client(
            connector=server.connector, wall_clock=server.wall_time
        ) as client:
            nursery.start_soon(demo, server, done)
            await watch(client, until=done)
        nursery.cancel_scope.cancel()  # the fake serves until cancelled


if __name__ == "__main__":
    trio.run(main)
