"""The contract listing pages (issue 17.2): Gate's docs give `/contracts` a `limit` (default
100, at most 1000) and an `offset`; the fake pages that way, and the client reads every page."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio._core._listing import listed_contracts
from gatetrio._shell._listing import fetch_listing
from gatetrio.testing import ContractSpec, FakeGateServer

from .helpers import client_config, open_against

MANY = 1234


def quiet(name: str) -> ContractSpec:
    """A contract that costs the fake almost nothing: two levels, no trading."""
    return ContractSpec(
        name=name,
        price=Decimal(10),
        tick=Decimal("0.01"),
        depth=2,
        mean_size=5,
        ops_per_step=0.0,
        trades_per_second=0.0,
        liquidations_per_second=0.0,
    )


@pytest.fixture
async def gate(nursery: trio.Nursery) -> FakeGateServer:
    names = [f"C{i:04d}_USDT" for i in range(MANY)]
    specs = [quiet(name) for name in names]
    specs[7] = ContractSpec(
        name=names[7], price=Decimal(1), tick=Decimal("0.01"), depth=2, in_delisting=True
    )
    server = FakeGateServer(seed=2, markets={"usdt": specs})
    await nursery.start(server.run)
    return server


async def test_the_fake_pages_as_the_docs_say(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    def names(target: str) -> list[str]:
        status, body = gate.handle_http("GET", target, {})
        assert status == 200
        return [c["name"] for c in json.loads(body)]

    base = "/api/v4/futures/usdt/contracts"
    assert len(names(base)) == 100  # one call without `limit` sees the default page only
    assert names(f"{base}?limit=3&offset=1230") == ["C1230_USDT", "C1231_USDT", "C1232_USDT"]
    assert names(f"{base}?limit=1000&offset=1000") == [f"C{i:04d}_USDT" for i in range(1000, MANY)]
    assert names(f"{base}?offset=5000") == []
    for bad in ("limit=0", "limit=1001", "limit=x", "offset=-1"):
        assert gate.handle_http("GET", f"{base}?{bad}", {})[0] == 400, bad


async def test_the_client_reads_every_page(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_against(gate) as client:
        listed = listed_contracts(await fetch_listing(client.rest))
        assert len(listed) == MANY - 1  # all of them, less the one being delisted
        assert "C0007_USDT" not in listed
        assert [r.target for r in gate.rest_received] == [
            "/api/v4/futures/usdt/contracts?limit=1000&offset=0",
            "/api/v4/futures/usdt/contracts?limit=1000&offset=1000",
        ]
        # smaller pages: the same listing in more calls
        gate.rest_received.clear()
        again = listed_contracts(await fetch_listing(client.rest, page_size=500))
        assert again == listed
        assert len(gate.rest_received) == 3


async def test_a_pool_of_all_contracts_lists_every_page(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with gatetrio.open_pool(
        contracts="all",
        connector=gate.connector,
        rest_transport=gate.rest_transport,
        config=client_config(),
        wall_clock=gate.wall_time,
    ) as pool:
        assert len(pool.contracts) == MANY - 1
        assert pool.statistics().merged.rest.calls == 2
