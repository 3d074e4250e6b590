"""AccountSync against a model exchange (Hypothesis state machine, pure, no trio).

The model keeps the truth (orders, one position per contract, the balance, the trades) and
turns every change into the pushes Gate would send. Between it and the sync is a wire that can
drop pushes, hold them back (delays keep their order) or lose its socket; snapshots are taken
in three steps (requests out, server read, answer in) with changes in between, so pushes fly
while a snapshot is under way.

Checked after every step:
- nothing the account shows goes back: an order's version (carried in `amend_text`), a
  position's update_id and the balance (the model only ever adds to it) never decrease, the
  finished orders it remembers included;
- no trade is reported twice, and every correction changed something;
- when nothing is under way (no snapshot, no pushes held back) and no push was lost since the
  latest snapshot was read, a synced account equals the truth, and has reported every trade
  since its first snapshot exactly once;
- with no fault at all, there is never a correction.
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import msgspec
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from gatetrio._core._account import (
    AccountChange,
    AccountSnapshot,
    AccountSync,
    BalanceChange,
    ChangeReason,
    FillChange,
    OrderChange,
    PositionChange,
    SyncChange,
)
from gatetrio._core._account._sync import AccountItem, SnapshotTicket
from gatetrio._core._events import Balance, Order, Position, UserTrade

CONTRACTS = ("BTC_USDT", "ETH_USDT")
EPOCH = 1_786_540_560_000


def version(order: Order) -> int:
    return int(order.amend_text[1:])


class Truth:
    """The exchange: every change bumps the clock and returns its pushes, in Gate's order."""

    def __init__(self) -> None:
        self.now = EPOCH
        self.orders: dict[int, Order] = {}
        self.positions: dict[str, Position] = {}
        self.balance = Decimal(1000)
        self.fills: list[UserTrade] = []
        self.next_id = 5 * 10**16
        self.next_trade = 10**7

    def tick(self, ms: int) -> None:
        self.now += ms

    def _order(self, order: Order, **changes: object) -> Order:
        update_id = order.update_id + 1
        new = msgspec.structs.replace(
            order, update_id=update_id, update_time=self.now, amend_text=f"v{update_id}", **changes
        )
        self.orders[order.id] = new
        return new

    def place(self, contract: str, size: int, price: int) -> list[AccountItem]:
        self.next_id += 1
        order = Order(
            id=self.next_id,
            contract=contract,
            size=size,
            price=Decimal(price),
            status="open",
            left=size,
            finish_as="_new",
            create_time=self.now // 1000,
            create_time_ms=self.now,
            update_time=self.now,
            update_id=1,
            amend_text="v1",
        )
        self.orders[order.id] = order
        return [order]

    def fill(self, oid: int, part: int) -> list[AccountItem]:
        order = self.orders[oid]
        sign = 1 if order.size > 0 else -1
        units = min(abs(int(order.left)), part) * sign
        left = order.left - units
        done = left == 0
        new = self._order(
            order,
            left=left,
            status="finished" if done else "open",
            finish_as="filled" if done else "_update",
            finish_time_ms=self.now if done else 0,
        )
        self.next_trade += 1
        trade = UserTrade(
            id=str(self.next_trade),
            order_id=str(oid),
            contract=order.contract,
            size=units,
            price=order.price,
            create_time=self.now // 1000,
            create_time_ms=self.now,
        )
        self.fills.append(trade)
        old = self.positions.get(order.contract)
        position = Position(
            contract=order.contract,
            size=(old.size if old else 0) + units,
            entry_price=order.price,
            mode="single",
            update_id=(old.update_id if old else 0) + 1,
            time=self.now // 1000,
            time_ms=self.now,
        )
        self.positions[order.contract] = position
        gain = Decimal(abs(units)) / 100
        self.balance += gain
        balance = Balance(
            balance=self.balance,
            change=gain,
            type="pnl",
            time=self.now // 1000,
            time_ms=self.now,
        )
        return [new, trade, position, balance]

    def amend(self, oid: int, price: int) -> list[AccountItem]:
        return [self._order(self.orders[oid], price=Decimal(price), finish_as="_update")]

    def cancel(self, oid: int) -> list[AccountItem]:
        order = self.orders[oid]
        return [
            self._order(order, status="finished", finish_as="cancelled", finish_time_ms=self.now)
        ]

    def open_ids(self) -> list[int]:
        return sorted(oid for oid, o in self.orders.items() if o.status == "open")

    def snapshot(self, as_of: int, fills_since: int, finished: int = 100) -> AccountSnapshot:
        """What REST shows; `finished`: how many of the latest finished orders it lists."""

        # REST orders carry no update_id; their update_time is there (spec 8.5)
        def rest(order: Order) -> Order:
            return msgspec.structs.replace(order, update_id=0, finish_as=order.finish_as.strip("_"))

        orders = [rest(o) for o in self.orders.values()]
        return AccountSnapshot(
            as_of_ms=as_of,
            orders=tuple(o for o in orders if o.status == "open"),
            finished=tuple(o for o in orders if o.status != "open")[::-1][:finished][::-1],
            positions=tuple(self.positions.values()),
            balance=self.balance,
            currency="usdt",
            user_id="20011",
            trades=tuple(t for t in self.fills if t.create_time_ms >= fills_since),
        )

    def look_up(self, oid: int) -> Order:
        return msgspec.structs.replace(self.orders[oid], update_id=0)


class AccountModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.truth = Truth()
        self.sync = AccountSync()
        self.dropping = False
        self.delaying = False
        self.held: list[AccountItem] = []
        self.lost_any = False
        self.sent: list[AccountItem] = []
        self.ticket: SnapshotTicket | None = None
        self.as_of = 0
        self.read: AccountSnapshot | None = None
        # a step counter: a loaded snapshot fixes the losses before its server read
        self.clock = 0
        self.last_loss = 0
        self.read_step = 0
        self.fixed_upto = 0
        self.told = 0  # the step of the latest loss the sync was told of (`lost`)
        self.begun = 0  # the step the snapshot under way began at
        self.fixed_told = 0  # the begin step of the latest snapshot loaded
        self.faults = False
        self.max_version: dict[int, int] = {}
        self.max_position: dict[str, int] = {}
        self.max_balance = Decimal(0)
        self.reported: dict[str, int] = {}
        self.first_as_of: int | None = None
        self.fills_since = 0

    # ---------------------------------------------------------------------- the wire

    def send(self, items: list[AccountItem]) -> None:
        for item in items:
            if self.dropping:
                self.lose()
            elif self.delaying or self.held:
                self.faults = True
                self.held.append(item)
            else:
                self.take(self.sync.feed(item))
                self.sent.append(item)

    def lose(self) -> None:
        self.faults = True
        self.lost_any = True
        self.clock += 1
        self.last_loss = self.clock

    def take(self, changes: list[AccountChange]) -> None:
        for change in changes:
            match change:
                case FillChange(trade=trade):
                    assert trade.id not in self.reported, f"trade {trade.id} reported twice"
                    self.reported[trade.id] = 1
                case OrderChange(order=order, before=before, reason=reason):
                    if reason is ChangeReason.CORRECTION:
                        assert before is None or before != order
                case PositionChange(position=position, before=before):
                    assert position != before
                case BalanceChange(balance=balance, before=before):
                    assert balance != before
                case SyncChange():
                    pass

    # ---------------------------------------------------------------------- changes

    @rule(ms=st.integers(1, 3000))
    def tick(self, ms: int) -> None:
        self.truth.tick(ms)

    @rule(
        contract=st.sampled_from(CONTRACTS),
        size=st.integers(1, 5) | st.integers(-5, -1),
        price=st.integers(90, 110),
    )
    def place(self, contract: str, size: int, price: int) -> None:
        self.truth.tick(1)
        self.send(self.truth.place(contract, size, price))

    @precondition(lambda self: self.truth.open_ids())
    @rule(data=st.data(), part=st.integers(1, 5))
    def fill(self, data: st.DataObject, part: int) -> None:
        self.truth.tick(1)
        oid = data.draw(st.sampled_from(self.truth.open_ids()))
        self.send(self.truth.fill(oid, part))

    @precondition(lambda self: self.truth.open_ids())
    @rule(data=st.data(), price=st.integers(90, 110))
    def amend(self, data: st.DataObject, price: int) -> None:
        self.truth.tick(1)
        oid = data.draw(st.sampled_from(self.truth.open_ids()))
        self.send(self.truth.amend(oid, price))

    @precondition(lambda self: self.truth.open_ids())
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self.truth.tick(1)
        oid = data.draw(st.sampled_from(self.truth.open_ids()))
        self.send(self.truth.cancel(oid))

    # ---------------------------------------------------------------------- faults

    @rule(on=st.booleans())
    def drop(self, on: bool) -> None:
        self.dropping = on

    @rule(on=st.booleans())
    def delay(self, on: bool) -> None:
        self.delaying = on

    @rule(n=st.integers(1, 10))
    def release(self, n: int) -> None:
        for item in self.held[:n]:
            self.take(self.sync.feed(item))
            self.sent.append(item)
        del self.held[:n]

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        """A push arrives again (two sockets overlap in a handover)."""
        item = data.draw(st.sampled_from(self.sent[-20:]))
        self.take(self.sync.feed(item))

    @rule()
    def disconnect(self) -> None:
        for _ in self.held:
            self.lose()
        self.held.clear()
        self.faults = True
        self.clock += 1
        self.told = self.clock
        self.take(self.sync.lost("connection lost"))

    # ---------------------------------------------------------------------- snapshots

    @precondition(lambda self: self.ticket is None and self.sync.needs_snapshot)
    @rule()
    def begin(self) -> None:
        self.fills_since = self.sync.fills_since_ms(self.truth.now)
        self.ticket = self.sync.begin_snapshot(self.truth.now)
        self.as_of = self.truth.now
        self.clock += 1
        self.begun = self.clock

    @precondition(lambda self: self.ticket is not None and self.read is None)
    @rule(finished=st.sampled_from([100, 1, 0]))
    def server_reads(self, finished: int = 100) -> None:
        self.clock += 1
        self.read_step = self.clock
        self.read = attrs.evolve(
            self.truth.snapshot(self.as_of, self.fills_since, finished), read_by_ms=self.truth.now
        )

    @precondition(lambda self: self.read is not None)
    @rule(forgotten=st.booleans())
    def answer(self, forgotten: bool = False) -> None:
        """The answers come; with `forgotten`, Gate no longer finds the finished orders the
        account looks up (they aged out of its history)."""
        assert self.ticket is not None
        assert self.read is not None
        read = self.read
        found = [
            self.truth.look_up(oid)
            for oid in self.sync.vanished(read)
            if not forgotten or self.truth.orders[oid].status == "open"
        ]
        read = attrs.evolve(
            read,
            orders=read.orders + tuple(o for o in found if o.status == "open"),
            finished=read.finished + tuple(o for o in found if o.status != "open"),
        )
        self.take(self.sync.load_snapshot(self.ticket, read))
        if self.first_as_of is None:
            self.first_as_of = read.as_of_ms
        self.fixed_upto = self.read_step
        self.fixed_told = self.begun
        self.ticket, self.read = None, None

    @precondition(lambda self: self.ticket is None)
    @rule()
    def settle_and_snapshot(self) -> None:
        """Faults end, held pushes arrive, and a whole snapshot is taken."""
        self.dropping = self.delaying = False
        self.release(len(self.held))
        self.sync.request_snapshot()
        self.begin()
        self.server_reads()
        self.answer()

    @precondition(lambda self: self.ticket is not None)
    @rule()
    def snapshot_fails(self) -> None:
        self.sync.snapshot_failed("no answer")
        self.ticket, self.read = None, None

    @rule()
    def check_now(self) -> None:
        self.sync.request_snapshot()

    # ---------------------------------------------------------------------- invariants

    @invariant()
    def nothing_goes_back(self) -> None:
        sync = self.sync
        for oid in self.truth.orders:
            order = sync.orders.get(oid) or sync.finished_order(oid)
            if order is None:
                continue
            seen = version(order) if order.amend_text.startswith("v") else 0
            assert seen >= self.max_version.get(oid, 0), f"order {oid} went back"
            self.max_version[oid] = max(seen, self.max_version.get(oid, 0))
        for (contract, _), position in sync.positions.items():
            assert position.update_id >= self.max_position.get(contract, 0)
            self.max_position[contract] = position.update_id
        if sync.balance is not None:
            assert sync.balance >= self.max_balance, "the balance went back"
            self.max_balance = sync.balance

    @invariant()
    def synced_means_no_known_loss_since_a_snapshot_began(self) -> None:
        """A loss the account was told of while a snapshot was under way may have come after
        the server read it: only a snapshot begun after the loss makes the account current."""
        if self.sync.synced:
            assert self.told < self.fixed_told

    @invariant()
    def no_gap_without_a_loss(self) -> None:
        if not self.lost_any:
            assert self.sync.counts()["gaps"] == 0

    @invariant()
    def no_fault_no_correction(self) -> None:
        if not self.faults:
            assert self.sync.counts()["corrections"] == 0

    @invariant()
    def synced_and_quiet_means_true(self) -> None:
        sync = self.sync
        quiet = self.ticket is None and not self.held and self.last_loss <= self.fixed_upto
        if not (quiet and sync.synced):
            return
        truth = self.truth
        want = {oid: o for oid, o in truth.orders.items() if o.status == "open"}
        have = sync.orders
        assert set(have) == set(want)
        for oid, order in have.items():
            assert (order.size, order.left, order.price) == (
                want[oid].size,
                want[oid].left,
                want[oid].price,
            )
        assert {k[0]: p.update_id for k, p in sync.positions.items()} == {
            c: p.update_id for c, p in truth.positions.items()
        }
        assert sync.balance == truth.balance
        assert self.first_as_of is not None
        expected = {t.id for t in truth.fills if t.create_time_ms > self.first_as_of}
        assert expected <= set(self.reported)


