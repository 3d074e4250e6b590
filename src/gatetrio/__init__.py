"""gatetrio: a trio-native client for Gate's futures WebSocket API v4.

Layout: `_core/` is the sans-IO core (records, decode, encode, signing, the protocol state
machine, order books, backoff, configuration, errors) and never imports trio; `_shell/` runs it
under trio (transport, subscriptions, the client and its supervised connections, live books);
`_cli/` is `python -m gatetrio`. `gatetrio.channels` builds subscription targets;
`gatetrio.testing` is the fake exchange. Only names exported here (and those two modules) are
public.

`import gatetrio` is light (benchmarks/README.md, "Import time"): the public names are resolved
on first use (PEP 562 `__getattr__`), and that first use loads them all at once, so every public
object reports `gatetrio` as its module from then on. `dir(gatetrio)`, and the classes,
functions and data `help(gatetrio)` shows, are the public surface only; its PACKAGE CONTENTS
still lists `_cli`, `_core` and `_shell`, because pydoc lists the package's directory
(`pkgutil.iter_modules(__path__)`) and no module attribute changes that.
"""

from __future__ import annotations

import importlib as _importlib
import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from . import channels as channels
    from ._core._book import BookSync as BookSync
    from ._core._book import OrderBook as OrderBook
    from ._core._book import SyncStatus as SyncStatus
    from ._core._config import ClientConfig as ClientConfig
    from ._core._config import Credentials as Credentials
    from ._core._config import RateLimitPolicy as RateLimitPolicy
    from ._core._config import endpoint_url as endpoint_url
    from ._core._decode import decode_message as decode_message
    from ._core._encode import encode_event as encode_event
    from ._core._encode import encode_request as encode_request
    from ._core._errors import AuthenticationError as AuthenticationError
    from ._core._errors import BookGap as BookGap
    from ._core._errors import ConnectionLost as ConnectionLost
    from ._core._errors import ExchangeError as ExchangeError
    from ._core._errors import FirstConnectTimeout as FirstConnectTimeout
    from ._core._errors import GateTrioError as GateTrioError
    from ._core._errors import GateTrioInternalError as GateTrioInternalError
    from ._core._errors import HeartbeatTimeout as HeartbeatTimeout
    from ._core._errors import InvalidArgument as InvalidArgument
    from ._core._errors import OrderNotFound as OrderNotFound
    from ._core._errors import ProtocolError as ProtocolError
    from ._core._errors import RateLimited as RateLimited
    from ._core._errors import ReconnectLimitReached as ReconnectLimitReached
    from ._core._errors import ReplyUnreadable as ReplyUnreadable
    from ._core._errors import RequestExpired as RequestExpired
    from ._core._errors import RequestInDoubt as RequestInDoubt
    from ._core._errors import RequestLost as RequestLost
    from ._core._errors import RequestRejected as RequestRejected
    from ._core._errors import RequestTimeout as RequestTimeout
    from ._core._errors import RequestUnauthorized as RequestUnauthorized
    from ._core._errors import ResponseTooLarge as ResponseTooLarge
    from ._core._errors import RestTimeout as RestTimeout
    from ._core._errors import RestUnavailable as RestUnavailable
    from ._core._errors import SubscribeTimeout as SubscribeTimeout
    from ._core._errors import SubscriptionOverflow as SubscriptionOverflow
    from ._core._errors import SubscriptionRejected as SubscriptionRejected
    from ._core._errors import Throttled as Throttled
    from ._core._errors import UnknownContract as UnknownContract
    from ._core._errors import UsageError as UsageError
    from ._core._events import AdlWarning as AdlWarning
    from ._core._events import AdlWarningUpdate as AdlWarningUpdate
    from ._core._events import ApiAck as ApiAck
    from ._core._events import ApiError as ApiError
    from ._core._events import ApiHeader as ApiHeader
    from ._core._events import ApiResult as ApiResult
    from ._core._events import AutoDeleverage as AutoDeleverage
    from ._core._events import AutoDeleveragesUpdate as AutoDeleveragesUpdate
    from ._core._events import AutoOrder as AutoOrder
    from ._core._events import AutoOrdersUpdate as AutoOrdersUpdate
    from ._core._events import Balance as Balance
    from ._core._events import BalancesUpdate as BalancesUpdate
    from ._core._events import BookDelta as BookDelta
    from ._core._events import BookLevel as BookLevel
    from ._core._events import BookSnapshot as BookSnapshot
    from ._core._events import BookTicker as BookTicker
    from ._core._events import BookTickerUpdate as BookTickerUpdate
    from ._core._events import Candlestick as Candlestick
    from ._core._events import CandlesticksUpdate as CandlesticksUpdate
    from ._core._events import ContractInfo as ContractInfo
    from ._core._events import ContractInfoUpdate as ContractInfoUpdate
    from ._core._events import ContractStats as ContractStats
    from ._core._events import ContractStatsUpdate as ContractStatsUpdate
    from ._core._events import DataEvent as DataEvent
    from ._core._events import ErrorReply as ErrorReply
    from ._core._events import Event as Event
    from ._core._events import LegacyBookEntry as LegacyBookEntry
    from ._core._events import LegacyOrderBookUpdate as LegacyOrderBookUpdate
    from ._core._events import Liquidation as Liquidation
    from ._core._events import LiquidationsUpdate as LiquidationsUpdate
    from ._core._events import ObuDelta as ObuDelta
    from ._core._events import ObuLevel as ObuLevel
    from ._core._events import ObuUpdate as ObuUpdate
    from ._core._events import Order as Order
    from ._core._events import OrderBookSnapshot as OrderBookSnapshot
    from ._core._events import OrderBookUpdate as OrderBookUpdate
    from ._core._events import OrdersUpdate as OrdersUpdate
    from ._core._events import Pong as Pong
    from ._core._events import Position as Position
    from ._core._events import PositionAdlRank as PositionAdlRank
    from ._core._events import PositionAdlRanksUpdate as PositionAdlRanksUpdate
    from ._core._events import PositionClose as PositionClose
    from ._core._events import PositionClosesUpdate as PositionClosesUpdate
    from ._core._events import PositionsUpdate as PositionsUpdate
    from ._core._events import PublicLiquidation as PublicLiquidation
    from ._core._events import PublicLiquidationsUpdate as PublicLiquidationsUpdate
    from ._core._events import ReduceRiskLimit as ReduceRiskLimit
    from ._core._events import ReduceRiskLimitsUpdate as ReduceRiskLimitsUpdate
    from ._core._events import RiskLimitTier as RiskLimitTier
    from ._core._events import Size as Size
    from ._core._events import SubscribeAck as SubscribeAck
    from ._core._events import SystemNotice as SystemNotice
    from ._core._events import Ticker as Ticker
    from ._core._events import TickersUpdate as TickersUpdate
    from ._core._events import Trade as Trade
    from ._core._events import TradesUpdate as TradesUpdate
    from ._core._events import UnknownEvent as UnknownEvent
    from ._core._events import UpgradeRequested as UpgradeRequested
    from ._core._events import UserTrade as UserTrade
    from ._core._events import UserTradesUpdate as UserTradesUpdate
    from ._core._protocol import TradingStatistics as TradingStatistics
    from ._core._request_base import TradingRequest as TradingRequest
    from ._core._requests import AmendOrder as AmendOrder
    from ._core._requests import BatchPlaceOrders as BatchPlaceOrders
    from ._core._requests import CancelAllOrders as CancelAllOrders
    from ._core._requests import CancelOrder as CancelOrder
    from ._core._requests import CancelOrders as CancelOrders
    from ._core._requests import ChannelSpec as ChannelSpec
    from ._core._requests import GetOrder as GetOrder
    from ._core._requests import ListOrders as ListOrders
    from ._core._requests import Login as Login
    from ._core._requests import PlaceOrder as PlaceOrder
    from ._core._resolve import Resolution as Resolution
    from ._core._results import BatchOrderOutcome as BatchOrderOutcome
    from ._core._results import CancelOutcome as CancelOutcome
    from ._core._results import LoginResult as LoginResult
    from ._shell._client import Client as Client
    from ._shell._client import ClientEvent as ClientEvent
    from ._shell._client import ClientEventKind as ClientEventKind
    from ._shell._client import ClientStatistics as ClientStatistics
    from ._shell._client import open_client as open_client
    from ._shell._live_book import BookStatistics as BookStatistics
    from ._shell._live_book import LiveOrderBook as LiveOrderBook
    from ._shell._pool import Pool as Pool
    from ._shell._pool import PoolEvent as PoolEvent
    from ._shell._pool import PoolStatistics as PoolStatistics
    from ._shell._pool import open_pool as open_pool
    from ._shell._raw_tap import RawFrame as RawFrame
    from ._shell._rest import RestClient as RestClient
    from ._shell._rest import RestStatistics as RestStatistics
    from ._shell._subscription import OverflowPolicy as OverflowPolicy
    from ._shell._subscription import Subscription as Subscription
    from ._shell._subscription import SubscriptionStatistics as SubscriptionStatistics

