"""The official gate-ws SDK against `python -m gatetrio serve`, unchanged but for its URL.

Run by tests/test_foreign.py in gate-ws's own virtualenv: `python gatews_client.py URL KEY
SECRET`. Prints one `ok <check>` line per check passed and exits 0 once all have; any error
reply or a missing check by the deadline exits 1 with what was missing.
"""

import asyncio
import json
import sys
from decimal import Decimal

from gate_ws import Configuration, Connection, WebSocketResponse
from gate_ws.futures import (
    FuturesBalanceChannel,
    FuturesCandlesticksChannel,
    FuturesOrderBookUpdateChannel,
    FuturesOrderCancelChannel,
    FuturesOrderChannel,
    FuturesOrderPlaceChannel,
    FuturesOrderStatusChannel,
    FuturesPositionsChannel,
    FuturesPublicTradeChannel,
    FuturesTickerChannel,
)

CHECKS = [
    "futures.trades",
    "futures.tickers",
    "futures.order_book_update",
    "futures.candlesticks",
    "futures.login",
    "futures.order_place",
    "futures.orders",
    "futures.order_status",
    "futures.order_cancel",
]
DEADLINE = 40.0


async def main(url: str, key: str, secret: str) -> int:
    done: set[str] = set()
    finished = asyncio.Event()
    failures: list[str] = []
    conn = Connection(Configuration(app="futures", host=url, api_key=key, api_secret=secret))
    state: dict[str, object] = {}

    def passed(check: str) -> None:
        if check not in done:
            done.add(check)
            sys.stdout.write(f"ok {check}\n")  # one write: callbacks may run in threads
            sys.stdout.flush()
        if done.issuperset(CHECKS):
            finished.set()

    def on_message(c: Connection, response: WebSocketResponse) -> None:
        msg = json.loads(response.body)
        if response.error is not None:
            failures.append(f"{response.channel}: {response.error}")
            finished.set()
            return
        header = msg.get("header")
        if header is not None:  # a trading-API reply
            if header.get("status") != "200":
                failures.append(f"{response.channel}: {response.body}")
                finished.set()
                return
            if msg.get("ack"):
                return
            passed(response.channel)
            result = msg["data"]["result"]
            if response.channel == "futures.order_place":
                state["order_id"] = result["id"]
                FuturesOrderStatusChannel(c, on_message).api_request(
                    {"order_id": str(result["id"])}, req_id="status-1"
                )
            elif response.channel == "futures.order_status":
                if result["status"] != "open":
                    failures.append(f"order_status: {result}")
                    finished.set()
                FuturesOrderCancelChannel(c, on_message).api_request(
                    {"order_id": str(state["order_id"])}, req_id="cancel-1"
                )
            elif response.channel == "futures.order_cancel" and result["finish_as"] != "cancelled":
                failures.append(f"order_cancel: {result}")
                finished.set()
            return
        if response.event not in {"update", "all"}:
            return  # acks
        passed(response.channel)
        if response.channel == "futures.tickers" and "placed" not in state:
            state["placed"] = True
            last = Decimal(str(response.result[0]["last"]))
            price = (last * Decimal("1.1")).quantize(Decimal("0.1"))
            FuturesOrderPlaceChannel(c, on_message).api_request(
                {
                    "contract": "BTC_USDT",
                    "size": -1,
                    "price": str(price),
                    "tif": "gtc",
                    "text": "t-gatews",
                },
                req_id="place-1",
            )

    conn.cfg.default_callback = on_message
    FuturesPublicTradeChannel(conn, on_message).subscribe(["BTC_USDT"])
    FuturesTickerChannel(conn, on_message).subscribe(["BTC_USDT"])
    FuturesOrderBookUpdateChannel(conn, on_message).subscribe(["BTC_USDT", "100ms", "20"])
    FuturesCandlesticksChannel(conn, on_message).subscribe(["1m", "BTC_USDT"])
    FuturesOrderChannel(conn, on_message).subscribe(["20011", "!all"])
    FuturesPositionsChannel(conn, on_message).subscribe(["20011", "!all"])
    FuturesBalanceChannel(conn, on_message).subscribe(["20011"])
    runner = asyncio.ensure_future(conn.run())
    try:
        await asyncio.wait_for(finished.wait(), DEADLINE)
    except TimeoutError:
        failures.append(f"missing after {DEADLINE}s: {sorted(set(CHECKS) - done)}")
    conn.close()
    runner.cancel()
    for failure in failures:
        print("FAIL", failure, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
