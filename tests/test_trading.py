"""Trading through the client against the in-memory fake, on the autojump clock (exact times).

Typed results for every request; one typed outcome per request whatever the server does
(silence, an ack alone, other ids, duplicates, unreadable results, a socket closed before or
after the order reached the engine), by the deadline, nothing left registered, counted and
reported; in-doubt orders resolved; the client's rate limiter and Gate's 429.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import gatetrio
from gatetrio import channels
from gatetrio._core._requests import TimeInForce
from gatetrio.testing import FakeGateServer, Misbehaviour

from .helpers import client_config, open_against, record_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from gatetrio._shell._rest import HttpAnswer

CREDS = gatetrio.Credentials(key="k-test", secret="s-test", user_id="20011")
CONTRACT = "BTC_USDT"


@pytest.fixture
async def gate(nursery: trio.Nursery) -> FakeGateServer:
    server = FakeGateServer(seed=7, credentials=CREDS)
    await nursery.start(server.run)
    return server


def client_for(
    gate: FakeGateServer, **overrides: Any
) -> contextlib.AbstractAsyncContextManager[gatetrio.Client]:
    return open_against(gate, credentials=CREDS, **overrides)


@contextlib.asynccontextmanager
async def watched(
    gate: FakeGateServer, **overrides: Any
) -> AsyncIterator[tuple[gatetrio.Client, list[gatetrio.ClientEvent]]]:
    async with client_for(gate, **overrides) as client, record_events(client) as log:
        yield client, log.items


def resting_buy(gate: FakeGateServer, **kw: Any) -> gatetrio.PlaceOrder:
    """A buy far below the fake's market: it rests (and stays open) until cancelled."""
    bid = gate.book(CONTRACT, 1).bids[0][0]
    return gatetrio.PlaceOrder(contract=CONTRACT, size=1, price=str(bid / 2), **kw)


def nothing_pending(client: gatetrio.Client) -> bool:
    return client.statistics().trading.pending == 0 and not len(client._rt.waiters)


# --------------------------------------------------------------------------- typed results