TestAccountModel = AccountModel.TestCase


def load(sync: AccountSync, truth: Truth, *, finished: int = 100) -> list[AccountChange]:
    """One whole snapshot of `truth`, with no look-up finding anything (Gate forgot)."""
    ticket = sync.begin_snapshot(truth.now)
    return sync.load_snapshot(ticket, truth.snapshot(truth.now, truth.now - 2000, finished))


def test_an_order_gate_no_longer_lists_anywhere_is_finished_how_unknown() -> None:
    truth, sync = Truth(), AccountSync(currency="usdt")
    (order,) = truth.place("BTC_USDT", 1, 100)
    assert isinstance(order, Order)
    load(sync, truth)
    assert set(sync.orders) == {order.id}
    truth.tick(1000)
    truth.cancel(order.id)  # its push is lost, and Gate's history no longer has it
    truth.tick(1000)
    changes = load(sync, truth, finished=0)
    (change,) = [c for c in changes if isinstance(c, OrderChange)]
    assert change.reason is ChangeReason.CORRECTION
    assert change.before is not None
    assert (change.before.id, change.before.status) == (order.id, "open")
    assert (change.order.status, change.order.finish_as) == ("finished", "")
    assert sync.orders == {}
    assert sync.finished_order(order.id) == change.order
    assert sync.counts()["order_corrections"] == 1
    # a late push about it cannot reopen it
    assert sync.feed(order) == []
    assert sync.orders == {}


