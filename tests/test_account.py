"""`Client.account()` against the fake, in memory, under `autojump_clock`.

The fake's REST is the truth: after every `wait_synced()` the account must equal it. Trades
are made through the trading API, by the account's own client or by a second one on the same
account (as another program, or the web, would).
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import (
    AccountUnsynced,
    BalanceChange,
    ChangeReason,
    ClientEventKind,
    FillChange,
    OrderChange,
    PlaceOrder,
    PositionEvent,
    SyncChange,
    UsageError,
    UserIdMismatch,
)
from gatetrio._core._auth import sign_rest
from gatetrio.testing import FakeGateServer

from .helpers import CREDS, deadline, open_against, record_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from gatetrio import AccountChange, LiveAccount

KEY_ONLY: Final = gatetrio.Credentials(key=CREDS.key, secret=CREDS.secret)
"""The fake's key without a user id: the client learns it."""


def truth(gate: FakeGateServer, path: str) -> Any:
    """A signed REST answer from the fake (decimal sizes): what Gate says is true."""
    route, _, query = f"/api/v4/futures/usdt/{path}".partition("?")
    stamp = str(int(gate.wall_time()))
    headers = sign_rest(
        "GET", route, query, b"", timestamp=stamp, key=CREDS.key, secret=CREDS.secret
    )
    target = f"{route}?{query}" if query else route
    status, body = gate.handle_http("GET", target, {**headers, "X-Gate-Size-Decimal": "1"})
    assert status == 200, body
    return json.loads(body)


def assert_true_to(gate: FakeGateServer, account: LiveAccount) -> None:
    """The account equals the fake's REST: open orders, positions, balance."""
    orders = {o["id"]: o for o in truth(gate, "orders?status=open&limit=1000")}
    have = account.orders
    assert set(have) == set(orders)
    for oid, order in have.items():
        want = orders[oid]
        assert (order.size, order.left, order.price) == (
            Decimal(want["size"]),
            Decimal(want["left"]),
            Decimal(want["price"]),
        ), oid
    positions = {(p["contract"], p["mode"]): p for p in truth(gate, "positions")}
    assert set(account.positions) == set(positions)
    for key, position in account.positions.items():
        want = positions[key]
        assert (position.size, position.update_id) == (Decimal(want["size"]), want["update_id"])
    assert account.balance == Decimal(truth(gate, "accounts")["total"])


@contextlib.asynccontextmanager
async def trader(gate: FakeGateServer) -> AsyncIterator[gatetrio.Client]:
    """A second client on the same account, for trades the account's own client did not make."""
    async with open_against(gate, credentials=CREDS) as client:
        yield client


async def buy(client: gatetrio.Client, gate: FakeGateServer, size: int = 3) -> None:
    ask = gate.book("BTC_USDT", 1).asks[0][0]
    await client.request(PlaceOrder(contract="BTC_USDT", size=size, price=str(ask), tif="ioc"))


async def rest_order(client: gatetrio.Client, gate: FakeGateServer, text: str) -> int:
    """A resting BTC_USDT buy well below the market; its id."""
    bid = gate.book("BTC_USDT", 1).bids[0][0]
    await client.request(PlaceOrder(contract="BTC_USDT", size=1, price=str(bid - 500), text=text))
    (order,) = [o for o in truth(gate, "orders?status=open") if o["text"] == text]
    return int(order["id"])


async def next_change(account: LiveAccount, kind: type[Any], **fields: object) -> Any:
    """The next change of `kind` whose attributes equal `fields` (others are skipped)."""
    with deadline(f"a {kind.__name__} {fields}"):
        async for change in account:
            if isinstance(change, kind) and all(getattr(change, k) == v for k, v in fields.items()):
                return change
    raise AssertionError("the account ended")  # pragma: no cover


# ------------------------------------------------------------------------ starting


