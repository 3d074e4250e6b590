"""ccxt pro's gate exchange (swap markets) against `python -m gatetrio serve`, unchanged but for
its URLs. Run by tests/test_foreign.py in ccxt's own virtualenv: `python ccxt_client.py HOST:PORT
KEY SECRET`. Prints `ok <check>` per check and exits 0 when all pass, 1 with the failure.
"""

import asyncio
import sys

import ccxt.pro

SYMBOL = "BTC/USDT:USDT"
DEADLINE = 60.0


def point_at(exchange: ccxt.pro.gate, hostport: str) -> None:
    api = exchange.urls["api"]
    for side in ("public", "private"):
        for name in api[side]:
            api[side][name] = f"http://{hostport}/api/v4"
    for kind, prefix in (("swap", ""), ("future", "delivery/")):
        for settle in api[kind]:
            api[kind][settle] = f"ws://{hostport}/v4/ws/{prefix}{settle}"


async def checks(exchange: ccxt.pro.gate) -> None:
    markets = await exchange.load_markets()
    assert SYMBOL in markets, sorted(markets)[:10]
    print("ok load_markets", flush=True)
    trades = await exchange.watch_trades(SYMBOL)
    assert trades and trades[0]["symbol"] == SYMBOL, trades
    print("ok watch_trades", flush=True)
    ticker = await exchange.watch_ticker(SYMBOL)
    assert ticker["last"] and ticker["last"] > 0, ticker
    print("ok watch_ticker", flush=True)
    book = await exchange.watch_order_book(SYMBOL)
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0], book
    print("ok watch_order_book", flush=True)
    candles = await exchange.watch_ohlcv(SYMBOL, "1m")
    assert candles and len(candles[0]) == 6, candles
    print("ok watch_ohlcv", flush=True)
    price = exchange.price_to_precision(SYMBOL, ticker["last"] * 1.1)
    orders_task = asyncio.ensure_future(exchange.watch_orders(SYMBOL))
    await asyncio.sleep(0.5)  # let the private subscription land before the order
    order = await exchange.create_order_ws(SYMBOL, "limit", "sell", 1, float(price))
    assert order["id"] and order["status"] == "open", order
    print("ok create_order_ws", flush=True)
    pushed = await asyncio.wait_for(orders_task, 10)
    assert any(o["id"] == order["id"] for o in pushed), pushed
    print("ok watch_orders", flush=True)
    open_orders = await exchange.fetch_open_orders_ws(SYMBOL)
    assert [o["id"] for o in open_orders] == [order["id"]], open_orders
    print("ok fetch_open_orders_ws", flush=True)
    cancelled = await exchange.cancel_order_ws(order["id"], SYMBOL)
    assert cancelled["status"] in ("canceled", "cancelled", "closed"), cancelled
    print("ok cancel_order_ws", flush=True)


async def main(hostport: str, key: str, secret: str) -> int:
    # uid: ccxt asks for it (a credential, as live) to subscribe futures.orders
    exchange = ccxt.pro.gate({"apiKey": key, "secret": secret, "uid": "20011"})
    point_at(exchange, hostport)
    try:
        await asyncio.wait_for(checks(exchange), DEADLINE)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        print("FAIL", type(exc).__name__, exc, flush=True)
        return 1
    finally:
        await exchange.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
