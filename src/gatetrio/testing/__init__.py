"""A protocol-faithful fake of Gate's futures WebSocket v4 exchange, for tests and demos.

    server = FakeGateServer(seed=0)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with gatetrio.open_client(connector=server.connector,
                                        wall_clock=server.wall_time) as client:
            ...

Layout: `_market` is the pure, seeded market simulation (books, trades, tickers, candles, ...);
`_fake_server` the trio shell (connections, subscriptions, faults, the in-memory connector);
`_loopback` serves the same fake on a real TCP port (`python -m gatetrio serve`).
"""

from __future__ import annotations

from ._fake_server import FAULT_KINDS as FAULT_KINDS
from ._fake_server import Connection as Connection
from ._fake_server import FakeGateServer as FakeGateServer
from ._fake_server import FaultSpec as FaultSpec
from ._fake_server import Received as Received
from ._fake_server import memory_socket_pair as memory_socket_pair
from ._fake_server import parse_fault as parse_fault
from ._fake_server import route as route
from ._market import DEFAULT_CONTRACTS as DEFAULT_CONTRACTS
from ._market import BookState as BookState
from ._market import ContractSpec as ContractSpec
from ._market import Market as Market
from ._market import Push as Push
from ._market import SubscribeError as SubscribeError
from ._trio_websocket import TrioWebSocket as TrioWebSocket
from ._trio_websocket import trio_websocket_connector as trio_websocket_connector

__all__ = [
    "DEFAULT_CONTRACTS",
    "FAULT_KINDS",
    "BookState",
    "Connection",
    "ContractSpec",
    "FakeGateServer",
    "FaultSpec",
    "Market",
    "Push",
    "Received",
    "SubscribeError",
    "memory_socket_pair",
    "parse_fault",
    "route",
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
