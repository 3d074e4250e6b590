"""The fake exchange's market: a pure, seeded simulation of Gate futures settle markets.

No trio and no clock reads anywhere in this package (an AST test globs it): `Market` takes the
caller's time as an argument. See `_market` for the rules and the layout.
"""

from __future__ import annotations

from ._book import BOOK_DEPTHS as BOOK_DEPTHS
from ._book import BookState as BookState
from ._catalogue import catalogue as catalogue
from ._contracts import DEFAULT_CONTRACTS as DEFAULT_CONTRACTS
from ._contracts import DELIVERY_DATE as DELIVERY_DATE
from ._contracts import ContractSpec as ContractSpec
from ._market import DEFAULT_EPOCH_MS as DEFAULT_EPOCH_MS
from ._market import Market as Market
from ._market import MarketOptions as MarketOptions
from ._pushes import Push as Push
from ._simulation import STEP_MS as STEP_MS
from ._topics import ALL as ALL
from ._topics import CANDLE_INTERVALS as CANDLE_INTERVALS
from ._topics import ORDER_BOOK_LIMITS as ORDER_BOOK_LIMITS
from ._topics import STATS_INTERVALS as STATS_INTERVALS
from ._topics import SubscribeError as SubscribeError
from ._topics import Topic as Topic
