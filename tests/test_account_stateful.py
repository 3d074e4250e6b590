"""A live account against the in-memory fake under Hypothesis-drawn trading and faults.

Each example is one session, run in `trio.run` with an autojump clock: a second client trades
on the account (orders that rest or cross, amends, cancels), the market jumps (liquidating
what it moves through), and the account's socket is dropped, kept away, or its private pushes
are dropped or delayed. Whenever the scenario checks:

- after `wait_synced()` (and, where pushes were lost on a live socket, which no client can see,
  after `resync()`), the account equals the fake's REST truth: open orders, positions, balance;
- the corrections it counts are exactly the CORRECTION changes it reported;
- no change ever takes an order or a position back to an older version than one reported;
- no trade is reported twice.

Hypothesis draws a handful of examples per run (each is a session of tens of virtual seconds);
`pytest -m slow` runs it, `HYPOTHESIS_PROFILE=ci` draws more.
"""

from __future__ import annotations

import contextlib
import functools
import os
from decimal import Decimal

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gatetrio
from gatetrio import (
    AccountChange,
    AmendOrder,
    CancelOrder,
    ChangeReason,
    FillChange,
    OrderChange,
    PlaceOrder,
    PositionChange,
    RequestRejected,
)
from gatetrio.testing import FakeGateServer

from .helpers import CREDS, open_against
from .test_account import assert_true_to

pytestmark = pytest.mark.slow

CONTRACTS = ("BTC_USDT", "ETH_USDT")


@attrs.frozen
class Place:
    contract: str
    buy: bool
    ticks: int  # from the touch: < 0 rests, >= 0 crosses
    size: int
    reduce_only: bool = False  # in dual mode: closes the other side


@attrs.frozen
class Deleverage:
    contract: str
    size: int | None  # None: all of it


@attrs.frozen
class CutRisk:
    contract: str


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Amend:
    pick: int
    ticks: int


@attrs.frozen
class Cancel:
    pick: int


@attrs.frozen
class Jump:
    contract: str
    percent: int


@attrs.frozen
class Drop:
    """The account's socket drops; `away` s of refused handshakes first."""

    away: int


@attrs.frozen
class LosePushes:
    seconds: float


@attrs.frozen
class DelayPushes:
    delay: float
    seconds: float


@attrs.frozen
class Sleep:
    seconds: float


@attrs.frozen
class Check:
    pass


Action = (
    Place
    | Amend
    | Cancel
    | Jump
    | Deleverage
    | CutRisk
    | Deposit
    | Drop
    | LosePushes
    | DelayPushes
    | Sleep
    | Check
)

actions = st.one_of(
    st.builds(
        Place,
        st.sampled_from(CONTRACTS),
        st.booleans(),
        st.integers(-40, 3),
        st.integers(1, 30),
        st.booleans(),
    ),
    st.builds(Deleverage, st.sampled_from(CONTRACTS), st.none() | st.integers(1, 10)),
    st.builds(CutRisk, st.sampled_from(CONTRACTS)),
    st.builds(Deposit, st.integers(-50, 200)),
    st.builds(Amend, st.integers(0, 20), st.integers(-30, 5)),
    st.builds(Cancel, st.integers(0, 20)),
    st.builds(Jump, st.sampled_from(CONTRACTS), st.integers(-15, 15)),
    st.builds(Drop, st.integers(0, 3)),
    st.builds(LosePushes, st.sampled_from([0.5, 2.0])),
    st.builds(DelayPushes, st.sampled_from([0.3, 3.0]), st.sampled_from([0.5, 2.0])),
    st.builds(Sleep, st.sampled_from([0.05, 0.5, 3.0])),
    st.just(Check()),
)


class Watcher:
    """Reads the account's changes: counts corrections and checks nothing goes back."""

    def __init__(self) -> None:
        self.corrections = 0
        self.trades: set[str] = set()
        self.orders: dict[int, tuple[int, bool, Decimal]] = {}
        self.positions: dict[tuple[str, str], int] = {}

    def take(self, change: AccountChange) -> None:
        if getattr(change, "reason", None) is ChangeReason.CORRECTION:
            self.corrections += 1
        match change:
            case FillChange(trade=trade):
                assert trade.id not in self.trades, f"trade {trade.id} reported twice"
                self.trades.add(trade.id)
            case OrderChange(order=order):
                version = (
                    order.update_time,
                    order.status != "open",
                    abs(Decimal(order.size) - Decimal(order.left)),
                )
                old = self.orders.get(order.id)
                if old is not None and order.update_time:
                    assert version >= old, f"order {order.id} went back: {version} < {old}"
                if order.update_time:
                    self.orders[order.id] = version
            case PositionChange(key=key, position=position) if position is not None:
                old_id = self.positions.get(key, 0)
                assert position.update_id >= old_id, f"position {key} went back"
                self.positions[key] = position.update_id
            case _:
                pass

    async def run(self, account: gatetrio.LiveAccount) -> None:
        async for change in account:
            self.take(change)


