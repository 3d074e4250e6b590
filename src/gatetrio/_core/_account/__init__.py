"""The live account's pure half: the records it reports, snapshots and their REST readers, and
`AccountSync`, which merges pushes and snapshots (the essay is in `_sync.py`)."""

from __future__ import annotations

from ._records import AccountChange as AccountChange
from ._records import AccountStatistics as AccountStatistics
from ._records import AccountView as AccountView
from ._records import BalanceChange as BalanceChange
from ._records import ChangeReason as ChangeReason
from ._records import FillChange as FillChange
from ._records import OrderChange as OrderChange
from ._records import PositionChange as PositionChange
from ._records import PositionEvent as PositionEvent
from ._records import PositionKey as PositionKey
from ._records import SyncChange as SyncChange
from ._snapshot import AccountSnapshot as AccountSnapshot
from ._snapshot import FuturesAccount as FuturesAccount
from ._snapshot import read_account as read_account
from ._snapshot import read_positions as read_positions
from ._snapshot import read_trades as read_trades
from ._snapshot import server_time_ms as server_time_ms
from ._sync import AccountItem as AccountItem
from ._sync import AccountSync as AccountSync
from ._sync import SnapshotTicket as SnapshotTicket
from ._versions import position_key as position_key
