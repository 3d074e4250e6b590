"""gatetrio: a trio-native client for Gate's futures WebSocket API v4.

Layout: the sans-IO core (`_events`, `_decode`, `_encode`, `_auth`, `_requests`, `_protocol`,
`_book`, `_backoff`, `_config`, `_errors`) never imports trio; the shell (`_client`,
`_subscription`, `_live_book`, `_transport`) runs it under trio. `gatetrio.channels` builds
subscription targets; `gatetrio.testing` is the fake exchange. Only names exported here (and
those two modules) are public.
"""

from __future__ import annotations

import importlib.metadata as _metadata
import types as _types

from . import channels as channels
from ._book import BookSync as BookSync
from ._book import OrderBook as OrderBook
from ._book import SyncStatus as SyncStatus
from ._client import Client as Client
from ._client import ClientEvent as ClientEvent
from ._client import ClientEventKind as ClientEventKind
from ._client import ClientStatistics as ClientStatistics
from ._client import open_client as open_client
from ._config import ClientConfig as ClientConfig
from ._config import Credentials as Credentials
from ._config import endpoint_url as endpoint_url
from ._decode import decode_message as decode_message
from ._encode import encode_event as encode_event
from ._encode import encode_request as encode_request
from ._errors import AuthenticationError as AuthenticationError
from ._errors import BookGap as BookGap
from ._errors import ConnectionLost as ConnectionLost
from ._errors import ExchangeError as ExchangeError
from ._errors import GateTrioError as GateTrioError
from ._errors import GateTrioInternalError as GateTrioInternalError
from ._errors import HeartbeatTimeout as HeartbeatTimeout
from ._errors import ProtocolError as ProtocolError
from ._errors import ReconnectLimitReached as ReconnectLimitReached
from ._errors import RequestRejected as RequestRejected
from ._errors import SubscriptionOverflow as SubscriptionOverflow
from ._errors import SubscriptionRejected as SubscriptionRejected
from ._errors import UsageError as UsageError
from ._events import AdlWarning as AdlWarning
from ._events import AdlWarningUpdate as AdlWarningUpdate
from ._events import ApiAck as ApiAck
from ._events import ApiError as ApiError
from ._events import ApiHeader as ApiHeader
from ._events import ApiResult as ApiResult
from ._events import AutoDeleverage as AutoDeleverage
from ._events import AutoDeleveragesUpdate as AutoDeleveragesUpdate
from ._events import AutoOrder as AutoOrder
from ._events import AutoOrdersUpdate as AutoOrdersUpdate
from ._events import Balance as Balance
from ._events import BalancesUpdate as BalancesUpdate
from ._events import BookDelta as BookDelta
from ._events import BookLevel as BookLevel
from ._events import BookSnapshot as BookSnapshot
from ._events import BookTicker as BookTicker
from ._events import BookTickerUpdate as BookTickerUpdate
from ._events import Candlestick as Candlestick
from ._events import CandlesticksUpdate as CandlesticksUpdate
from ._events import ContractInfo as ContractInfo
from ._events import ContractInfoUpdate as ContractInfoUpdate
from ._events import ContractStats as ContractStats
from ._events import ContractStatsUpdate as ContractStatsUpdate
from ._events import DataEvent as DataEvent
from ._events import ErrorReply as ErrorReply
from ._events import Event as Event
from ._events import LegacyBookEntry as LegacyBookEntry
from ._events import LegacyOrderBookUpdate as LegacyOrderBookUpdate
from ._events import Liquidation as Liquidation
from ._events import LiquidationsUpdate as LiquidationsUpdate
from ._events import ObuDelta as ObuDelta
from ._events import ObuLevel as ObuLevel
from ._events import ObuUpdate as ObuUpdate
from ._events import Order as Order
from ._events import OrderBookSnapshot as OrderBookSnapshot
from ._events import OrderBookUpdate as OrderBookUpdate
from ._events import OrdersUpdate as OrdersUpdate
from ._events import Pong as Pong
from ._events import Position as Position
from ._events import PositionAdlRank as PositionAdlRank
from ._events import PositionAdlRanksUpdate as PositionAdlRanksUpdate
from ._events import PositionClose as PositionClose
from ._events import PositionClosesUpdate as PositionClosesUpdate
from ._events import PositionsUpdate as PositionsUpdate
from ._events import PublicLiquidation as PublicLiquidation
from ._events import PublicLiquidationsUpdate as PublicLiquidationsUpdate
from ._events import ReduceRiskLimit as ReduceRiskLimit
from ._events import ReduceRiskLimitsUpdate as ReduceRiskLimitsUpdate
from ._events import RiskLimitTier as RiskLimitTier
from ._events import Size as Size
from ._events import SubscribeAck as SubscribeAck
from ._events import SystemNotice as SystemNotice
from ._events import Ticker as Ticker
from ._events import TickersUpdate as TickersUpdate
from ._events import Trade as Trade
from ._events import TradesUpdate as TradesUpdate
from ._events import UnknownEvent as UnknownEvent
from ._events import UpgradeRequested as UpgradeRequested
from ._events import UserTrade as UserTrade
from ._events import UserTradesUpdate as UserTradesUpdate
from ._live_book import BookStatistics as BookStatistics
from ._live_book import LiveOrderBook as LiveOrderBook
from ._requests import AmendOrder as AmendOrder
from ._requests import BatchPlaceOrders as BatchPlaceOrders
from ._requests import CancelAllOrders as CancelAllOrders
from ._requests import CancelOrder as CancelOrder
from ._requests import CancelOrders as CancelOrders
from ._requests import ChannelSpec as ChannelSpec
from ._requests import GetOrder as GetOrder
from ._requests import ListOrders as ListOrders
from ._requests import Login as Login
from ._requests import PlaceOrder as PlaceOrder
from ._subscription import OverflowPolicy as OverflowPolicy
from ._subscription import Subscription as Subscription
from ._subscription import SubscriptionStatistics as SubscriptionStatistics

try:
    __version__ = _metadata.version("gatetrio")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
    "GateTrioError",
    "GateTrioInternalError",
    "GetOrder",
    "HeartbeatTimeout",
    "LegacyBookEntry",
    "LegacyOrderBookUpdate",
    "Liquidation",
    "LiquidationsUpdate",
    "ListOrders",
    "LiveOrderBook",
    "Login",
    "ObuDelta",
    "ObuLevel",
    "ObuUpdate",
    "Order",
    "OrderBook",
    "OrderBookSnapshot",
    "OrderBookUpdate",
    "OrdersUpdate",
    "OverflowPolicy",
    "PlaceOrder",
    "Pong",
    "Position",
    "PositionAdlRank",
    "PositionAdlRanksUpdate",
    "PositionClose",
    "PositionClosesUpdate",
    "PositionsUpdate",
    "ProtocolError",
    "PublicLiquidation",
    "PublicLiquidationsUpdate",
    "ReconnectLimitReached",
    "ReduceRiskLimit",
    "ReduceRiskLimitsUpdate",
    "RequestRejected",
    "RiskLimitTier",
    "Size",
    "SubscribeAck",
    "Subscription",
    "SubscriptionOverflow",
    "SubscriptionRejected",
    "SubscriptionStatistics",
    "SyncStatus",
    "SystemNotice",
    "Ticker",
    "TickersUpdate",
    "Trade",
    "TradesUpdate",
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
]


def _fix_module_metadata() -> None:
    # Like trio's fixup_module_metadata: public objects report `gatetrio` as their module, so
    # reprs and docs show the public path, not the private one.
    for name in __all__:
        obj = globals()[name]
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


_fix_module_metadata()
del _fix_module_metadata