def test_balance_pushes_about_other_currencies_or_points_are_set_aside() -> None:
    truth, sync = Truth(), AccountSync(currency="USDT")
    load(sync, truth)
    now = truth.now + 1

    def push(kind: str, currency: str) -> list[AccountChange]:
        item = Balance(
            balance=Decimal(7), change=Decimal(1), type=kind, time_ms=now, currency=currency
        )
        return sync.feed(item)

    assert push("dnw", "btc") == []
    assert push("point_fee", "usdt") == []
    assert push("point_dnw", "") == []
    assert sync.balance == truth.balance
    assert sync.counts()["other_balance_pushes"] == 3
    (change,) = push("dnw", "usdt")  # the settle currency's, in either case
    assert isinstance(change, BalanceChange)
    assert sync.balance == Decimal(7)
    # a snapshot under way replays only the settle currency's
    ticket = sync.begin_snapshot(now)
    now += 1
    push("dnw", "btc")
    loaded = sync.load_snapshot(ticket, truth.snapshot(now, now - 2000))
    assert sync.balance == truth.balance
    assert [c.balance for c in loaded if isinstance(c, BalanceChange)] == [truth.balance]


def test_a_loss_just_after_a_snapshot_began_keeps_it_unsynced() -> None:
    truth, sync = Truth(), AccountSync()
    load(sync, truth)
    ticket = sync.begin_snapshot(truth.now)
    sync.lost("connection lost")  # no push in between: the server may read after the loss
    changes = sync.load_snapshot(ticket, truth.snapshot(truth.now, truth.now - 2000))
    assert not any(isinstance(c, SyncChange) and c.synced for c in changes)
    assert not sync.synced
    assert sync.needs_snapshot
    load(sync, truth)
    assert sync.synced


