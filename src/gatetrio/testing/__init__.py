"""A protocol-faithful fake of Gate's futures WebSocket v4 exchange, for tests and demos.

    server = FakeGateServer(seed=0)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with gatetrio.open_client(connector=server.connector,
                                        wall_clock=server.wall_time) as client:
            ...
        nursery.cancel_scope.cancel()  # server.run serves until cancelled

Contracts: `DEFAULT_CONTRACTS` (BTC_USDT, ETH_USDT, SOL_USDT, HEI_USDT; BTC_USD; BTC_USD1,
ETH_USD1; delivery BTC_USDT_20261225, ETH_USDT_20261225, BTC_USD_20261225). Faults:
`FakeGateServer.inject_gap`, `drop`, `stall`/`resume`, `send_upgrade`, `refuse`,
`send_malformed`, `close`; or the `--fault` language of `gatetrio serve` (`parse_fault`).
Trading: `FakeGateServer.trading` (`TradingApi`) answers past Gate's rate limits with its 429,
measures the rate requests arrived at (`max_rate`), and misbehaves on demand (`misbehave`). The
account (`FakeGateServer.account`, a `FakeAccount`): market moves that liquidate,
auto-deleverages, risk-limit reductions, ADL ranks, dual mode, deposits, and private pushes
dropped or delayed on a live socket.

Options: `ConnectionOptions` (queues, pong timeout), `MarketOptions` (how markets push) and a
`FakeProfile` (where live Gate and its docs disagree; `PROFILES` holds "live" and "docs").

Layout: `_server` is the trio shell (FakeGateServer: routing, the market clock), with
`_connection` (the WebSocket-serving path both servers share, and one connection's queue and
tasks), `_subscriptions`, `_trading_api` and `_account` (the trading engine, with
`_orders`, `_positions`, `_risk`, `_private_pushes` and the `_fake_account` facade), `_replies`,
`_rest`, `_faults` and `_memory` (in-memory sockets and dialing) around it; `_market/` is the
pure, seeded market simulation (books, trades, tickers, candles, ...); `_replay` serves a
recording; `_loopback` serves either on a real TCP port (`python -m gatetrio serve`).
"""

from __future__ import annotations

from ._connection import Connection as Connection
from ._connection import ConnectionOptions as ConnectionOptions
from ._connection import Received as Received
from ._connection import route as route
from ._fake_account import FakeAccount as FakeAccount
from ._faults import FAULT_KINDS as FAULT_KINDS
from ._faults import FaultSpec as FaultSpec
from ._faults import parse_fault as parse_fault
from ._market import DEFAULT_CONTRACTS as DEFAULT_CONTRACTS
from ._market import BookState as BookState
from ._market import ContractSpec as ContractSpec
from ._market import Market as Market
from ._market import MarketOptions as MarketOptions
from ._market import Push as Push
from ._market import SubscribeError as SubscribeError
from ._market import catalogue as catalogue
from ._memory import memory_socket_pair as memory_socket_pair
from ._profile import PROFILES as PROFILES
from ._profile import FakeProfile as FakeProfile
from ._replay import ReplayServer as ReplayServer
from ._server import FakeGateServer as FakeGateServer
from ._trading_api import Misbehaviour as Misbehaviour
from ._trading_api import TradingApi as TradingApi
from ._trio_websocket import TrioWebSocket as TrioWebSocket
from ._trio_websocket import trio_websocket_connector as trio_websocket_connector

__all__ = [
    "DEFAULT_CONTRACTS",
    "FAULT_KINDS",
    "PROFILES",
    "BookState",
    "Connection",
    "ConnectionOptions",
    "ContractSpec",
    "FakeAccount",
    "FakeGateServer",
    "FakeProfile",
    "FaultSpec",
    "Market",
    "MarketOptions",
    "Misbehaviour",
    "Push",
    "Received",
    "ReplayServer",
    "SubscribeError",
    "TradingApi",
    "TrioWebSocket",
    "catalogue",
    "memory_socket_pair",
    "parse_fault",
    "route",
    "trio_websocket_connector",
]


def _fix_module_metadata() -> None:
    # As gatetrio/__init__ does: public objects report their public module.
    for name in __all__:
        obj = globals()[name]
        if callable(obj):  # classes and functions; not the constants
            try:
                obj.__module__ = __name__
            except (AttributeError, TypeError):  # pragma: no cover - immutable
                continue


_fix_module_metadata()
del _fix_module_metadata