async def test_every_request_returns_its_typed_result(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        login = await client.request(gatetrio.Login())
        assert login == gatetrio.LoginResult(uid="20011")

        order = await client.request(resting_buy(gate))
        assert isinstance(order, gatetrio.Order)
        assert (order.contract, order.size, order.left, order.status) == (CONTRACT, 1, 1, "open")
        assert isinstance(order.price, Decimal)
        assert order.text.startswith("t-")
        assert order.create_time_ms // 1000 == order.create_time > 0
        assert order.raw["id"] == order.id

        by_text = await client.request(gatetrio.GetOrder(order_id=order.text))
        by_id = await client.request(gatetrio.GetOrder(order_id=order.id))
        assert by_text == by_id == order

        amended = await client.request(gatetrio.AmendOrder(order_id=order.id, price="1000"))
        assert (amended.id, amended.price) == (order.id, Decimal(1000))
        assert amended.amend_text.startswith("t-")  # the client tagged the amend

        listed = await client.request(gatetrio.ListOrders(status="open", contract=CONTRACT))
        assert [o.id for o in listed] == [order.id]

        batch = await client.request(
            gatetrio.BatchPlaceOrders(
                orders=[
                    resting_buy(gate, text="t-good"),
                    gatetrio.PlaceOrder(contract="NOPE_USDT", size=1, price="1"),
                ]
            )
        )
        good, bad = batch
        assert (good.succeeded, good.text) == (True, "t-good")
        assert good.order is not None
        assert good.order.text == "t-good"
        assert (bad.succeeded, bad.order, bad.label) == (False, None, "CONTRACT_NOT_FOUND")
        assert bad.text.startswith("t-")
        assert isinstance(bad.error, gatetrio.InvalidArgument)

        cancels = await client.request(gatetrio.CancelOrders(order_ids=[good.order.id, 1]))
        assert [(c.order_id, c.succeeded, c.label) for c in cancels] == [
            (str(good.order.id), True, ""),
            ("1", False, "ORDER_NOT_FOUND"),
        ]

        cancelled = await client.request(gatetrio.CancelOrder(order_id=order.id))
        assert (cancelled.status, cancelled.finish_as) == ("finished", "cancelled")
        assert await client.request(gatetrio.CancelAllOrders(contract=CONTRACT)) == []
        stats = client.statistics().trading
        assert stats.completed == 10
        assert stats.pending == 0


async def test_rejections_are_typed_with_one_clean_message(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        with pytest.raises(gatetrio.InvalidArgument) as bad:
            await client.request(gatetrio.PlaceOrder(contract="NOPE_USDT", size=1, price="1"))
        assert str(bad.value) == "futures.order_place rejected: CONTRACT_NOT_FOUND (status 400)"
        with pytest.raises(gatetrio.OrderNotFound) as missing:
            await client.request(gatetrio.CancelOrder(order_id=999999999))
        assert missing.value.label == "ORDER_NOT_FOUND"
        assert str(missing.value).count("ORDER_NOT_FOUND") == 1
    wrong = gatetrio.Credentials(key="k-test", secret="wrong", user_id="20011")
    async with open_against(gate, credentials=wrong) as client:
        with pytest.raises(gatetrio.RequestUnauthorized) as auth:
            await client.request(gatetrio.GetOrder(order_id=1))
        assert auth.value.label == "INVALID_SIGNATURE"
        assert isinstance(auth.value, gatetrio.AuthenticationError)


sides = st.sampled_from([1, -1])
tifs: st.SearchStrategy[TimeInForce] = st.sampled_from(["gtc", "ioc", "poc", "fok"])


@settings(max_examples=12, deadline=None)
@given(
    side=sides,
    units=st.integers(1, 30),
    offset=st.integers(-3, 3),
    tif=tifs,
    decimal=st.booleans(),
    text=st.none() | st.from_regex(r"t-[0-9A-Za-z_.\-]{1,28}", fullmatch=True),
)
def test_orders_round_trip_their_typed_result_against_the_fake(  # noqa: PLR0917 - drawn
    side: int, units: int, offset: int, tif: TimeInForce, decimal: bool, text: str | None
) -> None:
    async def main() -> None:
        server = FakeGateServer(seed=units, credentials=CREDS)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            best = server.book(CONTRACT, 1)
            touch = best.asks[0][0] if side > 0 else best.bids[0][0]
            price = touch + offset * Decimal("0.1")
            size: int | Decimal = Decimal(units * side) if decimal else units * side
            request = gatetrio.PlaceOrder(
                contract=CONTRACT,
                size=size,
                price=str(price),
                tif=tif,
                text=text,
            )
            async with client_for(server, size_decimal=decimal) as client:
                order = await client.request(request)
                again = await client.request(gatetrio.GetOrder(order_id=order.id))
            nursery.cancel_scope.cancel()
        assert (order.contract, order.size, order.price, order.tif) == (
            CONTRACT,
            size,
            price,
            tif,
        )
        assert order.text == (text or order.text)
        assert order.text.startswith("t-")
        assert abs(Decimal(order.left)) <= abs(Decimal(order.size))
        assert (order.status == "open") == (order.finish_as == "")
        assert again == order or again.update_time >= order.update_time

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


# ------------------------------------------------------------------------ hostile replies


@pytest.mark.parametrize(
    ("how", "error", "acked"),
    [
        (Misbehaviour.SILENCE, gatetrio.RequestTimeout, False),
        (Misbehaviour.ACK_ONLY, gatetrio.RequestTimeout, True),
        (Misbehaviour.OTHER_ID, gatetrio.RequestTimeout, False),
        (Misbehaviour.UNREADABLE, gatetrio.ReplyUnreadable, True),
        (Misbehaviour.DROP_BEFORE, gatetrio.RequestLost, False),
        (Misbehaviour.DROP_AFTER, gatetrio.RequestLost, False),
    ],
)
async def test_each_hostile_answer_ends_in_one_typed_outcome_by_the_deadline(
    gate: FakeGateServer,
    autojump_clock: trio.testing.MockClock,
    how: Misbehaviour,
    error: type[gatetrio.RequestInDoubt],
    acked: bool,
) -> None:
    async with watched(gate) as (client, events):
        await client.request(gatetrio.Login())
        gate.trading.misbehave(how, channel="futures.order_place")
        start = trio.current_time()
        with pytest.raises(error) as info:
            await client.request(resting_buy(gate), request_timeout=4.0)
        took = trio.current_time() - start
        if error is gatetrio.RequestTimeout:
            assert took == 4.0  # exactly the deadline
        else:
            assert took < 4.0
        exc = info.value
        assert (exc.sent, exc.acked) == (True, acked)
        assert len(exc.client_order_ids) == 1
        assert exc.expires_at is not None
        assert nothing_pending(client)
        await trio.sleep(5)  # anything late is counted and dropped, and nothing is re-sent
        stats = client.statistics().trading
        assert stats.pending == 0
        assert stats.timed_out + stats.lost + stats.unreadable == 1
        if how is Misbehaviour.OTHER_ID:
            assert stats.unmatched_replies == 2  # its ack and its result, under another id
    kinds = {
        gatetrio.RequestTimeout: gatetrio.ClientEventKind.REQUEST_TIMEOUT,
        gatetrio.RequestLost: gatetrio.ClientEventKind.REQUEST_LOST,
        gatetrio.ReplyUnreadable: gatetrio.ClientEventKind.REQUEST_UNREADABLE,
    }
    assert [e.kind for e in events if e.kind == kinds[error]] == [kinds[error]]
    assert gate.trading.requests_received["futures.order_place"] == 1  # never replayed


REQUESTS: dict[str, gatetrio.TradingRequest[object]] = {
    "place": gatetrio.PlaceOrder(contract=CONTRACT, size=1, price="1000"),
    "cancel": gatetrio.CancelOrder(order_id=1),
    "get": gatetrio.GetOrder(order_id=1),
    "list": gatetrio.ListOrders(status="open"),
}


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | st.sampled_from(Misbehaviour),
            st.sampled_from([0.5, 1.0, 2.5, 4.0]),
            st.sampled_from(sorted(REQUESTS)),
            st.sampled_from([0.0, 0.1, 1.0]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_concurrent_requests_meeting_any_misbehaviour_each_end_once_by_their_deadline(
    plan: list[tuple[Misbehaviour | None, float, str, float]],
) -> None:
    outcomes: list[tuple[str, float, float]] = []

    async def one(client: gatetrio.Client, kind: str, timeout: float, delay: float) -> None:
        await trio.sleep(delay)
        start = trio.current_time()
        try:
            await client.request(REQUESTS[kind], request_timeout=timeout)
            outcome = "result"
        except gatetrio.RequestRejected:
            outcome = "rejected"
        except gatetrio.RequestInDoubt as exc:
            outcome = type(exc).__name__
        outcomes.append((outcome, trio.current_time() - start, timeout))

    async def main() -> None:
        server = FakeGateServer(seed=3, credentials=CREDS)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            async with client_for(server, backoff_initial=0.2, backoff_max=0.2) as client:
                await client.request(gatetrio.Login())
                for how, _, _, _ in plan:  # taken by whichever requests arrive first
                    if how is not None:
                        server.trading.misbehave(how)
                async with trio.open_nursery() as requests:
                    for _, timeout, kind, delay in plan:
                        requests.start_soon(one, client, kind, timeout, delay)
                await trio.sleep(5)  # late replies arrive and are dropped
                assert nothing_pending(client)
                stats = client.statistics().trading
            nursery.cancel_scope.cancel()
        assert len(outcomes) == len(plan)  # exactly one outcome each
        assert all(took <= timeout for _, took, timeout in outcomes)  # by its deadline
        ended = stats.completed + stats.rejected + stats.timed_out + stats.lost + stats.unreadable
        assert ended == stats.requests_sent  # every request sent has exactly one end
        assert stats.requests_sent + stats.not_sent >= len(plan)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_a_duplicate_reply_is_counted_and_the_result_taken_once(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        gate.trading.misbehave(Misbehaviour.TWICE)
        order = await client.request(resting_buy(gate))
        assert order.status == "open"
        await trio.sleep(1)
        stats = client.statistics().trading
        assert (stats.completed, stats.duplicate_replies, stats.pending) == (2, 1, 0)


@pytest.mark.parametrize(
    "request_",
    [
        gatetrio.CancelOrder(order_id=1),
        gatetrio.CancelOrders(order_ids=[1]),
        gatetrio.CancelAllOrders(contract=CONTRACT),
        gatetrio.AmendOrder(order_id=1, price="1"),
        gatetrio.ListOrders(status="open"),
        gatetrio.GetOrder(order_id=1),
        gatetrio.BatchPlaceOrders(
            orders=[gatetrio.PlaceOrder(contract=CONTRACT, size=1, price="1000")]
        ),
    ],
    ids=lambda r: type(r).__name__,
)
@pytest.mark.parametrize("how", [Misbehaviour.SILENCE, Misbehaviour.OTHER_ID])
async def test_every_request_type_has_its_deadline(
    gate: FakeGateServer,
    autojump_clock: trio.testing.MockClock,
    request_: gatetrio.TradingRequest[object],
    how: Misbehaviour,
) -> None:
    async with client_for(gate, request_timeout=3.0) as client:
        await client.request(gatetrio.Login())
        gate.trading.misbehave(how, channel=request_.channel)
        start = trio.current_time()
        with pytest.raises(gatetrio.RequestTimeout) as info:
            await client.request(request_)
        assert trio.current_time() - start == 3.0
        assert info.value.request.channel == request_.channel
        assert nothing_pending(client)


async def test_a_request_waits_for_a_connection_only_until_its_deadline(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with watched(gate, backoff_initial=30.0, backoff_max=30.0) as (client, events):
        gate.refuse(100)
        gate.drop()
        await trio.sleep(0.1)
        start = trio.current_time()
        with pytest.raises(gatetrio.RequestTimeout) as info:
            await client.request(resting_buy(gate), request_timeout=2.5)
        assert trio.current_time() - start == 2.5
        assert (info.value.sent, info.value.acked) == (False, False)
        assert "not sent within 2.5s (still connecting)" in str(info.value)
        # never sent: resolving needs no lookup and says so at once
        resolution = await client.resolve(info.value)
        assert trio.current_time() - start == 2.5
        assert (resolution.executed, resolution.via, resolution.orders) == (False, "", ())
        assert client.statistics().trading.not_sent == 1
    assert gatetrio.ClientEventKind.REQUEST_TIMEOUT in [e.kind for e in events]


async def test_cancelling_a_request_leaves_nothing_registered(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        await client.request(gatetrio.Login())
        gate.trading.misbehave(Misbehaviour.SILENCE)
        with trio.move_on_after(1.0):
            await client.request(resting_buy(gate))
        assert nothing_pending(client)
        assert client.statistics().trading.abandoned == 1
        assert (await client.request(resting_buy(gate))).status == "open"  # still usable


# ------------------------------------------------------------------------------ in doubt


async def in_doubt(
    client: gatetrio.Client, request: gatetrio.TradingRequest[object]
) -> gatetrio.RequestInDoubt:
    with pytest.raises(gatetrio.RequestInDoubt) as info:
        await client.request(request, request_timeout=2.0)
    return info.value


@pytest.mark.parametrize(
    ("how", "placed"),
    [
        (Misbehaviour.DROP_AFTER, True),  # the order reached the engine, then the socket went
        (Misbehaviour.DROP_BEFORE, False),  # the socket went before the order reached it
        (Misbehaviour.SILENCE, True),
        (Misbehaviour.ACK_ONLY, True),
    ],
)
async def test_resolve_says_for_certain_whether_the_order_was_placed(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock, how: Misbehaviour, placed: bool
) -> None:
    async with watched(gate) as (client, events):
        await client.request(gatetrio.Login())
        gate.trading.misbehave(how, channel="futures.order_place")
        exc = await in_doubt(client, resting_buy(gate))
        assert exc.expires_at is not None
        resolution = await client.resolve(exc)
        # not before Gate would refuse it: its expiry plus the margin, on the wall clock
        assert gate.wall_time() >= exc.expires_at + client.config.resolve_margin
        assert resolution.placed is placed
        assert resolution.via == "websocket"
        if placed:
            assert resolution.order is not None
            assert resolution.order.text == exc.client_order_ids[0]
            assert resolution.order.status == "open"
            assert resolution.missing == ()
        else:
            assert resolution.order is None
            assert resolution.missing == exc.client_order_ids
        assert client.statistics().trading.resolutions == 1
    assert gate.trading.requests_received["futures.order_place"] == 1  # resolve never re-sends
    assert gatetrio.ClientEventKind.REQUEST_RESOLVED in [e.kind for e in events]


async def test_resolve_finds_an_order_that_finished_long_ago(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Gate finds an order by its text only up to 60 s after it finished: resolve then searches
    # the contract's finished orders
    async with client_for(gate) as client:
        await client.request(gatetrio.Login())
        gate.trading.misbehave(Misbehaviour.SILENCE, channel="futures.order_place")
        ask = gate.book(CONTRACT, 1).asks[0][0]
        taker = gatetrio.PlaceOrder(contract=CONTRACT, size=1, price=str(ask), tif="ioc")
        exc = await in_doubt(client, taker)
        await trio.sleep(90)
        with pytest.raises(gatetrio.OrderNotFound):
            await client.request(gatetrio.GetOrder(order_id=exc.client_order_ids[0]))
        resolution = await client.resolve(exc)
        assert resolution.placed
        assert resolution.order is not None
        assert (resolution.order.status, resolution.order.finish_as) == ("finished", "filled")


async def test_resolve_an_amend_and_a_cancel(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        order = await client.request(resting_buy(gate))
        gate.trading.misbehave(Misbehaviour.DROP_BEFORE, channel="futures.order_amend")
        amend = await in_doubt(client, gatetrio.AmendOrder(order_id=order.id, price="1000"))
        not_amended = await client.resolve(amend)
        assert not not_amended.executed
        assert not_amended.order is not None
        assert not_amended.order.price == order.price
        gate.trading.misbehave(Misbehaviour.SILENCE, channel="futures.order_amend")
        amend = await in_doubt(client, gatetrio.AmendOrder(order_id=order.id, price="1000"))
        amended = await client.resolve(amend)
        assert amended.executed
        assert amended.order is not None
        assert amended.order.price == 1000

        gate.trading.misbehave(Misbehaviour.DROP_AFTER, channel="futures.order_cancel")
        cancel = await in_doubt(client, gatetrio.CancelOrder(order_id=order.id))
        cancelled = await client.resolve(cancel)
        assert cancelled.executed
        assert cancelled.order is not None
        assert cancelled.order.finish_as == "cancelled"

        second = await client.request(resting_buy(gate))
        gate.trading.misbehave(Misbehaviour.DROP_BEFORE, channel="futures.order_cancel_cp")
        everything = await in_doubt(client, gatetrio.CancelAllOrders(contract=CONTRACT))
        left = await client.resolve(everything)
        assert not left.executed
        assert [o.id for o in left.orders] == [second.id]


async def test_resolve_a_batch_order_by_order(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        gate.trading.misbehave(Misbehaviour.DROP_AFTER, channel="futures.order_batch_place")
        batch = gatetrio.BatchPlaceOrders(
            orders=[
                resting_buy(gate),
                gatetrio.PlaceOrder(contract="NOPE_USDT", size=1, price="1"),
            ]
        )
        exc = await in_doubt(client, batch)
        first, second = exc.client_order_ids
        resolution = await client.resolve(exc)
        assert resolution.executed
        assert [o.text for o in resolution.orders] == [first]
        assert resolution.missing == (second,)


async def test_resolve_refuses_what_changes_nothing(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        gate.trading.misbehave(Misbehaviour.SILENCE, channel="futures.order_status")
        exc = await in_doubt(client, gatetrio.GetOrder(order_id=1))
        with pytest.raises(gatetrio.UsageError, match="send it again"):
            await client.resolve(exc)
        with pytest.raises(gatetrio.UsageError, match="RequestInDoubt"):
            await client.resolve(ValueError("x"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("how", "placed"), [(Misbehaviour.DROP_AFTER, True), (Misbehaviour.DROP_BEFORE, False)]
)
async def test_resolve_over_signed_rest_when_no_socket_is_up(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock, how: Misbehaviour, placed: bool
) -> None:
    async with client_for(gate, backoff_initial=60.0, backoff_max=60.0) as client:
        await client.request(gatetrio.Login())
        gate.refuse(100)  # no socket comes back while resolving
        gate.trading.misbehave(how, channel="futures.order_place")
        exc = await in_doubt(client, resting_buy(gate))
        assert isinstance(exc, gatetrio.RequestLost)
        assert not client.statistics().connected
        before = len(gate.rest_received)
        resolution = await client.resolve(exc)
        assert (resolution.via, resolution.placed) == ("rest", placed)
        if placed:
            assert resolution.order is not None
            assert resolution.order.text == exc.client_order_ids[0]
        calls = list(gate.rest_received)[before:]
        assert calls, "resolve asked Gate's REST API"
        assert all("/api/v4/futures/usdt/orders" in r.target for r in calls)
        assert all("signature" not in r.target and r.headers.get("sign") for r in calls)
    assert gate.trading.requests_received["futures.order_place"] == 1


async def test_resolve_falls_back_to_rest_when_the_socket_goes_while_asking(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate, backoff_initial=60.0, backoff_max=60.0) as client:
        await client.request(gatetrio.Login())
        gate.trading.misbehave(Misbehaviour.SILENCE, channel="futures.order_place")
        exc = await in_doubt(client, resting_buy(gate))
        gate.refuse(100)
        gate.trading.misbehave(Misbehaviour.DROP_BEFORE, channel="futures.order_status")
        resolution = await client.resolve(exc)
        assert (resolution.via, resolution.placed) == ("rest", True)


class StuckRest:
    """A REST transport that never answers."""

    def __init__(self) -> None:
        self.opened = 0

    @contextlib.asynccontextmanager
    async def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> AsyncIterator[HttpAnswer]:
        self.opened += 1
        await trio.sleep_forever()
        yield  # type: ignore[unreachable]  # pragma: no cover - never reached

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def test_resolve_over_rest_that_never_answers_ends_by_its_request_timeout(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    rest = StuckRest()
    async with gatetrio.open_client(
        connector=gate.connector,
        rest_transport=rest,
        config=client_config(backoff_initial=60.0, backoff_max=60.0),
        wall_clock=gate.wall_time,
        credentials=CREDS,
    ) as client:
        await client.request(gatetrio.Login())
        gate.refuse(100)
        gate.trading.misbehave(Misbehaviour.DROP_AFTER, channel="futures.order_place")
        exc = await in_doubt(client, resting_buy(gate))
        assert exc.expires_at is not None
        final = exc.expires_at + client.config.resolve_margin - gate.wall_time()
        start = trio.current_time()
        with pytest.raises(gatetrio.RestTimeout, match="within 3s"):
            await client.resolve(exc, request_timeout=3.0)
        assert trio.current_time() - start == pytest.approx(max(final, 0.0) + 3.0, abs=0.002)
        assert rest.opened >= 1
        assert client.statistics().trading.resolutions == 0  # nothing was resolved


# ---------------------------------------------------------------------------- rate limits


async def test_a_burst_of_500_orders_never_exceeds_the_rate_as_the_fake_measures_it(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    placed: list[gatetrio.Order] = []

    async def place(client: gatetrio.Client) -> None:
        placed.append(await client.request(resting_buy(gate), request_timeout=30.0))

    async with client_for(gate) as client:
        await client.request(gatetrio.Login())
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for _ in range(500):
                nursery.start_soon(place, client)
        took = trio.current_time() - start
        stats = client.statistics().trading
    assert len(placed) == 500
    assert len({o.text for o in placed}) == 500
    assert gate.trading.max_rate("orders", window=1.0) == 100  # never more, and no slower
    assert gate.trading.rate_limited == 0
    assert took == pytest.approx(4 * 1.05, abs=0.01)  # five windows of 100
    assert (stats.rate_limit_waits, stats.rate_limited) == (400, 0)


async def test_fail_policy_refuses_at_once_and_sends_nothing(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate, order_rate_limit=3) as client:
        await client.request(gatetrio.Login())
        for _ in range(3):
            await client.request(resting_buy(gate))
        start = trio.current_time()
        with pytest.raises(gatetrio.Throttled) as info:
            await client.request(resting_buy(gate), rate_limit=gatetrio.RateLimitPolicy.FAIL)
        assert trio.current_time() == start
        assert 0 < info.value.retry_after <= 1.05
        # a deadline shorter than the wait is refused at once too, whatever the policy
        with pytest.raises(gatetrio.Throttled, match="deadline"):
            await client.request(resting_buy(gate), request_timeout=info.value.retry_after / 2)
        assert trio.current_time() == start
        # cancels are another budget
        await client.request(gatetrio.CancelAllOrders(contract=CONTRACT))
        assert client.statistics().trading.rate_limit_refusals == 2
    assert gate.trading.requests_received["futures.order_place"] == 3


async def test_a_429_pauses_sending_until_gates_reset(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    gate.trading.rate_limits["orders"] = 5  # another process spends the rest of the budget
    async with watched(gate) as (client, events):
        await client.request(gatetrio.Login())
        for _ in range(5):
            await client.request(resting_buy(gate))
        with pytest.raises(gatetrio.RateLimited) as info:
            await client.request(resting_buy(gate))
        reset_at = info.value.reset_at
        assert reset_at is not None
        assert reset_at == int(gate.wall_time()) + 1  # Gate's next window
        assert info.value.label == "TOO_MANY_REQUESTS"
        order = await client.request(resting_buy(gate))  # held back until then
        assert order.create_time_ms >= reset_at * 1000
        assert gate.wall_time() == pytest.approx(reset_at, abs=0.002)
        stats = client.statistics().trading
        assert (stats.rate_limited, stats.rate_limit_pauses) == (1, 1)
    assert gate.trading.rate_limited == 1  # the pause kept the next one from a second 429
    assert [e.kind for e in events].count(gatetrio.ClientEventKind.RATE_LIMITED) == 1


def test_config_refuses_what_would_leave_a_request_without_a_deadline() -> None:
    for bad in (0, -1, float("inf"), float("nan"), True):
        with pytest.raises(gatetrio.UsageError, match="request_timeout"):
            client_config(request_timeout=bad)
    with pytest.raises(gatetrio.UsageError, match="RateLimitPolicy"):
        client_config(rate_limit_policy="wait")


async def test_bad_call_arguments_are_refused_at_once(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        for bad in (0, float("inf"), "5"):
            with pytest.raises(gatetrio.UsageError, match="request_timeout"):
                await client.request(resting_buy(gate), request_timeout=bad)  # type: ignore[arg-type]
        with pytest.raises(gatetrio.UsageError, match="RateLimitPolicy"):
            await client.request(resting_buy(gate), rate_limit="fail")  # type: ignore[arg-type]
        with pytest.raises(gatetrio.UsageError, match="trading request"):
            await client.request(channels.trades(CONTRACT))  # type: ignore[arg-type]
        assert nothing_pending(client)
