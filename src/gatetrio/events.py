"""`gatetrio.events`: what the wire carries, for code below the subscription level.

A subscription yields records (`gatetrio.Trade`, `gatetrio.Ticker`, ...). This module holds what
those are cut from: the frames `decode_message` returns for each push (`TradesUpdate`, ...),
the protocol's replies (`SubscribeAck`, `Pong`, `ErrorReply`, `UpgradeRequested`, ...), the
unions over them (`Event`, `DataEvent`), and the encoders that write them back as Gate's JSON
(the fake exchange, recordings and the bus use them). Decoding is the benchmarked hot path:
`decode_message(text)` returns an `Event` or raises `ProtocolError`, nothing else.
"""

from __future__ import annotations

# the redundant alias marks a re-export (trio's idiom); __all__ is every name imported here
# ruff: noqa: I001, PLC0414, PLE0605

from ._core._decode import decode_message as decode_message
from ._core._encode import encode_event as encode_event
from ._core._encode import encode_request as encode_request

# frames: one per channel push, `result` holding the records (or the one record)
from ._core._events import AdlWarningUpdate as AdlWarningUpdate
from ._core._events import AutoDeleveragesUpdate as AutoDeleveragesUpdate
from ._core._events import AutoOrdersUpdate as AutoOrdersUpdate
from ._core._events import BalancesUpdate as BalancesUpdate
from ._core._events import BookTickerUpdate as BookTickerUpdate
from ._core._events import CandlesticksUpdate as CandlesticksUpdate
from ._core._events import ContractInfoUpdate as ContractInfoUpdate
from ._core._events import ContractStatsUpdate as ContractStatsUpdate
from ._core._events import DataEvent as DataEvent
from ._core._events import Event as Event
from ._core._events import LegacyOrderBookUpdate as LegacyOrderBookUpdate
from ._core._events import LiquidationsUpdate as LiquidationsUpdate
from ._core._events import ObuUpdate as ObuUpdate
from ._core._events import OrderBookSnapshot as OrderBookSnapshot
from ._core._events import OrderBookUpdate as OrderBookUpdate
from ._core._events import OrdersUpdate as OrdersUpdate
from ._core._events import PositionAdlRanksUpdate as PositionAdlRanksUpdate
from ._core._events import PositionClosesUpdate as PositionClosesUpdate
from ._core._events import PositionsUpdate as PositionsUpdate
from ._core._events import PublicLiquidationsUpdate as PublicLiquidationsUpdate
from ._core._events import ReduceRiskLimitsUpdate as ReduceRiskLimitsUpdate
from ._core._events import TickersUpdate as TickersUpdate
from ._core._events import TradesUpdate as TradesUpdate
from ._core._events import UserTradesUpdate as UserTradesUpdate

# replies and notices
from ._core._events import ApiAck as ApiAck
from ._core._events import ApiError as ApiError
from ._core._events import ApiHeader as ApiHeader
from ._core._events import ApiResult as ApiResult
from ._core._events import ErrorReply as ErrorReply
from ._core._events import Pong as Pong
from ._core._events import SubscribeAck as SubscribeAck
from ._core._events import SystemNotice as SystemNotice
from ._core._events import UnknownEvent as UnknownEvent
from ._core._events import UpgradeRequested as UpgradeRequested
from ._fixup import fixup_module_metadata as _fixup_module_metadata

__all__ = sorted(name for name in dir() if not name.startswith("_") and name != "annotations")
_fixup_module_metadata(__name__, globals(), __all__)