__version__ = "0.1.0"  # kept equal to pyproject.toml by tests/test_public_api.py

__all__ = [
    "AdlWarning",
    "AdlWarningUpdate",
    "AmendOrder",
    "ApiAck",
    "ApiError",
    "ApiHeader",
    "ApiResult",
    "AuthenticationError",
    "AutoDeleverage",
    "AutoDeleveragesUpdate",
    "AutoOrder",
    "AutoOrdersUpdate",
    "Balance",
    "BalancesUpdate",
    "BatchOrderOutcome",
    "BatchPlaceOrders",
    "BookDelta",
    "BookGap",
    "BookLevel",
    "BookSnapshot",
    "BookStatistics",
    "BookSync",
    "BookTicker",
    "BookTickerUpdate",
    "CancelAllOrders",
    "CancelOrder",
    "CancelOrders",
    "CancelOutcome",
    "Candlestick",
    "CandlesticksUpdate",
    "ChannelSpec",
    "Client",
    "ClientConfig",
    "ClientEvent",
    "ClientEventKind",
    "ClientStatistics",
    "ConnectionLost",
    "ContractInfo",
    "ContractInfoUpdate",
    "ContractStats",
    "ContractStatsUpdate",
    "Credentials",
    "DataEvent",
    "ErrorReply",
    "Event",
    "ExchangeError",
    "FirstConnectTimeout",
    "GateTrioError",
    "GateTrioInternalError",
    "GetOrder",
    "HeartbeatTimeout",
    "InvalidArgument",
    "LegacyBookEntry",
    "LegacyOrderBookUpdate",
    "Liquidation",
    "LiquidationsUpdate",
    "ListOrders",
    "LiveOrderBook",
    "Login",
    "LoginResult",
    "ObuDelta",
    "ObuLevel",
    "ObuUpdate",
    "Order",
    "OrderBook",
    "OrderBookSnapshot",
    "OrderBookUpdate",
    "OrderNotFound",
    "OrdersUpdate",
    "OverflowPolicy",
    "PlaceOrder",
    "Pong",
    "Pool",
    "PoolEvent",
    "PoolStatistics",
    "Position",
    "PositionAdlRank",
    "PositionAdlRanksUpdate",
    "PositionClose",
    "PositionClosesUpdate",
    "PositionsUpdate",
    "ProtocolError",
    "PublicLiquidation",
    "PublicLiquidationsUpdate",
    "RateLimitPolicy",
    "RateLimited",
    "RawFrame",
    "ReconnectLimitReached",
    "ReduceRiskLimit",
    "ReduceRiskLimitsUpdate",
    "ReplyUnreadable",
    "RequestExpired",
    "RequestInDoubt",
    "RequestLost",
    "RequestRejected",
    "RequestTimeout",
    "RequestUnauthorized",
    "Resolution",
    "ResponseTooLarge",
    "RestClient",
    "RestStatistics",
    "RestTimeout",
    "RestUnavailable",
    "RiskLimitTier",
    "Size",
    "SubscribeAck",
    "SubscribeTimeout",
    "Subscription",
    "SubscriptionOverflow",
    "SubscriptionRejected",
    "SubscriptionStatistics",
    "SyncStatus",
    "SystemNotice",
    "Throttled",
    "Ticker",
    "TickersUpdate",
    "Trade",
    "TradesUpdate",
    "TradingRequest",
    "TradingStatistics",
    "UnknownContract",
    "UnknownEvent",
    "UpgradeRequested",
    "UsageError",
    "UserTrade",
    "UserTradesUpdate",
    "__version__",
    "channels",
    "decode_message",
    "encode_event",
    "encode_request",
    "endpoint_url",
    "open_client",
    "open_pool",
]

