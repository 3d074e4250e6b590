"""`AccountSync`: an account's open orders, positions and balance, from pushes and REST
snapshots merged. Pure: no I/O, no trio, no clock reads; times are arguments.

Rule 1: no I/O, no trio, no clock reads. Rule 2: every method is sync and returns what changed
(`AccountChange` records); the shell moves frames and REST bodies in and the changes out.

Why snapshots at all. Private pushes sent while a socket is down are gone, and Gate can drop
pushes on a live socket too. Each push carries an absolute state (an order as it stands, a
position, the balance after one change), so the next push about the same thing heals it; but
an order whose last push was lost stays "open" forever, and a fill made during a reconnect is
never seen. So the shell takes a REST snapshot (open orders, positions, the account, and the
trades since the last one) at start, after every resubscription on a new connection, after a
gap and on request, and this class merges it with the pushes.

The merge, in the order-book way. `begin_snapshot` is called just before the REST requests go
out, after every buffered push was fed. From then on pushes still apply at once (the account
stays live), and are also kept ("in flight"). `load_snapshot` then rebuilds the state:

1. Start from the snapshot. Anything the account learned from pushes fed before
   `begin_snapshot` happened before the server read the snapshot, so the snapshot includes
   it: an open order the snapshot lacks has finished (no push said so: a correction), unless
   it changed at or after the server's receive time (`as_of`), which a snapshot read earlier
   cannot know. Where the account holds a newer version than the snapshot's (REST replicas can
   lag the stream), the account's is kept.
2. Replay the in-flight pushes on top, by the same version rules as live pushes: those the
   snapshot already includes are older than or equal to it and change nothing; newer ones
   apply. The replay is atomic (nobody sees its steps), so only its result counts.
3. What differs from the account before the load is a correction (CORRECTION changes, counted)
   -- or, for the first snapshot, the starting state (SNAPSHOT changes).

Versions. A push older than what the account holds never reverts it ("stale", counted):
- an order's version is (update time ms, finished, filled size), then its per-order
  `update_id` between two pushes: a finished order never reopens and a fill never un-fills,
  whatever the clock says; a REST order without an update time is versioned at `as_of`;
  finished orders are kept (bounded) so a late push cannot resurrect one;
- a position's version is its `update_id` (Gate counts it per position, on pushes and REST
  alike), else its time;
- the balance is Gate's total after each change, versioned by the change's time; a push
  stamped in the snapshot's millisecond is taken only if it continues the chain from the
  snapshot's total (balance - change = total), since its change may already be included.
Two changes to one order within one millisecond that leave its fill and status alike (two
amends) cannot be ordered against a snapshot: the first push seen wins the tie; the next push
or snapshot settles it.

Gaps. Gate numbers each order's pushes (`update_id` 1, 2, ...) and each position's. A jump
means pushes were lost (on a live socket too): the account becomes unsynced and asks for a
snapshot. So do a lost connection and a subscription that dropped items (`lost`).

Fills. Trades are reported once by id (the latest `KEPT_FILLS` ids are remembered, whatever
their age: a repeat of an old push is still a repeat). A snapshot lists the trades since shortly
before the previous one (`fills_since_ms`); any not seen on a push is reported as recovered.
"""

from __future__ import annotations

import collections
import typing
from typing import TYPE_CHECKING, Final, TypeAlias

import attrs
import msgspec

from gatetrio._core._events import (
    AutoDeleverage,
    Balance,
    Liquidation,
    Order,
    Position,
    PositionClose,
    UserTrade,
)

