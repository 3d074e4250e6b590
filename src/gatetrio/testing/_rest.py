"""The fake's REST side: the order book snapshot and contract details, as JSON.

The loopback server answers plain HTTP requests with `handle_http`; in-memory tests fetch
snapshots through `FakeGateServer.fetch_order_book`, which builds the same body.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._connection import MarketKey
    from ._market import Market


def order_book(
    market: Market,
    contract: str,
    limit: int,
    settle: str | None,
    *,
    now: Callable[[], float],
    size_decimal: bool,
    with_id: bool,
) -> dict[str, object]:
    """The JSON body `GET /api/v4/futures/{settle}/order_book` answers on Gate's REST API."""
    if settle is not None and settle != market.settle:
        raise KeyError(f"{contract} is not a {settle}-settled contract")
    return market.rest_order_book(
        contract, limit, now=now(), size_decimal=size_decimal, with_id=with_id
    )


def handle_http(
    method: str,
    target: str,
    headers: dict[str, str],
    *,
    market: Callable[[MarketKey], Market | None],
    now: Callable[[], float],
) -> tuple[int, bytes]:
    """Answer a REST request: `(status, JSON body)`. `market(key)` is the market of a
    `(delivery, settle)` the server lists (None: it lists none), opened on first use."""
    parts = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    segments = parts.path.rstrip("/").split("/")

    def error(status: int, label: str, message: str) -> tuple[int, bytes]:
        return status, json.dumps({"label": label, "message": message}).encode()

    if method not in ("GET", "HEAD"):
        return error(405, "METHOD_NOT_ALLOWED", f"{method} is not served by the fake")
    match segments:
        case ["", "api", "v4", ("futures" | "delivery") as kind, settle, "order_book"]:
            key = (kind == "delivery", settle)
            contract = query.get("contract", "")
            found = market(key)
            if found is None:
                return error(404, "NOT_FOUND", f"unknown settle {settle}")
            if not found.has_contract(contract):
                return error(400, "CONTRACT_NOT_FOUND", f"contract {contract} not found")
            try:
                limit = int(query.get("limit", "10"))
            except ValueError:
                return error(400, "INVALID_PARAM_VALUE", "limit must be an integer")
            if not 1 <= limit <= 1000:
                return error(400, "INVALID_PARAM_VALUE", "limit must be 1..1000")
            body = found.rest_order_book(
                contract,
                limit,
                now=now(),
                size_decimal=headers.get("x-gate-size-decimal") == "1",
                with_id=query.get("with_id") == "true",
            )
            return 200, json.dumps(body, separators=(",", ":")).encode()
        case ["", "api", "v4", ("futures" | "delivery") as kind, settle, "contracts", *rest]:
            key = (kind == "delivery", settle)
            found = market(key) if len(rest) <= 1 else None
            if found is None:
                return error(404, "NOT_FOUND", "not found")
            if rest:
                if not found.has_contract(rest[0]):
                    return error(400, "CONTRACT_NOT_FOUND", f"contract {rest[0]} not found")
                return 200, json.dumps(found.contract_details(rest[0])).encode()
            details = [found.contract_details(c) for c in found.contracts]
            return 200, json.dumps(details).encode()
    return error(404, "NOT_FOUND", f"no route for {parts.path}")
