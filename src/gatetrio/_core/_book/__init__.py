"""Local order books, pure: `OrderBook`, and the syncs that keep one in step with Gate.

- `_orderbook.py`: `OrderBook`, one contract's exact book (sorted levels, price cache).
- `_sync.py`: `BookSync`, `futures.order_book_update` + REST snapshots (spec 6.5).
- `_obu.py`: `ObuSync`, `futures.obu`, whose first push is the snapshot (spec 6.6).
- `_rest.py`: `parse_rest_snapshot`, the REST snapshot body, untrusted JSON in, typed out.
- `_choice.py`: which stream a live book uses (`choose_method`, `choose_depth`), from the
  channel catalogue.
"""

from __future__ import annotations

from ._choice import BookMethod as BookMethod
from ._choice import Method as Method
from ._choice import choose_depth as choose_depth
from ._choice import choose_method as choose_method
from ._obu import ObuStatus as ObuStatus
from ._obu import ObuSync as ObuSync
from ._obu import ObuSyncStatistics as ObuSyncStatistics
from ._orderbook import Level as Level
from ._orderbook import OrderBook as OrderBook
from ._rest import RestSnapshot as RestSnapshot
from ._rest import parse_rest_snapshot as parse_rest_snapshot
from ._sync import BookSync as BookSync
from ._sync import BookSyncStatistics as BookSyncStatistics
from ._sync import SyncStatus as SyncStatus

__all__ = [
    "BookMethod",
    "BookSync",
    "BookSyncStatistics",
    "Level",
    "Method",
    "ObuStatus",
    "ObuSync",
    "ObuSyncStatistics",
    "OrderBook",
    "RestSnapshot",
    "SyncStatus",
    "choose_depth",
    "choose_method",
    "parse_rest_snapshot",
]
