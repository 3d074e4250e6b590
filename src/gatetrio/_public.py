"""The public names of `gatetrio`: ONE table, grouped by the private module that defines each.

`gatetrio/__init__.py` loads this module on the first use of any public name (the lazy import
keeps `import gatetrio` free of dependencies: benchmarks/README.md, "Import time"), and type
checkers read it through the star import there. Every name re-exported here with the redundant
alias (`X as X`, trio's idiom) is public, and `gatetrio.__all__` is built from this module: add
a public name by adding its import below, in its module's group.

What a subscriber rarely touches (the frames `decode_message` returns, the protocol's replies,
the event unions, the encoders) lives in `gatetrio.events` instead, so the top level reads as:
the client and its subscriptions, configuration, the pool, books, the records subscriptions
yield, trading requests, and errors.
"""

# No `from __future__ import annotations` (the house default): a star import of this module
# would re-export the `annotations` feature flag with the public names. Imports stay in their
# groups (not one sorted block), each with the redundant alias that marks a re-export.
# ruff: noqa: I001, I002, PLC0414

# client and subscriptions
from ._shell._client import Client as Client
from ._shell._client import ClientEvent as ClientEvent
from ._shell._client import ClientEventKind as ClientEventKind
from ._shell._client import ClientStatistics as ClientStatistics
from ._shell._client import open_client as open_client
from ._shell._subscription import OverflowPolicy as OverflowPolicy
from ._shell._subscription import Subscription as Subscription
from ._shell._subscription import SubscriptionStatistics as SubscriptionStatistics
from ._shell._raw_tap import RawFrame as RawFrame
from ._core._requests import ChannelSpec as ChannelSpec

# REST: the one helper every REST call goes through (snapshots, listings, account calls)
from ._shell._rest import RestClient as RestClient
from ._shell._rest import RestStatistics as RestStatistics

# configuration
from ._core._config import ClientConfig as ClientConfig
from ._core._config import Credentials as Credentials
from ._core._config import RateLimitPolicy as RateLimitPolicy
from ._core._config import endpoint_url as endpoint_url

# many connections
from ._shell._pool import Pool as Pool
from ._shell._pool import PoolEvent as PoolEvent
from ._shell._pool import PoolStatistics as PoolStatistics
from ._shell._pool import open_pool as open_pool

# order books: the live book a client keeps, and the pure book and REST sync under it
from ._shell._live_book import BookStatistics as BookStatistics
from ._shell._live_book import LiveOrderBook as LiveOrderBook
from ._core._book import BookSync as BookSync
from ._core._book import OrderBook as OrderBook
from ._core._book import SyncStatus as SyncStatus

# live accounts: orders, positions and balance kept true across reconnects, and what changed
from ._shell._account import LiveAccount as LiveAccount
from ._core._account import AccountChange as AccountChange
from ._core._account import AccountStatistics as AccountStatistics
from ._core._account import AccountView as AccountView
from ._core._account import BalanceChange as BalanceChange
from ._core._account import ChangeReason as ChangeReason
from ._core._account import FillChange as FillChange
from ._core._account import OrderChange as OrderChange
from ._core._account import PositionChange as PositionChange
from ._core._account import PositionEvent as PositionEvent
from ._core._account import PositionKey as PositionKey
from ._core._account import SyncChange as SyncChange

# the records subscriptions yield (one per item of a push), and their parts
from ._core._events import AdlWarning as AdlWarning
from ._core._events import AutoDeleverage as AutoDeleverage
from ._core._events import AutoOrder as AutoOrder
from ._core._events import Balance as Balance
from ._core._events import BookDelta as BookDelta
from ._core._events import BookLevel as BookLevel
from ._core._events import BookSnapshot as BookSnapshot
from ._core._events import BookTicker as BookTicker
from ._core._events import Candlestick as Candlestick
from ._core._events import ContractInfo as ContractInfo
from ._core._events import ContractStats as ContractStats
from ._core._events import LegacyBookEntry as LegacyBookEntry
from ._core._events import Liquidation as Liquidation
from ._core._events import ObuDelta as ObuDelta
from ._core._events import ObuLevel as ObuLevel
from ._core._events import Order as Order
from ._core._events import Position as Position
from ._core._events import PositionAdlRank as PositionAdlRank
from ._core._events import PositionClose as PositionClose
from ._core._events import PublicLiquidation as PublicLiquidation
from ._core._events import ReduceRiskLimit as ReduceRiskLimit
from ._core._events import RiskLimitTier as RiskLimitTier
from ._core._events import Size as Size
from ._core._events import Ticker as Ticker
from ._core._events import Trade as Trade
from ._core._events import UserTrade as UserTrade

# trading: the requests `Client.request` sends, what it returns, and `Client.resolve`
from ._core._request_base import TradingRequest as TradingRequest
from ._core._requests import AmendOrder as AmendOrder
from ._core._requests import BatchPlaceOrders as BatchPlaceOrders
from ._core._requests import CancelAllOrders as CancelAllOrders
from ._core._requests import CancelOrder as CancelOrder
from ._core._requests import CancelOrders as CancelOrders
from ._core._requests import GetOrder as GetOrder
from ._core._requests import ListOrders as ListOrders
from ._core._requests import Login as Login
from ._core._requests import PlaceOrder as PlaceOrder
from ._core._results import BatchOrderOutcome as BatchOrderOutcome
from ._core._results import CancelOutcome as CancelOutcome
from ._core._results import LoginResult as LoginResult
from ._core._resolve import Resolution as Resolution
from ._core._protocol import TradingStatistics as TradingStatistics

# errors: one root, GateTrioError (its docstring draws the tree)
from ._core._errors import AccountUnsynced as AccountUnsynced
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
from ._core._errors import UserIdMismatch as UserIdMismatch

from . import channels as channels