async def test_the_account_learns_its_uid_and_starts_true(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with trader(gate) as other:
        await buy(other, gate)
        await rest_order(other, gate, "t-resting")
    async with open_against(gate, credentials=KEY_ONLY) as client, client.account() as account:
        assert account.user_id == "20011" == await client.user_id()
        await account.wait_synced()
        assert_true_to(gate, account)
        assert len(account.orders) == 1
        stats = account.statistics()
        assert (stats.snapshots, stats.corrections, stats.synced) == (1, 0, True)
        assert stats.last_sync_time == pytest.approx(gate.wall_time(), abs=1.0)
        # the starting state came as SNAPSHOT changes, then the account was synced
        changes: list[AccountChange] = []
        while True:
            change = await account.__anext__()
            changes.append(change)
            if isinstance(change, SyncChange):
                break
        assert {type(c) for c in changes} >= {OrderChange, BalanceChange, SyncChange}
        assert all(
            c.reason is ChangeReason.SNAPSHOT for c in changes if not isinstance(c, SyncChange)
        )


async def test_a_user_id_that_is_not_the_keys_is_an_error_that_says_so(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    wrong = gatetrio.Credentials(key=CREDS.key, secret=CREDS.secret, user_id="99")
    async with open_against(gate, credentials=wrong) as client:
        with pytest.raises(UserIdMismatch) as caught:
            async with client.account():
                pass  # pragma: no cover
        assert (caught.value.configured, caught.value.actual) == ("99", "20011")
        assert "user_id='20011'" in str(caught.value)
        with pytest.raises(UserIdMismatch):
            await client.user_id()


async def test_bad_arguments_raise_at_once(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_against(gate) as client:
        with pytest.raises(UsageError, match="credentials"):
            client.account()
    async with open_against(gate, credentials=CREDS) as client:
        with pytest.raises(UsageError, match="changes_buffer"):
            client.account(changes_buffer=0)
        with pytest.raises(UsageError, match="check_interval"):
            client.account(check_interval=-1)


# ------------------------------------------------------------------------ pushes


async def test_pushes_keep_it_true_and_say_what_changed(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_against(gate, credentials=CREDS) as client, client.account() as account:
        await account.wait_synced()
        await buy(client, gate)
        fill = await next_change(account, FillChange)
        assert (fill.reason, fill.trade.size) == (ChangeReason.PUSH, Decimal(3))
        oid = await rest_order(client, gate, "t-push")
        change = await next_change(account, OrderChange, reason=ChangeReason.PUSH)
        assert change.order.id == oid
        assert_true_to(gate, account)
        assert account.statistics().corrections == 0


# ------------------------------------------------------------------------ reconnects


async def test_trades_during_a_reconnect_are_corrected_and_reported(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, credentials=CREDS) as client,
        record_events(client) as events,
        client.account() as account,
        trader(gate) as other,
    ):
        await account.wait_synced()
        oid = await rest_order(other, gate, "t-gone")
        await next_change(account, OrderChange, reason=ChangeReason.PUSH)
        gate.refuse(2)  # the account's client stays away a while
        gate.drop(gate.connections[0])
        await events.wait(ClientEventKind.ACCOUNT_RESYNC)
        assert not account.synced
        with pytest.raises(AccountUnsynced, match="connection was lost"):
            _ = account.orders
        assert not account.view().synced
        await other.request(gatetrio.CancelOrder(order_id=str(oid)))
        await buy(other, gate, 2)
        await account.wait_synced()
        assert_true_to(gate, account)
        stats = account.statistics()
        assert stats.corrections >= 3  # the order gone, the position, the balance, the trade
        assert stats.fills_recovered == 1
        assert events.of(ClientEventKind.ACCOUNT_CORRECTION)
    # the changes said so, each once
    # (read after the block: the feed ends with it)


async def test_pushes_dropped_on_a_live_socket_are_found_by_a_check(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, credentials=CREDS) as client,
        client.account(check_interval=30) as account,
        trader(gate) as other,
    ):
        await account.wait_synced()
        oid = await rest_order(other, gate, "t-drop")
        await next_change(account, OrderChange, reason=ChangeReason.PUSH)
        gate.account.drop_pushes()
        await other.request(gatetrio.CancelOrder(order_id=str(oid)))
        assert oid in account.orders  # no push, no gap: the account cannot know yet
        gate.account.resume_pushes()
        start = trio.current_time()
        change = await next_change(account, OrderChange, reason=ChangeReason.CORRECTION)
        assert trio.current_time() - start <= 30
        assert (change.order.id, change.order.status, change.order.finish_as) == (
            oid,
            "finished",
            "cancelled",
        )
        assert oid not in account.orders
        assert_true_to(gate, account)
        # and at once, on request
        oid = await rest_order(other, gate, "t-drop2")
        await next_change(account, OrderChange, reason=ChangeReason.PUSH)
        gate.account.drop_pushes(1.0)
        await other.request(gatetrio.CancelOrder(order_id=str(oid)))
        assert await account.resync() == 1
        assert_true_to(gate, account)


async def test_a_gap_in_update_ids_unsyncs_and_resyncs(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, credentials=CREDS) as client,
        client.account(check_interval=None) as account,
        trader(gate) as other,
    ):
        await account.wait_synced()
        await buy(other, gate, 2)
        await next_change(account, FillChange)
        gate.account.drop_pushes(1.0)
        await buy(other, gate, 2)  # its position push is lost
        await trio.sleep(1.0)
        await buy(other, gate, 2)  # the next one skips an update id
        change = await next_change(account, SyncChange, synced=False)
        assert "update_id" in change.reason
        await account.wait_synced()
        assert_true_to(gate, account)
        stats = account.statistics()
        assert stats.gaps >= 1
        assert stats.fills_recovered == 1


async def test_a_late_push_never_reverts_a_snapshot(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, credentials=CREDS) as client,
        client.account(check_interval=None) as account,
        trader(gate) as other,
    ):
        await account.wait_synced()
        oid = await rest_order(other, gate, "t-late")
        await next_change(account, OrderChange, reason=ChangeReason.PUSH)
        price = account.orders[oid].price
        gate.account.delay_pushes(5.0, seconds=1.0)
        await trio.sleep(0.001)
        await other.request(gatetrio.AmendOrder(order_id=str(oid), price=str(price - 10)))
        await trio.sleep(0.001)
        await other.request(gatetrio.AmendOrder(order_id=str(oid), price=str(price - 20)))
        assert await account.resync() == 1  # the snapshot knows before the pushes come
        assert account.orders[oid].price == price - 20
        stale = account.statistics().stale_pushes
        pushes = account.statistics().pushes
        await trio.sleep(5.01)  # the late pushes come now
        assert account.statistics().pushes == pushes + 2
        assert account.statistics().stale_pushes == stale + 1  # the first amend's
        assert account.orders[oid].price == price - 20
        assert_true_to(gate, account)