async def session(script: list[Action], *, dual: bool = False) -> None:
    gate = FakeGateServer(seed=1, credentials=CREDS)
    async with trio.open_nursery() as nursery:
        await nursery.start(gate.run)
        gate.account.set_dual_mode(dual)
        async with (
            open_against(gate, credentials=CREDS, max_reconnects=None) as client,
            client.account(check_interval=None) as account,
            open_against(gate, credentials=CREDS) as other,
        ):
            watcher = Watcher()
            nursery.start_soon(watcher.run, account)
            account_conn = {gate.connections[0].conn_id}
            trader_conn = gate.connections[-1].conn_id
            await account.wait_synced()
            lost = False  # pushes lost on a live socket since the last resync
            for action in script:
                lost = await play(action, gate, other, account_conn, trader_conn) or lost
                await trio.sleep(0.002)  # no two changes to an order in one millisecond
                if isinstance(action, Check):
                    await check(gate, account, watcher, lost=lost)
                    lost = False
            await check(gate, account, watcher, lost=lost)
            assert account.statistics().changes_dropped == 0
        nursery.cancel_scope.cancel()


async def check(
    gate: FakeGateServer, account: gatetrio.LiveAccount, watcher: Watcher, *, lost: bool
) -> None:
    with trio.fail_after(120):
        gate.account.resume_pushes()
        await gate.account.wait_pushes_sent()
        if lost:
            await account.resync()  # no client can see a loss that left no gap
        await account.wait_synced()
        await trio.sleep(0.01)  # let the watcher read what the load reported
    assert_true_to(gate, account)
    assert account.statistics().corrections == watcher.corrections


async def play(
    action: Action,
    gate: FakeGateServer,
    other: gatetrio.Client,
    account_conn: set[str],
    trader_conn: str,
) -> bool:
    """Play one action; True if it may lose pushes on a live socket."""
    match action:
        case Place(contract=contract, buy=buy, ticks=ticks, size=size, reduce_only=reduce):
            book = gate.book(contract, 1)
            tick = Decimal("0.1") if contract == "BTC_USDT" else Decimal("0.01")
            touch = book.asks[0][0] if buy else book.bids[0][0]
            price = touch + ticks * tick if buy else touch - ticks * tick
            units = Decimal(size) / (1 if contract == "BTC_USDT" else 10)
            order = PlaceOrder(
                contract=contract,
                size=units if buy else -units,
                price=str(price),
                reduce_only=reduce and gate.account.dual_mode,
            )
            with contextlib.suppress(RequestRejected):
                await other.request(order)
        case Deleverage(contract=contract, size=size):
            sides: list[str | None] = ["long", "short"] if gate.account.dual_mode else [None]
            for side in sides:
                if gate.account.position_size(contract, side):
                    with contextlib.suppress(ValueError):
                        gate.account.auto_deleverage(contract, size, side=side)
                    break
        case CutRisk(contract=contract):
            gate.account.reduce_risk_limit(contract, 500_000)
        case Deposit(amount=amount):
            gate.account.deposit(amount)
        case Amend(pick=pick, ticks=ticks):
            opened = open_orders(gate)
            if opened:
                oid, price, contract = opened[pick % len(opened)]
                tick = Decimal("0.1") if contract == "BTC_USDT" else Decimal("0.01")
                with contextlib.suppress(RequestRejected):
                    await other.request(AmendOrder(order_id=oid, price=str(price + ticks * tick)))
        case Cancel(pick=pick):
            opened = open_orders(gate)
            if opened:
                with contextlib.suppress(RequestRejected):
                    await other.request(CancelOrder(order_id=opened[pick % len(opened)][0]))
        case Jump(contract=contract, percent=percent):
            mark = gate.book(contract, 1).bids[0][0]
            gate.account.move_market(contract, mark * (100 + percent) / 100)
        case Drop(away=away):
            gate.refuse(away)
            for conn in gate.connections:
                if conn.conn_id != trader_conn:
                    gate.drop(conn)
                    account_conn.add(conn.conn_id)
        case LosePushes(seconds=seconds):
            gate.account.drop_pushes(seconds)
            return True
        case DelayPushes(delay=delay, seconds=seconds):
            gate.account.delay_pushes(delay, seconds)
        case Sleep(seconds=seconds):
            await trio.sleep(seconds)
        case Check():
            pass
    return False


def open_orders(gate: FakeGateServer) -> list[tuple[str, Decimal, str]]:
    from .test_account import truth

    return [
        (str(o["id"]), Decimal(o["price"]), o["contract"])
        for o in truth(gate, "orders?status=open&limit=1000")
    ]


@settings(
    max_examples=100 if os.environ.get("CI") else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(script=st.lists(actions, min_size=3, max_size=30), dual=st.booleans())
def test_the_account_stays_true_whatever_happens(script: list[Action], dual: bool) -> None:
    run = functools.partial(session, script, dual=dual)
    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_scripted_session_with_every_fault() -> None:
    script: list[Action] = [
        Place("BTC_USDT", buy=True, ticks=1, size=20),
        Place("BTC_USDT", buy=False, ticks=-30, size=5),
        Check(),
        LosePushes(2.0),
        Cancel(0),
        Place("ETH_USDT", buy=False, ticks=2, size=15),
        Check(),
        DelayPushes(3.0, 2.0),
        Amend(0, -5),
        Place("BTC_USDT", buy=True, ticks=2, size=5),
        Drop(2),
        Place("BTC_USDT", buy=True, ticks=0, size=3),
        Check(),
        Jump("BTC_USDT", -12),
        Jump("ETH_USDT", 12),
        Check(),
        Place("BTC_USDT", buy=True, ticks=1, size=8),
        Deleverage("BTC_USDT", 3),
        CutRisk("BTC_USDT"),
        Deposit(120),
        LosePushes(0.5),
        Deleverage("BTC_USDT", None),
        Check(),
    ]
    trio.run(session, script, clock=trio.testing.MockClock(autojump_threshold=0))
