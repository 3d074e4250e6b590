"""cryptofeed's GateioFutures against `python -m gatetrio serve --tls`, unchanged but for its
endpoint URLs (cryptofeed accepts only wss://); the fake's CA comes in through SSL_CERT_FILE
and REQUESTS_CA_BUNDLE. Run by tests/test_foreign.py in cryptofeed's own virtualenv:
`python cryptofeed_client.py HOST:PORT`. Prints `ok <check>` per check; exits 0 once all have
passed and the book saw 30 deltas without a reset, 1 otherwise.
"""

import asyncio
import logging
import sys

from cryptofeed import FeedHandler
from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint
from cryptofeed.defines import CANDLES, FUNDING, L2_BOOK, TICKER, TRADES
from cryptofeed.exchanges import GateioFutures

CHECKS = ["trades", "ticker", "l2_book", "candles", "funding"]
BOOK_DELTAS = 30
DEADLINE = 60.0


class Resets(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "resetting book" in message or record.levelno >= logging.ERROR:
            self.lines.append(message)


def main(hostport: str) -> int:
    GateioFutures.websocket_endpoints = [
        WebsocketEndpoint(f"wss://{hostport}/v4/ws/usdt", options={"compression": None})
    ]
    GateioFutures.rest_endpoints = [
        RestEndpoint(
            f"https://{hostport}",
            routes=Routes(
                "/api/v4/futures/usdt/contracts",
                l2book="/api/v4/futures/usdt/order_book?contract={}&limit=100&with_id=true",
            ),
        )
    ]
    resets = Resets()
    logging.getLogger("feedhandler").addHandler(resets)
    done: set[str] = set()
    deltas = 0
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def passed(check: str) -> None:
        if check not in done:
            done.add(check)
            sys.stdout.write(f"ok {check}\n")  # one write: callbacks may run in threads
            sys.stdout.flush()
        if done.issuperset(CHECKS) and deltas >= BOOK_DELTAS:
            loop.stop()

    async def trade(t: object, receipt: float) -> None:
        passed("trades")

    async def ticker(t: object, receipt: float) -> None:
        passed("ticker")

    async def book(b: object, receipt: float) -> None:
        nonlocal deltas
        deltas += 1
        passed("l2_book")

    async def candle(c: object, receipt: float) -> None:
        passed("candles")

    async def funding(f: object, receipt: float) -> None:
        passed("funding")

    handler = FeedHandler(config={"log": {"disabled": True}})
    handler.add_feed(
        GateioFutures(
            symbols=["BTC-USDT-PERP"],
            channels=[TRADES, TICKER, L2_BOOK, CANDLES, FUNDING],
            callbacks={
                TRADES: trade,
                TICKER: ticker,
                L2_BOOK: book,
                CANDLES: candle,
                FUNDING: funding,
            },
        )
    )
    loop.call_later(DEADLINE, loop.stop)
    handler.run(start_loop=False)
    loop.run_forever()
    failures = []
    if not done.issuperset(CHECKS):
        failures.append(f"missing after {DEADLINE}s: {sorted(set(CHECKS) - done)}")
    if deltas < BOOK_DELTAS:
        failures.append(f"only {deltas} book updates")
    failures.extend(resets.lines)
    for failure in failures:
        print("FAIL", failure, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