def test_too_many_pushes_during_a_snapshot_keep_it_from_syncing() -> None:
    truth, sync = Truth(), AccountSync(kept_in_flight=3)
    load(sync, truth)
    ticket = sync.begin_snapshot(truth.now)
    changes: list[AccountChange] = []
    for price in (95, 96, 97, 98, 99):  # each push is kept for the replay, up to 3
        truth.tick(1)
        for item in truth.place("BTC_USDT", 1, price):
            changes.extend(sync.feed(item))
    unsynced = [c for c in changes if isinstance(c, SyncChange)]
    assert [(c.synced, c.reason) for c in unsynced] == [
        (False, "too many pushes while a snapshot was under way")
    ]
    assert len(sync.orders) == 5  # live all the same
    sync.load_snapshot(ticket, truth.snapshot(truth.now, truth.now - 2000))
    assert not sync.synced
    assert sync.needs_snapshot
    load(sync, truth)
    assert sync.view().synced
    assert len(sync.orders) == 5


def test_a_snapshot_older_than_the_pushes_already_taken_never_reverts_them() -> None:
    """A REST replica that lags the stream: the snapshot shows an order still open and a
    position one update behind what pushes already said; the account keeps the newer. (REST's
    balance has no version: a lagging total is taken, and the next push or check fixes it.)"""
    truth, sync = Truth(), AccountSync()
    (order,) = truth.place("BTC_USDT", 4, 100)
    assert isinstance(order, Order)
    truth.tick(5)
    truth.fill(order.id, 1)
    load(sync, truth)
    stale = truth.snapshot(truth.now, truth.now - 2000)  # read before what follows
    truth.tick(5)
    for item in truth.fill(order.id, 3):
        sync.feed(item)
    assert sync.orders == {}
    position = sync.positions["BTC_USDT", "single"]
    assert position.size == 4
    truth.tick(5)
    ticket = sync.begin_snapshot(truth.now)
    changes = sync.load_snapshot(ticket, attrs.evolve(stale, as_of_ms=truth.now))
    assert not [c for c in changes if isinstance(c, OrderChange | PositionChange)]
    assert sync.orders == {}
    assert sync.positions["BTC_USDT", "single"] == position
    assert sync.counts()["order_corrections"] == sync.counts()["position_corrections"] == 0
