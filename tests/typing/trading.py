"""What a type checker infers for trading calls: checked by mypy (never run).

`tests/test_typing.py` runs mypy on this file and on a copy with one wrong expectation, which
must fail: so the inferred types below are the ones a user's editor sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import assert_type

import gatetrio


async def inferred(client: gatetrio.Client) -> None:
    place = gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="60000")
    assert_type(await client.request(place), gatetrio.Order)
    assert_type(await client.request(place, request_timeout=2.0), gatetrio.Order)
    assert_type(
        await client.request(gatetrio.BatchPlaceOrders(orders=[place])),
        list[gatetrio.BatchOrderOutcome],
    )
    assert_type(await client.request(gatetrio.CancelOrder(order_id=1)), gatetrio.Order)
    assert_type(
        await client.request(gatetrio.CancelOrders(order_ids=[1])), list[gatetrio.CancelOutcome]
    )
    assert_type(
        await client.request(gatetrio.CancelAllOrders(contract="BTC_USDT")), list[gatetrio.Order]
    )
    assert_type(await client.request(gatetrio.AmendOrder(order_id=1, price="1")), gatetrio.Order)
    assert_type(await client.request(gatetrio.ListOrders(status="open")), list[gatetrio.Order])
    assert_type(await client.request(gatetrio.GetOrder(order_id="t-x")), gatetrio.Order)
    assert_type(await client.request(gatetrio.Login()), gatetrio.LoginResult)

    order = await client.request(place)
    assert_type(order.price, Decimal)
    assert_type(order.size, int | Decimal)
    assert_type(order.raw, Mapping[str, object])
    try:
        await client.request(place)
    except gatetrio.RequestInDoubt as exc:
        resolution = await client.resolve(exc)
        assert_type(resolution, gatetrio.Resolution)
        assert_type(resolution.order, gatetrio.Order | None)
        assert_type(resolution.placed, bool)
        assert_type(exc.client_order_ids, tuple[str, ...])
    except gatetrio.RateLimited as exc:
        assert_type(exc.reset_at, float | None)
    except gatetrio.Throttled as exc:
        assert_type(exc.retry_after, float)
    stats = client.statistics().trading
    assert_type(stats.timed_out, int)