# public name -> the private module that defines it
_SOURCES: dict[str, str] = {
    "BookSync": "gatetrio._core._book",
    "OrderBook": "gatetrio._core._book",
    "SyncStatus": "gatetrio._core._book",
    "ClientConfig": "gatetrio._core._config",
    "Credentials": "gatetrio._core._config",
    "RateLimitPolicy": "gatetrio._core._config",
    "endpoint_url": "gatetrio._core._config",
    "decode_message": "gatetrio._core._decode",
    "encode_event": "gatetrio._core._encode",
    "encode_request": "gatetrio._core._encode",
    "AuthenticationError": "gatetrio._core._errors",
    "BookGap": "gatetrio._core._errors",
    "ConnectionLost": "gatetrio._core._errors",
    "ExchangeError": "gatetrio._core._errors",
    "FirstConnectTimeout": "gatetrio._core._errors",
    "GateTrioError": "gatetrio._core._errors",
    "GateTrioInternalError": "gatetrio._core._errors",
    "HeartbeatTimeout": "gatetrio._core._errors",
    "InvalidArgument": "gatetrio._core._errors",
    "OrderNotFound": "gatetrio._core._errors",
    "ProtocolError": "gatetrio._core._errors",
    "RateLimited": "gatetrio._core._errors",
    "ReconnectLimitReached": "gatetrio._core._errors",
    "ReplyUnreadable": "gatetrio._core._errors",
    "RequestExpired": "gatetrio._core._errors",
    "RequestInDoubt": "gatetrio._core._errors",
    "RequestLost": "gatetrio._core._errors",
    "RequestRejected": "gatetrio._core._errors",
    "RequestTimeout": "gatetrio._core._errors",
    "RequestUnauthorized": "gatetrio._core._errors",
    "ResponseTooLarge": "gatetrio._core._errors",
    "RestTimeout": "gatetrio._core._errors",
    "RestUnavailable": "gatetrio._core._errors",
    "SubscribeTimeout": "gatetrio._core._errors",
    "SubscriptionOverflow": "gatetrio._core._errors",
    "SubscriptionRejected": "gatetrio._core._errors",
    "Throttled": "gatetrio._core._errors",
    "UnknownContract": "gatetrio._core._errors",
    "UsageError": "gatetrio._core._errors",
    "AdlWarning": "gatetrio._core._events",
    "AdlWarningUpdate": "gatetrio._core._events",
    "ApiAck": "gatetrio._core._events",
    "ApiError": "gatetrio._core._events",
    "ApiHeader": "gatetrio._core._events",
    "ApiResult": "gatetrio._core._events",
    "AutoDeleverage": "gatetrio._core._events",
    "AutoDeleveragesUpdate": "gatetrio._core._events",
    "AutoOrder": "gatetrio._core._events",
    "AutoOrdersUpdate": "gatetrio._core._events",
    "Balance": "gatetrio._core._events",
    "BalancesUpdate": "gatetrio._core._events",
    "BookDelta": "gatetrio._core._events",
    "BookLevel": "gatetrio._core._events",
    "BookSnapshot": "gatetrio._core._events",
    "BookTicker": "gatetrio._core._events",
    "BookTickerUpdate": "gatetrio._core._events",
    "Candlestick": "gatetrio._core._events",
    "CandlesticksUpdate": "gatetrio._core._events",
    "ContractInfo": "gatetrio._core._events",
    "ContractInfoUpdate": "gatetrio._core._events",
    "ContractStats": "gatetrio._core._events",
    "ContractStatsUpdate": "gatetrio._core._events",
    "DataEvent": "gatetrio._core._events",
    "ErrorReply": "gatetrio._core._events",
    "Event": "gatetrio._core._events",
    "LegacyBookEntry": "gatetrio._core._events",
    "LegacyOrderBookUpdate": "gatetrio._core._events",
    "Liquidation": "gatetrio._core._events",
    "LiquidationsUpdate": "gatetrio._core._events",
    "ObuDelta": "gatetrio._core._events",
    "ObuLevel": "gatetrio._core._events",
    "ObuUpdate": "gatetrio._core._events",
    "Order": "gatetrio._core._events",
    "OrderBookSnapshot": "gatetrio._core._events",
    "OrderBookUpdate": "gatetrio._core._events",
    "OrdersUpdate": "gatetrio._core._events",
    "Pong": "gatetrio._core._events",
    "Position": "gatetrio._core._events",
    "PositionAdlRank": "gatetrio._core._events",
    "PositionAdlRanksUpdate": "gatetrio._core._events",
    "PositionClose": "gatetrio._core._events",
    "PositionClosesUpdate": "gatetrio._core._events",
    "PositionsUpdate": "gatetrio._core._events",
    "PublicLiquidation": "gatetrio._core._events",
    "PublicLiquidationsUpdate": "gatetrio._core._events",
    "ReduceRiskLimit": "gatetrio._core._events",
    "ReduceRiskLimitsUpdate": "gatetrio._core._events",
    "RiskLimitTier": "gatetrio._core._events",
    "Size": "gatetrio._core._events",
    "SubscribeAck": "gatetrio._core._events",
    "SystemNotice": "gatetrio._core._events",
    "Ticker": "gatetrio._core._events",
    "TickersUpdate": "gatetrio._core._events",
    "Trade": "gatetrio._core._events",
    "TradesUpdate": "gatetrio._core._events",
    "UnknownEvent": "gatetrio._core._events",
    "UpgradeRequested": "gatetrio._core._events",
    "UserTrade": "gatetrio._core._events",
    "UserTradesUpdate": "gatetrio._core._events",
    "TradingStatistics": "gatetrio._core._protocol",
    "TradingRequest": "gatetrio._core._request_base",
    "AmendOrder": "gatetrio._core._requests",
    "BatchPlaceOrders": "gatetrio._core._requests",
    "CancelAllOrders": "gatetrio._core._requests",
    "CancelOrder": "gatetrio._core._requests",
    "CancelOrders": "gatetrio._core._requests",
    "ChannelSpec": "gatetrio._core._requests",
    "GetOrder": "gatetrio._core._requests",
    "ListOrders": "gatetrio._core._requests",
    "Login": "gatetrio._core._requests",
    "PlaceOrder": "gatetrio._core._requests",
    "Resolution": "gatetrio._core._resolve",
    "BatchOrderOutcome": "gatetrio._core._results",
    "CancelOutcome": "gatetrio._core._results",
    "LoginResult": "gatetrio._core._results",
    "Client": "gatetrio._shell._client",
    "ClientEvent": "gatetrio._shell._client",
    "ClientEventKind": "gatetrio._shell._client",
    "ClientStatistics": "gatetrio._shell._client",
    "open_client": "gatetrio._shell._client",
    "BookStatistics": "gatetrio._shell._live_book",
    "LiveOrderBook": "gatetrio._shell._live_book",
    "Pool": "gatetrio._shell._pool",
    "PoolEvent": "gatetrio._shell._pool",
    "PoolStatistics": "gatetrio._shell._pool",
    "open_pool": "gatetrio._shell._pool",
    "RawFrame": "gatetrio._shell._raw_tap",
    "RestClient": "gatetrio._shell._rest",
    "RestStatistics": "gatetrio._shell._rest",
    "OverflowPolicy": "gatetrio._shell._subscription",
    "Subscription": "gatetrio._shell._subscription",
    "SubscriptionStatistics": "gatetrio._shell._subscription",
}


def _load() -> None:
    # One-shot: import every public name and, like trio's fixup_module_metadata, make public
    # classes and functions report `gatetrio` as their module (reprs and docs show the public
    # path). Done for all names at once so the result does not depend on which came first.
    namespace = globals()
    for name, source in _SOURCES.items():
        obj = getattr(_importlib.import_module(source), name)
        namespace[name] = obj
        module = getattr(obj, "__module__", "")
        if (
            isinstance(module, str)
            and module.startswith("gatetrio._")
            and isinstance(obj, type | _types.FunctionType)
        ):
            try:
                obj.__module__ = "gatetrio"
            except (AttributeError, TypeError):  # pragma: no cover - immutable builtin
                continue
    namespace["channels"] = _importlib.import_module("gatetrio.channels")


def __getattr__(name: str) -> _Any:
    if name == "channels":  # the submodule alone: internal modules import it from here
        return _importlib.import_module("gatetrio.channels")
    if name in _SOURCES:
        _load()
        return globals()[name]
    raise AttributeError(f"module 'gatetrio' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