from ._records import (
    AccountView,
    BalanceChange,
    ChangeReason,
    FillChange,
    OrderChange,
    PositionChange,
    PositionEvent,
    SyncChange,
)
from ._versions import (
    balance_ms,
    compare_orders,
    finished,
    order_core,
    order_ms,
    position_key,
    position_ms,
    position_newer,
    same_amount,
    trade_ms,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal

    from ._records import AccountChange, PositionKey
    from ._snapshot import AccountSnapshot

AccountItem: TypeAlias = (
    Order | Position | Balance | UserTrade | Liquidation | AutoDeleverage | PositionClose
)
"""What the private channels an account subscribes push (one item of a push)."""

KEPT_FINISHED: Final = 10_000  # finished orders remembered, so late pushes cannot reopen them
KEPT_FILLS: Final = 100_000  # trade ids remembered, so no trade is reported twice
# pushes kept while a snapshot is under way; past it the replay is incomplete, so that
# snapshot cannot make the account synced (another is taken)
KEPT_IN_FLIGHT: Final = 100_000
# `my_trades_timerange` takes whole seconds: ask from a little before the last snapshot
FILLS_MARGIN_MS: Final = 2_000


# Balances arrive as JSON floats (spec 15): Gate's total and the sum of a push's balance and
# change agree to about this many places, not exactly
@attrs.frozen
class SnapshotTicket:
    """A snapshot under way: `losses` counts the losses and gaps before it began; `local_ms`
    is the local wall time (ms) when its requests went out, the `as_of` to use if the server's
    own receive time is unknown."""

    losses: int
    local_ms: int


@attrs.define
class _HeldOrder:
    order: Order
    ms: int  # its version time: `_order_ms`, or `as_of` for a REST order without update_time
    update_id: int  # the highest push update_id seen for it (0: none)


class AccountSync:
    """An account's state from pushes and snapshots; see the module docstring for the rules.

    The shell feeds every private item (`feed`), says when pushes may have been lost
    (`lost`), takes snapshots (`begin_snapshot`, then `load_snapshot` or `snapshot_failed`)
    whenever `needs_snapshot`, and passes on the changes each call returns.
    """

    def __init__(
        self,
        *,
        currency: str = "",
        kept_finished: int = KEPT_FINISHED,
        kept_fills: int = KEPT_FILLS,
        kept_in_flight: int = KEPT_IN_FLIGHT,
    ) -> None:
        self._currency = currency.lower()  # the settle currency ("": the first snapshot's)
        self._kept_finished = kept_finished
        self._kept_fills = kept_fills
        self._kept_in_flight = kept_in_flight
        self._orders: dict[int, _HeldOrder] = {}  # open
        self._finished: collections.OrderedDict[int, _HeldOrder] = collections.OrderedDict()
        self._positions: dict[PositionKey, Position] = {}
        self._balance: Decimal | None = None
        self._balance_ms = 0
        self._balance_from_snapshot = False  # the balance is a snapshot's total (not a push's)
        self._fills: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._fills_since_ms: int | None = None
        self._as_of_ms: int | None = None  # of the latest snapshot loaded
        # losses and gaps so far: one after a snapshot began may have come after the server
        # read it (a count, not a push number: a loss with no push since the snapshot began
        # is just as likely to be after the read)
        self._losses = 0
        self._synced = False
        self._need = True
        self._reason = "waiting for the first snapshot"
        self._ticket: SnapshotTicket | None = None
        self._in_flight: list[AccountItem] = []
        self._counts: dict[str, int] = dict.fromkeys(
            (
                "snapshots",
                "snapshot_failures",
                "order_corrections",
                "position_corrections",
                "balance_corrections",
                "fills_recovered",
                "gaps",
                "stale_pushes",
                "pushes",
                "unsynced",
                "other_balance_pushes",
            ),
            0,
        )

    # ---------------------------------------------------------------------------- reading

    @property
    def synced(self) -> bool:
        """The state is current: a snapshot is loaded and no loss or gap came after it."""
        return self._synced

    @property
    def loaded(self) -> bool:
        """At least one snapshot was loaded."""
        return self._as_of_ms is not None

    @property
    def needs_snapshot(self) -> bool:
        """A snapshot is wanted (and none is under way)."""
        return self._need and self._ticket is None

    @property
    def unsynced_reason(self) -> str:
        """Why the account is unsynced ("" while synced)."""
        return "" if self._synced else self._reason

    @property
    def orders(self) -> Mapping[int, Order]:
        """The open orders by id (a new dict each time)."""
        return {oid: held.order for oid, held in self._orders.items()}

    @property
    def positions(self) -> Mapping[PositionKey, Position]:
        """The positions by ``(contract, mode)`` (a new dict each time)."""
        return dict(self._positions)

    @property
    def balance(self) -> Decimal | None:
        return self._balance

    @property
    def as_of_ms(self) -> int | None:
        """The server time (ms) of the latest snapshot loaded."""
        return self._as_of_ms

    def fills_since_ms(self, local_ms: int) -> int:
        """From when (unix ms) the snapshot about to be taken should list the account's trades:
        a little before the previous snapshot; for the first, a little before now (`local_ms`,
        the local wall time), since trades made while it is taken may miss their pushes too.
        (The first reports only those after the server took its requests: older ones are
        history, not missed.)"""
        if self._fills_since_ms is None:
            return local_ms - FILLS_MARGIN_MS
        return self._fills_since_ms

    def finished_order(self, order_id: int) -> Order | None:
        """The last state of a finished order the account still remembers."""
        held = self._finished.get(order_id)
        return None if held is None else held.order

    def view(self) -> AccountView:
        return AccountView(
            synced=self._synced,
            orders=self.orders,
            positions=self.positions,
            balance=self._balance,
            as_of=None if self._as_of_ms is None else self._as_of_ms / 1000,
            unsynced_reason=self.unsynced_reason,
        )

    def counts(self) -> dict[str, int]:
        """The counters, by `AccountStatistics` field name."""
        counts = dict(self._counts)
        counts["corrections"] = sum(
            counts[name]
            for name in (
                "order_corrections",
                "position_corrections",
                "balance_corrections",
                "fills_recovered",
            )
        )
        return counts

    # ------------------------------------------------------------------------- losses

    def lost(self, reason: str) -> list[AccountChange]:
        """Pushes may have been lost (a lost connection, a subscription that dropped items):
        the state is no longer current until a snapshot taken after this loads."""
        return self._unsync(reason)

    def request_snapshot(self) -> None:
        """Check the state against a snapshot soon (it stays current meanwhile)."""
        self._need = True

    def _unsync(self, reason: str) -> list[AccountChange]:
        self._losses += 1
        self._need = True
        self._reason = reason
        if not self._synced:
            return []
        self._synced = False
        self._counts["unsynced"] += 1
        return [SyncChange(synced=False, reason=reason)]

    # ------------------------------------------------------------------------- pushes

    def feed(self, item: AccountItem) -> list[AccountChange]:
        """Take in one pushed item; returns what it changed (nothing for a stale one)."""
        self._counts["pushes"] += 1
        out: list[AccountChange] = []
        if self._ticket is not None:
            if len(self._in_flight) < self._kept_in_flight:
                self._in_flight.append(item)
            elif self._losses == self._ticket.losses:
                out.extend(self._unsync("too many pushes while a snapshot was under way"))
        match item:
            case Order():
                self._feed_order(item, out, replay=False)
            case Position():
                self._feed_position(item, out, replay=False)
            case Balance():
                if self._other_balance(item):
                    self._counts["other_balance_pushes"] += 1
                else:
                    self._feed_balance(item, out)
            case UserTrade():
                if self._remember_fill(item):
                    out.append(FillChange(item, ChangeReason.PUSH))
                else:
                    self._counts["stale_pushes"] += 1
            case Liquidation() | AutoDeleverage() | PositionClose():
                out.append(PositionEvent(item))
            case _:
                typing.assert_never(item)
        return out

    def _held(self, order_id: int) -> _HeldOrder | None:
        return self._orders.get(order_id) or self._finished.get(order_id)

    def _feed_order(self, order: Order, out: list[AccountChange], *, replay: bool) -> None:
        held = self._held(order.id)
        ms = order_ms(order)
        if held is not None:
            newer = compare_orders(order, ms, held.order, held.ms)
            if newer == 0 and (not order.update_id or order.update_id <= held.update_id):
                newer = -1  # the same version again: a repeat, or a tie the first one won
            if newer < 0:
                # seen, if too late to count: a later push must not take its number for a gap
                held.update_id = max(held.update_id, order.update_id)
                if not replay:
                    self._counts["stale_pushes"] += 1
                return
            if (
                not replay
                and held.update_id
                and order.update_id > held.update_id + 1
                and self._as_of_ms is not None
            ):
                gap = f"order {order.id}: update_id {order.update_id} after {held.update_id}"
                out.extend(self._gap(gap))
        elif (
            not replay
            and order.update_id > 1
            and self._as_of_ms is not None
            and (order.create_time_ms or order.create_time * 1000) >= self._as_of_ms
        ):
            # created after the snapshot, yet its first pushes never came
            gap = f"order {order.id}: the first push seen is update_id {order.update_id}"
            out.extend(self._gap(gap))
        seen = max(order.update_id, held.update_id if held is not None else 0)
        self._hold(_HeldOrder(order, ms, seen))
        before = held.order if held is not None else None
        if not replay and (before is None or order_core(before) != order_core(order)):
            out.append(OrderChange(order, before, ChangeReason.PUSH))

    def _hold(self, held: _HeldOrder) -> None:
        oid = held.order.id
        if finished(held.order):
            self._orders.pop(oid, None)
            self._finished[oid] = held
            self._finished.move_to_end(oid)
            while len(self._finished) > self._kept_finished:
                self._finished.popitem(last=False)
        else:
            self._finished.pop(oid, None)
            self._orders[oid] = held

    def _feed_position(self, position: Position, out: list[AccountChange], *, replay: bool) -> None:
        key = position_key(position)
        before = self._positions.get(key)
        if before is not None:
            newer = position_newer(position, before)
            if newer <= 0:
                if not replay:
                    self._counts["stale_pushes"] += 1
                return
            if (
                not replay
                and before.update_id
                and position.update_id > before.update_id + 1
                and self._as_of_ms is not None
            ):
                out.extend(
                    self._gap(
                        f"position {key[0]} {key[1]}: update_id {position.update_id} "
                        f"after {before.update_id}"
                    )
                )
        self._positions[key] = position
        if not replay:
            out.append(PositionChange(key, position, before, ChangeReason.PUSH))

    def _other_balance(self, push: Balance) -> bool:
        """A push that is not about the settle currency's total: another currency's (a
        multi-currency account), or the point balance's (``point_dnw``, ``point_fee``,
        ``point_refr``: REST keeps points apart from ``total``)."""
        if push.type.startswith("point_"):
            return True
        currency = push.currency.lower()
        return bool(currency and self._currency and currency != self._currency)

    def _feed_balance(self, push: Balance, out: list[AccountChange]) -> None:
        ms = balance_ms(push)
        before = self._balance
        if before is not None:
            if ms < self._balance_ms:
                take = False
            elif ms == self._balance_ms and self._balance_from_snapshot:
                # the snapshot's millisecond: its change may be in the snapshot already; take
                # it only if it follows on from the snapshot's total
                take = same_amount(push.balance - push.change, before) and not same_amount(
                    push.balance, before
                )
            else:
                take = True
            if not take:
                self._counts["stale_pushes"] += 1
                return
        self._balance = push.balance
        self._balance_ms = ms
        self._balance_from_snapshot = False
        if before is None or push.balance != before:
            out.append(BalanceChange(push.balance, before, ChangeReason.PUSH, push))

    def _remember_fill(self, trade: UserTrade) -> bool:
        """Remember a trade id; False if it was seen already."""
        if trade.id in self._fills:
            return False
        self._fills[trade.id] = trade_ms(trade)
        while len(self._fills) > self._kept_fills:
            self._fills.popitem(last=False)
        return True

    def _gap(self, reason: str) -> list[AccountChange]:
        self._counts["gaps"] += 1
        return self._unsync(f"pushes lost: {reason}")

    # ---------------------------------------------------------------------- snapshots

    def begin_snapshot(self, local_ms: int) -> SnapshotTicket:
        """A snapshot's REST requests go out now (every push received so far was fed)."""
        self._ticket = SnapshotTicket(losses=self._losses, local_ms=local_ms)
        self._in_flight = []
        self._need = False
        return self._ticket

    def snapshot_failed(self, reason: str) -> None:
        """The snapshot could not be taken; another is wanted."""
        self._ticket = None
        self._in_flight = []
        self._need = True
        self._counts["snapshot_failures"] += 1
        if not self._synced:
            self._reason = f"{self._reason}; snapshot failed: {reason}"

    def vanished(self, snapshot: AccountSnapshot) -> list[int]:
        """Open orders the snapshot lists neither as open nor as finished: the shell looks them
        up by id and adds what it finds to the snapshot (`orders` if open, else `finished`).

        First those that changed after the server took the requests: the snapshot cannot say
        whether they finished before it was read or began after (only a look-up can); then
        the others, which surely finished, for how they finished.
        """
        listed = {o.id for o in snapshot.orders} | {o.id for o in snapshot.finished}
        as_of = snapshot.as_of_ms
        unlisted = [
            (held.ms < as_of, oid) for oid, held in self._orders.items() if oid not in listed
        ]
        return [oid for _, oid in sorted(unlisted)]

    def load_snapshot(
        self, ticket: SnapshotTicket, snapshot: AccountSnapshot
    ) -> list[AccountChange]:
        """Merge a snapshot taken under `ticket`; returns the corrections (or, the first time,
        the starting state) and, if the account became synced, a `SyncChange`."""
        if ticket is not self._ticket:
            raise ValueError("load_snapshot: not the snapshot under way")
        first = self._as_of_ms is None
        reason = ChangeReason.SNAPSHOT if first else ChangeReason.CORRECTION
        as_of = snapshot.as_of_ms
        in_flight, self._in_flight, self._ticket = self._in_flight, [], None
        before_orders = {oid: held.order for oid, held in self._orders.items()}
        before_positions = dict(self._positions)
        before_balance = self._balance

        self._rebuild_orders(snapshot, as_of)
        self._rebuild_positions(snapshot, as_of)
        if not self._currency:
            self._currency = snapshot.currency.lower()
        pushed = [b for b in in_flight if isinstance(b, Balance) and not self._other_balance(b)]
        self._rebuild_balance(snapshot, pushed)
        for item in in_flight:  # those the snapshot includes change nothing
            match item:
                case Order():
                    self._feed_order(item, [], replay=True)
                case Position():
                    self._feed_position(item, [], replay=True)
                case _:
                    pass

        out: list[AccountChange] = []
        counts = self._counts
        n = len(out)
        self._diff_orders(before_orders, snapshot, reason, out, first=first)
        if not first:
            counts["order_corrections"] += len(out) - n
        n = len(out)
        self._diff_positions(before_positions, reason, out)
        if not first:
            counts["position_corrections"] += len(out) - n
        if self._balance is not None and (
            before_balance is None or not same_amount(self._balance, before_balance)
        ):
            out.append(BalanceChange(self._balance, before_balance, reason))
            if not first:
                counts["balance_corrections"] += 1
        recovered = [
            FillChange(trade, ChangeReason.CORRECTION)
            for trade in sorted(snapshot.trades, key=trade_ms)
            if self._remember_fill(trade) and (not first or trade_ms(trade) > as_of)
        ]
        counts["fills_recovered"] += len(recovered)
        out.extend(recovered)

        counts["snapshots"] += 1
        self._as_of_ms = as_of
        since = as_of - FILLS_MARGIN_MS
        self._fills_since_ms = since
        corrections = 0 if first else len(out)
        if self._losses > ticket.losses:  # lost more while it was taken: not current yet
            self._need = True
        elif not self._synced:
            self._synced = True
            self._reason = ""
            why = "first snapshot loaded" if first else "snapshot loaded"
            out.append(SyncChange(synced=True, reason=why, corrections=corrections))
        return out

    def _rebuild_orders(self, snapshot: AccountSnapshot, as_of: int) -> None:
        open_before = self._orders
        rebuilt: dict[int, _HeldOrder] = {}
        known_finished = [o for o in snapshot.finished if self._held(o.id) is not None]
        for order in (*known_finished, *snapshot.orders):
            ms = order_ms(order, as_of)
            held = self._held(order.id)
            if held is not None and compare_orders(held.order, held.ms, order, ms) >= 0:
                rebuilt[order.id] = held  # the account's is as new (or newer: a lagging replica)
            else:
                rebuilt[order.id] = _HeldOrder(order, ms, held.update_id if held else 0)
        for oid, held in open_before.items():
            if oid not in rebuilt and held.ms >= as_of:
                rebuilt[oid] = held  # changed after the server took the request
        self._orders = {}
        for held in rebuilt.values():
            self._hold(held)
        # open orders the snapshot lists nowhere finished before it was read: keep the
        # account's last state of each, with status "finished" (how is unknown)
        for oid, held in open_before.items():
            if oid not in rebuilt:
                final = msgspec.structs.replace(held.order, status="finished", finish_as="")
                self._hold(_HeldOrder(final, as_of, held.update_id))

    def _rebuild_positions(self, snapshot: AccountSnapshot, as_of: int) -> None:
        rebuilt: dict[PositionKey, Position] = {}
        for position in snapshot.positions:
            key = position_key(position)
            held = self._positions.get(key)
            keep = held is not None and position_newer(held, position) >= 0
            rebuilt[key] = held if held is not None and keep else position
        for key, held in self._positions.items():
            if key not in rebuilt and position_ms(held) >= as_of:
                rebuilt[key] = held
        self._positions = rebuilt

    def _rebuild_balance(self, snapshot: AccountSnapshot, pushed: list[Balance]) -> None:
        """The snapshot's total, then the balance pushes that came while it was taken and that
        it does not include.

        REST gives the total with no version, and the server read it at some moment between
        `as_of` (its receive time) and `read_by_ms` (its answer time). Pushes stamped before
        `as_of` are in it and pushes stamped after `read_by_ms` are not; for those in between,
        each push's own chain decides: the snapshot includes the pushes up to the last one
        whose balance is its total, or none of them if the first one follows on from it
        (balance - change = total), or, if neither, all of them (the read came last).
        """
        as_of = snapshot.as_of_ms
        read_by = max(snapshot.read_by_ms, as_of)
        if (
            not pushed
            and self._balance is not None
            and not self._balance_from_snapshot
            and self._balance_ms > read_by
        ):
            return  # a push fed before the requests, yet stamped after the read: clocks differ
        total = snapshot.balance
        window = [b for b in pushed if as_of <= balance_ms(b) <= read_by]
        after = [b for b in pushed if balance_ms(b) > read_by]
        start = len(window)
        for i in range(len(window) - 1, -1, -1):
            if same_amount(window[i].balance, total):
                start = i + 1
                break
        else:
            if window and same_amount(window[0].balance - window[0].change, total):
                start = 0
        # the snapshot stands where the pushes it includes end; those after it replay by the
        # live rule (a repeat of an older one is stale here too)
        self._balance = total
        self._balance_ms = balance_ms(window[start - 1]) if start else as_of
        self._balance_from_snapshot = True
        for push in (*window[start:], *after):
            if balance_ms(push) >= self._balance_ms:
                self._balance = push.balance
                self._balance_ms = balance_ms(push)
                self._balance_from_snapshot = False
        if self._balance_from_snapshot:
            self._balance_ms = read_by  # nothing after it: it is as new as the read

    def _diff_orders(
        self,
        before: Mapping[int, Order],
        snapshot: AccountSnapshot,
        reason: ChangeReason,
        out: list[AccountChange],
        *,
        first: bool,
    ) -> None:
        for oid, held in self._orders.items():
            old = before.get(oid)
            if old is None or order_core(old) != order_core(held.order):
                out.append(OrderChange(held.order, old, reason))
        for oid, old in before.items():
            if oid not in self._orders:
                gone = self._finished.get(oid)
                final = (
                    gone.order
                    if gone is not None
                    else msgspec.structs.replace(old, status="finished", finish_as="")
                )
                out.append(OrderChange(final, old, reason))
        if first:
            return
        # orders placed and finished while pushes were missed (another client, the web)
        since = self._fills_since_ms
        for order in snapshot.finished:
            if order.id in before or order.id in self._orders or order.id in self._finished:
                continue  # reported already (or open again)
            if since is not None and order_ms(order) < since:
                continue  # finished before the previous snapshot: history, not missed
            self._hold(_HeldOrder(order, order_ms(order), 0))
            out.append(OrderChange(order, None, reason))

    def _diff_positions(
        self, before: Mapping[PositionKey, Position], reason: ChangeReason, out: list[AccountChange]
    ) -> None:
        for key, position in self._positions.items():
            old = before.get(key)
            if old is None:
                out.append(PositionChange(key, position, None, reason))
            elif position_newer(position, old) != 0 or (
                not position.update_id
                and (position.size, position.entry_price) != (old.size, old.entry_price)
            ):
                out.append(PositionChange(key, position, old, reason))
        for key, old in before.items():
            if key not in self._positions:
                out.append(PositionChange(key, None, old, reason))
