"""The fake's REST side, as JSON: the order book snapshot, and what other clients
call before they open a socket: contracts, tickers, positions, accounts, account
detail, spot currencies. Other spot and options listings answer an empty list.

The loopback server answers plain HTTP requests with `handle_http`; in-memory tests fetch
snapshots through `FakeGateServer.fetch_order_book`, which builds the same body.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from gatetrio._core._encode import encode_event
from gatetrio._core._events import TickersUpdate

from . import _rest_account
from ._market._numbers import dec_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._account import Account
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
    account: Account | None = None,
) -> tuple[int, bytes]:
    """Answer a REST request: `(status, JSON body)`. `market(key)` is the market of a
    `(delivery, settle)` the server lists (None: it lists none), opened on first use;
    `account` answers the private routes (None: they are not found)."""
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
            details = [found.contract_details(c, now()) for c in found.contracts]
            return 200, json.dumps(details).encode()
        case ["", "api", "v4", ("futures" | "delivery") as kind, settle, "tickers"]:
            found = market((kind == "delivery", settle))
            if found is None:
                return error(404, "NOT_FOUND", f"unknown settle {settle}")
            wanted = query.get("contract")
            if wanted is not None and not found.has_contract(wanted):
                return error(400, "CONTRACT_NOT_FOUND", f"contract {wanted} not found")
            names = [wanted] if wanted is not None else list(found.contracts)
            return 200, _dumps([_rest_ticker(found, name, now()) for name in names])
        case ["", "api", "v4", "futures", settle, ("positions" | "accounts") as what]:
            found = market((False, settle))
            if found is None or account is None:
                return error(404, "NOT_FOUND", f"unknown settle {settle}")
            if what == "accounts":
                return 200, _dumps(_rest_account.futures_account(account, settle))
            return 200, _dumps(_rest_account.positions(account, found, now()))
        case ["", "api", "v4", "account", "detail"] if account is not None:
            return 200, _dumps(_rest_account.account_detail(account))
        case ["", "api", "v4", "spot", "currencies"]:
            return 200, _dumps(_rest_account.spot_currencies())
        case ["", "api", "v4", "spot" | "margin", "currency_pairs"] | [
            "",
            "api",
            "v4",
            "options",
            "underlyings" | "contracts",
        ]:
            return 200, b"[]"  # the fake lists no spot or margin pairs and no options
    return error(404, "NOT_FOUND", f"no route for {parts.path}")


def _dumps(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _rest_ticker(market: Market, contract: str, now: float) -> dict[str, object]:
    frame = json.loads(encode_event(TickersUpdate(result=(market.rest_ticker(contract, now),))))
    ticker: dict[str, object] = frame["result"][0]
    bid, ask = market.best_bid_ask(contract)
    ticker["highest_bid"] = "" if bid is None else dec_text(bid)
    ticker["lowest_ask"] = "" if ask is None else dec_text(ask)
    ticker.pop("t", None)
    ticker.pop("event_type", None)
    return ticker
