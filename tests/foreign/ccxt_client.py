"""ccxt pro's gate exchange (swap markets) against `python -m gatetrio serve`, unchanged but for
its URLs. Run by tests/test_foreign.py in ccxt's own virtualenv: `python ccxt_client.py HOST:PORT
KEY SECRET [rest]`. Prints `ok <check>` per check and exits 0 when all pass, 1 with the failure.
With `rest`, it runs ccxt's signed REST calls (fetch_balance, fetch_positions, fetch_open_orders,
fetch_order, fetch_my_trades) around orders placed over the WebSocket trading API; with
`private`, its private watchers (watch_orders, watch_my_trades, watch_positions, watch_balance)
around a market buy.
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
    # ccxt tells a swap socket by its URL ("fx" in live's host, or testnet's /ws/futures/): the
    # testnet spelling, which the fake serves too, keeps its private handlers on swap
    for kind, prefix in (("swap", "futures/"), ("future", "delivery/")):
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
    fetched = await exchange.fetch_order_ws(order["id"], SYMBOL)
    assert (fetched["id"], fetched["status"]) == (order["id"], "open"), fetched
    print("ok fetch_order_ws", flush=True)
    higher = exchange.price_to_precision(SYMBOL, float(price) * 1.01)
    edited = await exchange.edit_order_ws(order["id"], SYMBOL, "limit", "sell", 1, float(higher))
    assert edited["id"] == order["id"] and edited["price"] == float(higher), edited
    print("ok edit_order_ws", flush=True)
    cancelled = await exchange.cancel_order_ws(order["id"], SYMBOL)
    assert cancelled["status"] in ("canceled", "cancelled", "closed"), cancelled
    print("ok cancel_order_ws", flush=True)
    batch = await exchange.create_orders_ws(
        [
            {"symbol": SYMBOL, "type": "limit", "side": "sell", "amount": 1, "price": float(price)},
            {"symbol": SYMBOL, "type": "limit", "side": "sell", "amount": 2, "price": float(price)},
        ]
    )
    assert len(batch) == 2 and all(o["id"] and o["status"] == "open" for o in batch), batch
    print("ok create_orders_ws", flush=True)
    gone = await exchange.cancel_all_orders_ws(SYMBOL)
    assert sorted(o["id"] for o in gone) == sorted(o["id"] for o in batch), gone
    print("ok cancel_all_orders_ws", flush=True)
    closed = await exchange.fetch_orders_by_status_ws("finished", SYMBOL)
    assert {order["id"], *(o["id"] for o in batch)} <= {o["id"] for o in closed}, closed
    print("ok fetch_closed_orders_ws", flush=True)

    # private REST, signed, as ccxt sends it
    taker = exchange.price_to_precision(SYMBOL, ticker["last"] * 1.05)
    filled = await exchange.create_order_ws(SYMBOL, "limit", "buy", 1, float(taker))
    assert filled["status"] == "closed" and filled["filled"] == 1, filled
    resting = await exchange.create_order_ws(SYMBOL, "limit", "sell", 1, float(price))
    balance = await exchange.fetch_balance({"type": "swap"})
    assert balance["USDT"]["total"] and balance["USDT"]["total"] > 0, balance
    print("ok fetch_balance", flush=True)
    positions = await exchange.fetch_positions([SYMBOL])
    assert [p["contracts"] for p in positions if p["symbol"] == SYMBOL] == [1], positions
    print("ok fetch_positions", flush=True)
    rest_open = await exchange.fetch_open_orders(SYMBOL)
    assert [o["id"] for o in rest_open] == [resting["id"]], rest_open
    print("ok fetch_open_orders", flush=True)
    trades = await exchange.fetch_my_trades(SYMBOL)
    assert filled["id"] in {t["order"] for t in trades}, trades
    print("ok fetch_my_trades", flush=True)
    await exchange.cancel_order_ws(resting["id"], SYMBOL)


async def rest_checks(exchange: ccxt.pro.gate) -> None:
    await exchange.load_markets()
    balance = await exchange.fetch_balance({"type": "swap"})
    assert balance["USDT"]["total"] and balance["USDT"]["total"] > 0, balance
    print("ok fetch_balance", flush=True)
    ticker = await exchange.watch_ticker(SYMBOL)
    price = float(exchange.price_to_precision(SYMBOL, ticker["last"] * 1.1))
    resting = await exchange.create_order_ws(SYMBOL, "limit", "sell", 1, price)
    open_orders = await exchange.fetch_open_orders(SYMBOL)
    assert [o["id"] for o in open_orders] == [resting["id"]], open_orders
    assert open_orders[0]["status"] == "open" and open_orders[0]["price"] == price, open_orders
    print("ok fetch_open_orders", flush=True)
    fetched = await exchange.fetch_order(resting["id"], SYMBOL)
    assert fetched["id"] == resting["id"] and fetched["status"] == "open", fetched
    print("ok fetch_order", flush=True)
    await exchange.cancel_order_ws(resting["id"], SYMBOL)
    cancelled = await exchange.fetch_order(resting["id"], SYMBOL)
    assert cancelled["status"] == "canceled", cancelled
    assert await exchange.fetch_open_orders(SYMBOL) == []
    print("ok fetch_order_cancelled", flush=True)
    bought = await exchange.create_order_ws(SYMBOL, "market", "buy", 1)
    trades = await exchange.fetch_my_trades(SYMBOL)
    assert trades and all(t["symbol"] == SYMBOL for t in trades), trades
    assert any(t["order"] == bought["id"] and t["side"] == "buy" for t in trades), trades
    print("ok fetch_my_trades", flush=True)
    positions = await exchange.fetch_positions()
    mine = [p for p in positions if p["symbol"] == SYMBOL]
    assert mine and mine[0]["contracts"] == 1 and mine[0]["side"] == "long", positions
    print("ok fetch_positions", flush=True)


async def private_checks(exchange: ccxt.pro.gate) -> None:
    """ccxt's private watchers around one market buy: each sees what the fake pushed."""
    await exchange.load_markets()
    snapshot = await exchange.watch_positions([SYMBOL])  # ccxt's REST snapshot comes first
    assert [p for p in snapshot if p["contracts"]] == [], snapshot
    print("ok watch_positions_snapshot", flush=True)
    orders = asyncio.ensure_future(exchange.watch_orders(SYMBOL))
    trades = asyncio.ensure_future(exchange.watch_my_trades(SYMBOL))
    positions = asyncio.ensure_future(exchange.watch_positions([SYMBOL]))
    balance = asyncio.ensure_future(exchange.watch_balance({"type": "swap"}))
    await asyncio.sleep(0.5)  # let the private subscriptions land before the order
    bought = await exchange.create_order_ws(SYMBOL, "market", "buy", 2)
    pushed = await asyncio.wait_for(orders, 10)
    assert any(o["id"] == bought["id"] for o in pushed), pushed
    print("ok watch_orders", flush=True)
    mine = await asyncio.wait_for(trades, 10)
    assert mine and mine[0]["order"] == bought["id"] and mine[0]["side"] == "buy", mine
    assert mine[0]["amount"] == 2 and mine[0]["symbol"] == SYMBOL, mine
    print("ok watch_my_trades", flush=True)
    held = await asyncio.wait_for(positions, 10)
    long = [p for p in held if p["symbol"] == SYMBOL]
    assert long and long[0]["contracts"] == 2 and long[0]["side"] == "long", held
    print("ok watch_positions", flush=True)
    funds = await asyncio.wait_for(balance, 10)
    total = funds["USDT"]["total"]
    assert total and 9_000 < total < 10_000, funds  # the fake's 10 000 less the fee
    print("ok watch_balance", flush=True)


async def main(hostport: str, key: str, secret: str, mode: str = "ws") -> int:
    # uid: ccxt asks for it (a credential, as live) to subscribe futures.orders
    exchange = ccxt.pro.gate({"apiKey": key, "secret": secret, "uid": "20011"})
    point_at(exchange, hostport)
    try:
        run = {"rest": rest_checks, "private": private_checks}.get(mode, checks)
        await asyncio.wait_for(run(exchange), DEADLINE)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        print("FAIL", type(exc).__name__, exc, flush=True)
        return 1
    finally:
        await exchange.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
