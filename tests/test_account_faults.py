"""`Client.account()` when things go wrong around it, against the fake under `autojump_clock`.

A trader's questions, each a test: the REST snapshot fails, or hangs until its deadline; the
block is left while a snapshot is under way; the block has ended and the account is still read;
a position is liquidated while the socket is down; an order is placed and filled completely
while its pushes are held back past a snapshot; pushes arrive about another currency or the
point balance.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import (
    AccountUnsynced,
    ChangeReason,
    FillChange,
    OrderChange,
    PositionChange,
    PositionEvent,
    SyncChange,
    UsageError,
)
from gatetrio.events import BalancesUpdate

from .helpers import CREDS, client_config, deadline
from .test_account import assert_true_to, buy, next_change, rest_order, trader

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from gatetrio import AccountChange, LiveAccount
    from gatetrio.testing import FakeGateServer

REST_DEADLINE: Final = 4.0


class FlakyRest:
    """The fake's REST, with the account's ``/positions`` call failing (``fail``: no answer,
    at once) or hanging (``stall``: until the client's REST deadline) on demand."""

    def __init__(self, gate: FakeGateServer) -> None:
        self._inner = gate.rest_transport
        self.mode = "ok"
        self.attempts: list[float] = []  # when each faulted attempt came

    @contextlib.asynccontextmanager
    async def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> AsyncIterator[object]:
        if self.mode != "ok" and urlsplit(url).path.endswith("/positions"):
            self.attempts.append(trio.current_time())
            if self.mode == "stall":
                await trio.sleep_forever()
            raise gatetrio.RestUnavailable("positions: connection refused", sent=False)
        async with self._inner.open(method, url, headers, body) as answer:
            yield answer

    async def aclose(self) -> None:
        await self._inner.aclose()


@contextlib.asynccontextmanager
async def flaky_client(gate: FakeGateServer, rest: FlakyRest) -> AsyncIterator[gatetrio.Client]:
    async with gatetrio.open_client(
        connector=gate.connector,
        rest_transport=rest,  # type: ignore[arg-type]  # the protocol's answer type
        config=client_config(rest_deadline=REST_DEADLINE, rest_retries=1),
        wall_clock=gate.wall_time,
        credentials=CREDS,
    ) as client:
        yield client


async def test_a_failing_snapshot_is_retried_with_backoff_and_never_shown_as_current(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    rest = FlakyRest(gate)
    rest.mode = "fail"
    async with flaky_client(gate, rest) as client, client.account() as account:
        with trio.move_on_after(60):
            await account.wait_synced()
        assert not account.synced
        with pytest.raises(AccountUnsynced, match="snapshot failed"):
            _ = account.orders
        with pytest.raises(AccountUnsynced):
            _ = account.balance
        assert not account.view().synced
        stats = account.statistics()
        assert stats.snapshots == 0
        assert "connection refused" in stats.unsynced_reason
        # retried, each time later (capped backoff), never in a hot loop
        assert 3 <= stats.snapshot_failures <= 12
        gaps = [b - a for a, b in zip(rest.attempts, rest.attempts[1:], strict=False)]
        assert max(gaps) >= 8
        assert len(rest.attempts) <= 2 * stats.snapshot_failures  # the REST retry, no more
        # a snapshot that hangs ends at the REST deadline, typed, and is retried too
        rest.mode = "stall"
        failures = stats.snapshot_failures
        with trio.move_on_after(60):
            await account.wait_synced()
        stats = account.statistics()
        assert stats.snapshot_failures > failures
        assert "no complete answer within 4s" in stats.unsynced_reason
        assert not account.synced
        # REST is back: the next retry syncs, and the account is the truth
        rest.mode = "ok"
        with deadline("the account synced once REST answers", 40):
            await account.wait_synced()
        assert_true_to(gate, account)
        assert account.statistics().snapshots == 1
        assert client.statistics().rest.timeouts >= 1


async def test_leaving_the_block_while_a_snapshot_hangs_leaves_nothing_behind(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    rest = FlakyRest(gate)
    async with flaky_client(gate, rest) as client:
        async with client.account() as first:
            await first.wait_synced()
            rest.mode = "stall"
            started = len(rest.attempts)
            resync = trio.CancelScope()

            async def check() -> None:
                with resync:
                    await first.resync()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(check)
                await trio.sleep(1.0)  # the check's snapshot hangs on /positions
                assert len(rest.attempts) == started + 1
                resync.cancel()  # a caller giving up leaves the account as it was
            assert first.view().synced
            left = trio.current_time()
        # the block ended at once, with the snapshot still out
        assert trio.current_time() == left
        assert not first.synced
        assert not first.view().synced
        assert "block has ended" in first.view().unsynced_reason
        with pytest.raises(AccountUnsynced, match="block has ended"):
            _ = first.orders
        with pytest.raises(UsageError, match="block has ended"):
            await first.wait_synced()
        with pytest.raises(UsageError):
            await first.resync()
        with deadline("the changes end with the block"):
            async for _ in first:
                pass
        # the client is unharmed: a new account on it syncs
        rest.mode = "ok"
        async with client.account() as second:
            with deadline("a second account synced"):
                await second.wait_synced()
            assert_true_to(gate, second)


async def test_a_liquidation_while_disconnected_is_corrected(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        gatetrio.open_client(
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(),
            wall_clock=gate.wall_time,
            credentials=CREDS,
        ) as client,
        client.account(check_interval=None) as account,
    ):
        await account.wait_synced()
        await buy(client, gate, 10)
        pushed = await next_change(account, PositionChange, reason=ChangeReason.PUSH)
        assert pushed.position.size == 10
        gate.refuse(2)
        gate.drop(gate.connections[0])
        await next_change(account, SyncChange, synced=False)
        liquidated = gate.account.liquidations
        gate.account.move_market("BTC_USDT", gate.account.liquidation_price("BTC_USDT") - 50)
        assert gate.account.liquidations == liquidated + 1
        seen: list[AccountChange] = []
        with deadline("the account synced after the reconnect"):
            async for change in account:
                seen.append(change)
                if isinstance(change, SyncChange) and change.synced:
                    break
        assert_true_to(gate, account)
        position = account.position("BTC_USDT")
        assert position is not None
        assert position.size == 0
        stats = account.statistics()
        assert stats.position_corrections == 1
        assert stats.balance_corrections == 1
        # the liquidation's own pushes were lost: the correction says where the position went
        corrected = [c for c in seen if isinstance(c, PositionChange)]
        assert len(corrected) == 1
        assert corrected[0].reason is ChangeReason.CORRECTION
        assert corrected[0].position is not None
        assert corrected[0].position.size == 0
        assert corrected[0].before is not None
        assert corrected[0].before.size == 10
        assert not any(isinstance(c, PositionEvent) for c in seen)


async def changes_within(account: LiveAccount, seconds: float) -> list[AccountChange]:
    """The changes the account reports in the next `seconds`."""
    seen: list[AccountChange] = []
    with trio.move_on_after(seconds):
        # a loop, not a comprehension: the timeout must not lose what came before it
        async for change in account:
            seen.append(change)  # noqa: PERF401
    return seen


async def test_an_order_filled_unseen_is_reported_once_and_its_late_pushes_change_nothing(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        gatetrio.open_client(
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(),
            wall_clock=gate.wall_time,
            credentials=CREDS,
        ) as client,
        client.account(check_interval=None) as account,
        trader(gate) as other,
    ):
        await account.wait_synced()
        gate.account.delay_pushes(5.0, seconds=1.0)
        await buy(other, gate, 2)  # placed and filled completely; its pushes come in 5 s
        corrections = await account.resync()
        assert corrections == 4  # the order, the position, the balance, the trade
        order = await next_change(account, OrderChange, reason=ChangeReason.CORRECTION)
        assert (order.before, order.order.status, order.order.finish_as) == (
            None,
            "finished",
            "filled",
        )
        fill = await next_change(account, FillChange)
        assert fill.reason is ChangeReason.CORRECTION
        assert_true_to(gate, account)
        await changes_within(account, 0.001)  # the rest of the correction's changes
        stats = account.statistics()
        late = await changes_within(account, 5.1)  # the held pushes come in this time
        assert gate.account.pushes_held == 0
        after = account.statistics()
        assert after.pushes - stats.pushes >= 4  # order, trade, position, balance
        assert late == []  # all of them known already: nothing moves, nothing twice
        assert after.stale_pushes > stats.stale_pushes
        assert (after.fills_recovered, after.corrections) == (1, stats.corrections)
        assert account.orders == {}
        assert_true_to(gate, account)
        assert await account.resync() == 0


async def test_balance_pushes_about_another_currency_or_points_leave_the_total_alone(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        gatetrio.open_client(
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(),
            wall_clock=gate.wall_time,
            credentials=CREDS,
        ) as client,
        client.account(check_interval=None) as account,
    ):
        await account.wait_synced()
        await changes_within(account, 0.001)  # the starting state
        total = account.balance
        now_ms = int(gate.wall_time() * 1000)

        def push(balance: str, change: str, kind: str, currency: str) -> None:
            item = gatetrio.Balance(
                balance=Decimal(balance),
                change=Decimal(change),
                type=kind,
                time=now_ms // 1000,
                time_ms=now_ms,
                user="20011",
                currency=currency,
            )
            event = BalancesUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms)
            gate.push_private("futures.balances", "", event)

        push("0.5", "0.5", "dnw", "btc")  # another settle's wallet
        push("12", "-1", "point_fee", "usdt")  # points, not the total
        assert await changes_within(account, 0.1) == []  # they change nothing
        assert account.statistics().other_balance_pushes == 2
        assert account.balance == total
        assert await account.resync() == 0
        gate.account.deposit(25)
        change = await next_change(account, gatetrio.BalanceChange, reason=ChangeReason.PUSH)
        assert change.balance == total + 25 == account.balance
        assert account.statistics().other_balance_pushes == 2


async def test_an_account_that_ended_synced_is_not_current_any_more(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        gatetrio.open_client(
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(),
            wall_clock=gate.wall_time,
            credentials=CREDS,
        ) as client,
    ):
        async with client.account() as account:
            await account.wait_synced()
            await rest_order(client, gate, "t-after")
            assert account.view().synced
        assert not account.synced
        assert not account.statistics().synced
        view = account.view()
        assert not view.synced
        assert view.balance is not None  # the last state is still readable, marked stale
        with pytest.raises(AccountUnsynced, match="block has ended"):
            _ = account.positions
        assert "block has ended" in repr(account)


async def test_dual_mode_positions_are_kept_apart_across_a_reconnect(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    gate.account.set_dual_mode(True)
    async with (
        gatetrio.open_client(
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(),
            wall_clock=gate.wall_time,
            credentials=CREDS,
        ) as client,
        client.account(check_interval=None) as account,
        trader(gate) as other,
    ):
        await account.wait_synced()
        await buy(client, gate, 3)  # the long
        await next_change(account, PositionChange, key=("BTC_USDT", "dual_long"))
        gate.refuse(2)
        gate.drop(gate.connections[0])
        await next_change(account, SyncChange, synced=False)
        bid = gate.book("BTC_USDT", 1).bids[0][0]
        short = gatetrio.PlaceOrder(contract="BTC_USDT", size=-2, price=str(bid), tif="ioc")
        await other.request(short)  # the short opens while the account is away
        with deadline("synced after the reconnect"):
            await account.wait_synced()
        assert_true_to(gate, account)
        long, short_now = (
            account.position("BTC_USDT", "dual_long"),
            account.position("BTC_USDT", "dual_short"),
        )
        assert long is not None
        assert short_now is not None
        assert (long.size, short_now.size) == (3, -2)
        assert account.position("BTC_USDT") is None  # no single-mode position in dual mode
        assert account.statistics().position_corrections == 1  # the short, not the long


async def test_a_slow_change_reader_loses_the_oldest_changes_counted_never_the_state(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        gatetrio.open_client(
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(),
            wall_clock=gate.wall_time,
            credentials=CREDS,
        ) as client,
        client.account(changes_buffer=2, check_interval=None) as account,
    ):
        await account.wait_synced()
        for _ in range(3):
            await buy(client, gate, 1)
        await trio.sleep(0.1)  # every push taken in, none read
        stats = account.statistics()
        assert stats.changes_dropped > 0
        kept = await changes_within(account, 0.001)
        assert len(kept) == 2  # the newest two
        assert account.position("BTC_USDT").size == 3  # type: ignore[union-attr]
        assert_true_to(gate, account)
        assert stats.corrections == 0


async def test_two_accounts_on_one_client_both_stay_true(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        gatetrio.open_client(
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(),
            wall_clock=gate.wall_time,
            credentials=CREDS,
        ) as client,
        client.account(check_interval=None) as one,
        client.account(check_interval=None) as two,
    ):
        await one.wait_synced()
        await two.wait_synced()
        await buy(client, gate, 2)
        for account in (one, two):
            fill = await next_change(account, FillChange)
            assert fill.reason is ChangeReason.PUSH
        gate.refuse(1)
        gate.drop(gate.connections[0])
        for account in (one, two):
            await next_change(account, SyncChange, synced=False)
        gate.account.deposit(10)
        for account in (one, two):
            with deadline("synced again"):
                await account.wait_synced()
            assert_true_to(gate, account)
            assert account.statistics().balance_corrections == 1


async def test_an_account_without_rest_is_refused_at_once(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with gatetrio.open_client(
        connector=gate.connector, config=client_config(), credentials=CREDS
    ) as client:
        with pytest.raises(UsageError, match="needs REST for its snapshots"):
            client.account()


async def test_a_failing_check_leaves_a_synced_account_synced_and_live(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    rest = FlakyRest(gate)
    async with (
        flaky_client(gate, rest) as client,
        client.account(check_interval=5) as account,
    ):
        await account.wait_synced()
        rest.mode = "fail"
        await trio.sleep(6)  # the check is due, and fails
        stats = account.statistics()
        assert stats.snapshot_failures >= 1
        assert (stats.synced, stats.unsynced_reason) == (True, "")
        await buy(client, gate, 2)  # pushes still keep it true
        fill = await next_change(account, FillChange)
        assert fill.reason is ChangeReason.PUSH
        moved = await next_change(account, PositionChange, reason=ChangeReason.PUSH)
        assert moved.position is not None
        assert moved.position.size == 2
        assert account.position("BTC_USDT") == moved.position  # current, so readable
        rest.mode = "ok"
        with deadline("a check that loads"):
            assert await account.resync() == 0
        assert_true_to(gate, account)