async def test_a_liquidation_is_reported_and_the_position_follows(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, credentials=CREDS) as client,
        client.account() as account,
    ):
        await account.wait_synced()
        await buy(client, gate, 10)
        await next_change(account, FillChange)
        gate.account.move_market("BTC_USDT", gate.account.liquidation_price("BTC_USDT") - 50)
        seen: list[object] = []
        while not any(isinstance(e, gatetrio.Liquidation) for e in seen):
            seen.append((await next_change(account, PositionEvent)).event)
        assert [type(e) for e in seen] == [gatetrio.PositionClose, gatetrio.Liquidation]
        await trio.sleep(0.1)
        position = account.position("BTC_USDT")
        assert position is not None
        assert position.size == 0
        assert_true_to(gate, account)


async def test_private_channels_built_without_a_user_id_get_the_learned_one(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_against(gate, credentials=KEY_ONLY) as client:
        spec = gatetrio.channels.orders()
        async with client.subscribe(spec) as orders:
            assert orders.spec.payloads == (("20011", "!all"),)
            await buy(client, gate)
            with deadline("an order push"):
                order = await orders.receive()
            assert order.contract == "BTC_USDT"
        assert await client.user_id() == "20011"
        with pytest.raises(UsageError, match="built without a user id"):
            client._protocol.subscribe(spec, wall_time=gate.wall_time())
