"""Every §8 request type, drawn by Hypothesis in any order, round-trips its typed result
against the fake: each result is the record the fake's engine holds, and a model of the open
orders (what was placed, amended and cancelled) agrees with every list, lookup and cancel.

Orders rest far from the market (half the best bid, twice the best ask), so nothing fills
them unseen; takers are drawn too (an ioc at the touch): they finish at once and are never
open. One example runs a fresh fake and client on the autojump clock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import gatetrio
from gatetrio.testing import FakeGateServer

from .helpers import open_against

CREDS = gatetrio.Credentials(key="k-rt", secret="s-rt", user_id="31337")
CONTRACTS = ("BTC_USDT", "ETH_USDT")

texts = st.none() | st.from_regex(r"t-[0-9A-Za-z_.\-]{1,20}", fullmatch=True)
contracts = st.sampled_from(CONTRACTS)
sides = st.sampled_from((1, -1))
units = st.integers(1, 9)
picks = st.integers(0, 2**16)  # which known order a step acts on (modulo how many there are)

steps = st.one_of(
    st.tuples(st.just("login")),
    st.tuples(st.just("place"), contracts, sides, units, texts),
    st.tuples(st.just("take"), contracts, sides, units),
    st.tuples(
        st.just("batch"),
        st.lists(st.tuples(contracts | st.just("NOPE_USDT"), sides, units), min_size=1, max_size=4),
    ),
    st.tuples(st.just("amend"), picks, st.sampled_from(("price", "size", "both"))),
    st.tuples(st.just("cancel"), picks, st.booleans()),
    st.tuples(st.just("cancel_ids"), st.lists(picks, max_size=4), st.booleans()),
    st.tuples(st.just("cancel_all"), contracts, st.sampled_from((None, "bid", "ask"))),
    st.tuples(st.just("list"), contracts | st.none()),
    st.tuples(st.just("get"), picks, st.booleans()),
)


class Model:
    """The open orders the client placed, as their typed results said."""

    def __init__(self, client: gatetrio.Client, gate: FakeGateServer) -> None:
        self.client = client
        self.gate = gate
        self.open: dict[int, gatetrio.Order] = {}
        self.seen: dict[int, gatetrio.Order] = {}  # every order ever placed, latest state
        self.unique = 0

    def resting(self, contract: str, side: int, size: int, text: str | None) -> gatetrio.PlaceOrder:
        if contract not in CONTRACTS:  # Gate refuses it: any price will do
            return gatetrio.PlaceOrder(contract=contract, size=side * size, price="1", text=text)
        best = self.gate.book(contract, 1)
        price = best.bids[0][0] / 2 if side > 0 else best.asks[0][0] * 2
        return gatetrio.PlaceOrder(
            contract=contract, size=side * size, price=str(price.normalize()), text=text
        )

    def pick(self, index: int, *, only_open: bool = True) -> gatetrio.Order | None:
        pool = sorted(self.open if only_open else self.seen)
        return (self.open if only_open else self.seen)[pool[index % len(pool)]] if pool else None

    def placed(self, order: gatetrio.Order, sent: gatetrio.PlaceOrder) -> None:
        assert isinstance(order, gatetrio.Order)
        assert (order.contract, order.size, order.price) == (
            sent.contract,
            sent.size,
            Decimal(str(sent.price)),
        )
        assert order.text.startswith("t-")
        if sent.text is not None:
            assert order.text == sent.text
        self.seen[order.id] = order
        if order.status == "open":
            assert (order.left, order.finish_as) == (order.size, "")
            self.open[order.id] = order
        else:
            assert order.finish_as != ""

    async def step(self, step: tuple[Any, ...]) -> None:
        request = self.client.request
        match step:
            case ("login",):
                assert await request(gatetrio.Login()) == gatetrio.LoginResult(uid="31337")
            case ("place", contract, side, size, text):
                if text is not None:
                    self.unique += 1
                    text = f"{text}{self.unique}"[:30]
                sent = self.resting(contract, side, size, text)
                self.placed(await request(sent), sent)
            case ("take", contract, side, size):
                best = self.gate.book(contract, 1)
                touch = best.asks[0][0] if side > 0 else best.bids[0][0]
                sent = gatetrio.PlaceOrder(
                    contract=contract, size=side * size, price=str(touch), tif="ioc"
                )
                order = await request(sent)
                self.placed(order, sent)
                assert order.status == "finished"
            case ("batch", legs):
                sent_orders = [self.resting(c, side, size, None) for c, side, size in legs]
                outcomes = await request(gatetrio.BatchPlaceOrders(orders=sent_orders))
                assert len(outcomes) == len(sent_orders)
                assert len({o.text for o in outcomes}) == len(outcomes)
                for outcome, sent in zip(outcomes, sent_orders, strict=True):
                    assert outcome.text.startswith("t-")
                    if sent.contract == "NOPE_USDT":
                        assert (outcome.succeeded, outcome.order) == (False, None)
                        assert isinstance(outcome.error, gatetrio.InvalidArgument)
                    else:
                        assert outcome.succeeded
                        assert outcome.order is not None
                        assert outcome.order.text == outcome.text
                        self.placed(outcome.order, sent)
            case ("amend", index, what):
                target = self.pick(index)
                if target is None:
                    return
                await self.amend(target, what)
            case ("cancel", index, by_text):
                await self.cancel(self.pick(index), by_text=by_text)
            case ("cancel_ids", indexes, with_unknown):
                await self.cancel_ids(indexes, with_unknown=with_unknown)
            case ("cancel_all", contract, side):
                await self.cancel_all(contract, side)
            case ("list", contract):
                await self.list_open(contract)
            case ("get", index, by_text):
                await self.get(self.pick(index, only_open=False), by_text=by_text)
            case _:  # pragma: no cover - every drawn step is matched
                raise AssertionError(step)

    async def amend(self, order: gatetrio.Order, what: str) -> None:
        price = order.price * Decimal("0.9") if what != "size" else None
        size = order.size * 2 if what != "price" else None
        amended = await self.client.request(
            gatetrio.AmendOrder(
                order_id=order.id,
                price=None if price is None else str(price.normalize()),
                size=size,
            )
        )
        assert (amended.id, amended.text, amended.status) == (order.id, order.text, "open")
        assert amended.price == (order.price if price is None else price)
        assert amended.size == (order.size if size is None else size)
        assert amended.amend_text.startswith("t-")
        self.open[order.id] = self.seen[order.id] = amended

    async def cancel(self, order: gatetrio.Order | None, *, by_text: bool) -> None:
        if order is None:
            with pytest.raises(gatetrio.OrderNotFound):
                await self.client.request(gatetrio.CancelOrder(order_id=987654321))
            return
        key: int | str = order.text if by_text else order.id
        cancelled = await self.client.request(gatetrio.CancelOrder(order_id=key))
        assert (cancelled.id, cancelled.status, cancelled.finish_as) == (
            order.id,
            "finished",
            "cancelled",
        )
        del self.open[order.id]
        self.seen[order.id] = cancelled

    async def cancel_ids(self, indexes: list[int], *, with_unknown: bool) -> None:
        chosen = [o for i in indexes if (o := self.pick(i, only_open=False)) is not None]
        ids = list(dict.fromkeys(o.id for o in chosen))
        wanted = [*ids, 987654321] if with_unknown or not ids else ids
        outcomes = await self.client.request(gatetrio.CancelOrders(order_ids=wanted))
        assert [c.order_id for c in outcomes] == [str(i) for i in wanted]
        for outcome, order_id in zip(outcomes, wanted, strict=True):
            was_open = order_id in self.open
            assert outcome.succeeded is was_open, (outcome, order_id)
            if was_open:
                del self.open[order_id]
            else:
                assert outcome.label == "ORDER_NOT_FOUND"
                assert isinstance(outcome.error, gatetrio.OrderNotFound)

    async def cancel_all(self, contract: str, side: Literal["bid", "ask"] | None) -> None:
        cancelled = await self.client.request(
            gatetrio.CancelAllOrders(contract=contract, side=side)
        )
        expected = {
            i
            for i, o in self.open.items()
            if o.contract == contract and (side is None or (o.size > 0) == (side == "bid"))
        }
        assert {o.id for o in cancelled} == expected
        assert all(o.finish_as == "cancelled" for o in cancelled)
        for order_id in expected:
            del self.open[order_id]

    async def list_open(self, contract: str | None) -> None:
        listed = await self.client.request(gatetrio.ListOrders(status="open", contract=contract))
        assert all(isinstance(o, gatetrio.Order) for o in listed)
        expected = {i: o for i, o in self.open.items() if contract in {None, o.contract}}
        assert {o.id: o for o in listed} == expected

    async def get(self, order: gatetrio.Order | None, *, by_text: bool) -> None:
        if order is None:
            with pytest.raises(gatetrio.OrderNotFound):
                await self.client.request(gatetrio.GetOrder(order_id=987654321))
            return
        key: int | str = order.text if by_text else order.id
        got = await self.client.request(gatetrio.GetOrder(order_id=key))
        assert (got.id, got.text, got.contract, got.size) == (
            order.id,
            order.text,
            order.contract,
            order.size,
        )
        if order.id in self.open:
            assert got == order
        else:
            assert got.status == "finished"


@settings(max_examples=8, deadline=None)  # a fake and a client per example
@given(st.lists(steps, min_size=1, max_size=14), st.integers(1, 50))
def test_every_request_type_round_trips_its_typed_result_against_the_fake(
    plan: list[tuple[Any, ...]], seed: int
) -> None:
    async def main() -> None:
        gate = FakeGateServer(seed=seed, credentials=CREDS)
        async with trio.open_nursery() as nursery:
            await nursery.start(gate.run)
            async with open_against(gate, credentials=CREDS) as client:
                model = Model(client, gate)
                for step in plan:
                    await model.step(step)
                stats = client.statistics().trading
                assert stats.pending == 0
                assert stats.completed + stats.rejected == stats.requests_sent
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
