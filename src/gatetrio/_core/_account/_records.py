"""What a live account reports: its changes, its statistics and a view of it. Pure records.

A change says what changed and why (`ChangeReason`): a private push said so, the first REST
snapshot loaded it, or a later snapshot corrected what missed pushes had left wrong. Each kind
of state has its own record, so a `match` over `AccountChange` is exhaustive:

- `OrderChange`: an open order appeared, changed, or left the open orders (`finished`);
- `PositionChange`: a position changed (or is gone from Gate's list: `position` is None);
- `BalanceChange`: the balance changed;
- `FillChange`: one of the account's trades (a push, or one recovered from REST after a gap);
- `PositionEvent`: a liquidation, an auto-deleverage or a position close (what Gate pushes on
  `futures.liquidates`, `futures.auto_deleverages` and `futures.position_closes`);
- `SyncChange`: the account became unsynced (why) or synced again (how many corrections).
"""

from __future__ import annotations

import enum
import typing
from typing import TYPE_CHECKING, TypeAlias

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal

    from gatetrio._core._events import (
        AutoDeleverage,
        Balance,
        Liquidation,
        Order,
        Position,
        PositionClose,
        UserTrade,
    )

PositionKey: TypeAlias = tuple[str, str]
"""A position's key: ``(contract, mode)``, mode ``single``, ``dual_long`` or ``dual_short``."""


class ChangeReason(enum.Enum):
    """Why the account changed."""

    PUSH = "push"
    """A private push said so."""
    SNAPSHOT = "snapshot"
    """The first REST snapshot loaded it: the account's starting state."""
    CORRECTION = "correction"
    """A later REST snapshot differed from what the pushes had said (pushes were missed, in a
    reconnect or while Gate dropped them) and fixed it. Counted in `corrections`."""


@typing.final
@attrs.frozen
class OrderChange:
    """An open order appeared, changed, or finished.

    `order` is the order as it stands now; a finished one (`finished`) has left
    `LiveAccount.orders`. `before` is how the account had it (None: new to the account). When a
    snapshot finds an order gone that no push said finished, `order` is the finished order from
    REST (`finish_as` says how), or, if REST no longer has it, `before` with status
    ``finished`` and an empty `finish_as`.
    """

    order: Order
    before: Order | None
    reason: ChangeReason

    @property
    def finished(self) -> bool:
        """The order is no longer open."""
        return self.order.status != "open"


@typing.final
@attrs.frozen
class PositionChange:
    """A position changed. `key` is ``(contract, mode)``; `position` is None when Gate no longer
    lists it (a snapshot found it gone); `before` is how the account had it."""

    key: PositionKey
    position: Position | None
    before: Position | None
    reason: ChangeReason


@typing.final
@attrs.frozen
class BalanceChange:
    """The balance changed from `before` to `balance` (the settle currency's total, as Gate's
    `futures.balances` pushes and REST ``total`` give it). `push` is the push behind a PUSH
    change (its `type`: fee, pnl, dnw, ...); None for a snapshot."""

    balance: Decimal
    before: Decimal | None
    reason: ChangeReason
    push: Balance | None = None


@typing.final
@attrs.frozen
class FillChange:
    """One of the account's trades. PUSH: it came on `futures.usertrades`; CORRECTION: no push
    brought it (the socket was down, or Gate dropped it) and REST ``my_trades`` did. A trade
    is reported once, whichever came first."""

    trade: UserTrade
    reason: ChangeReason


@typing.final
@attrs.frozen
class PositionEvent:
    """What Gate said happened to a position: a liquidation, an auto-deleverage or a close.

    The position itself changes with the `PositionChange` that follows; this record says why.
    """

    event: Liquidation | AutoDeleverage | PositionClose
    reason: ChangeReason = ChangeReason.PUSH


@typing.final
@attrs.frozen
class SyncChange:
    """The account became unsynced (`synced` False; `reason` says why) or synced again
    (`synced` True; `corrections` is how many differences that snapshot fixed)."""

    synced: bool
    reason: str
    corrections: int = 0


AccountChange: TypeAlias = (
    OrderChange | PositionChange | BalanceChange | FillChange | PositionEvent | SyncChange
)
"""What `async for change in account` yields."""


@typing.final
@attrs.frozen
class AccountView:
    """The account's state at one moment (`LiveAccount.view()`), current or not.

    `synced` False means it may be stale: pushes may have been missed since `unsynced_reason`
    (a lost connection, a gap). `orders` are the open orders by id, `positions` by
    ``(contract, mode)``, `balance` the settle currency's total (None before the first
    snapshot). `as_of` is the server's unix time (seconds) of the snapshot it rests on (None
    before the first).
    """

    synced: bool
    orders: Mapping[int, Order]
    positions: Mapping[PositionKey, Position]
    balance: Decimal | None
    as_of: float | None
    unsynced_reason: str = ""


@typing.final
@attrs.frozen
class AccountStatistics:
    """A live account's counters, as returned by `LiveAccount.statistics()`."""

    synced: bool
    """The account is synced now (its state is current)."""
    user_id: str
    """The account's Gate UID, as learned (login reply or REST accounts)."""
    snapshots: int
    """REST snapshots loaded (count): at start, after every reconnect, gap or check."""
    snapshot_failures: int
    """REST snapshots that failed (count); each is retried with backoff."""
    corrections: int
    """Differences later snapshots found between the pushes and the truth (count): orders,
    positions and the balance fixed, and trades recovered. Each is also a `CORRECTION` change
    and an `ACCOUNT_CORRECTION` client event."""
    order_corrections: int
    """Of `corrections`: open orders added, changed or finished by a snapshot."""
    position_corrections: int
    """Of `corrections`: positions a snapshot changed or found gone."""
    balance_corrections: int
    """Of `corrections`: times a snapshot changed the balance."""
    fills_recovered: int
    """Of `corrections`: trades no push brought, recovered from REST ``my_trades``."""
    gaps: int
    """Update-id gaps seen in order and position pushes (count); each asks for a snapshot."""
    stale_pushes: int
    """Pushes older than what the account already had (a snapshot's, or a later push's), and
    repeated ones: ignored, never reverting the account (count)."""
    pushes: int
    """Private items taken in (count)."""
    unsynced: int
    """Times the account became unsynced: a lost connection, a gap, dropped pushes (count)."""
    last_sync_time: float | None
    """The server's unix time (seconds) of the latest snapshot loaded; None before the first."""
    unsynced_reason: str = ""
    """Why the account is unsynced ("" while synced)."""
    changes_dropped: int = 0
    """Changes a slow `async for change in account` consumer lost (the oldest go first); the
    account's own state is not affected."""
    other_balance_pushes: int = 0
    """`futures.balances` pushes about another currency than the settle one, or about the
    point balance (``point_*`` types): not the settle total, so ignored (count)."""
