"""The fake's REST side: Gate's REST API v4 as JSON, checked like live.

Public: the order book snapshot (`with_id`, sizes as the `X-Gate-Size-Decimal` header asks),
the contract listing (paged by `limit`, default 100, at most 1000, and `offset`, as Gate's docs
say), one contract, tickers, spot currencies. Other spot and options listings answer an empty
list. Private, from the one trading engine the WebSocket trading API and the private pushes
use (`_account.Account`): open or finished orders, one order by id or by its `t-` text, my
trades (`my_trades`, and `my_trades_timerange` which ccxt calls), positions, the futures
account, account detail.

Private calls are checked as live checks them when the server has credentials (`_rest_auth`):
APIv4 signature headers, a timestamp within 60 s, and 200 requests per 10 s per endpoint, past
which Gate's 429 comes back with its rate-limit headers. Without credentials the fake serves
its one account to anyone, unsigned.

`serve_http` is the whole answer (status, body, headers): the loopback server and
`FakeRestTransport` (in memory) use it; `handle_http` is its (status, body) for tests.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from gatetrio._core._encode import encode_event
from gatetrio._core._events import TickersUpdate

from . import _rest_account
from ._account import ApiFailure
from ._market._numbers import dec_text
from ._price_orders import PriceOrders
from ._price_orders import serve_rest as serve_price_orders
from ._rest_reply import RestReply, error, ok

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._account import Account
    from ._connection import MarketKey
    from ._market import Market
    from ._rest_auth import RestAuth

LISTING_DEFAULT_LIMIT: Final = 100  # Gate's documented default page
LISTING_MAX_LIMIT: Final = 1000  # and its documented maximum


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


@attrs.frozen(kw_only=True)
class RestHost:
    """What the REST side needs of its server."""

    market: Callable[[MarketKey], Market | None]
    """The market of a `(delivery, settle)` the server lists (None: not listed)."""
    now: Callable[[], float]
    """Seconds since the server started (the markets' clock)."""
    account: Account | None = None
    """The trading engine behind the private routes (None: they are not found)."""
    auth: RestAuth | None = None
    """Checks signatures and rate limits of private routes (None: no checks)."""
    triggers: PriceOrders | None = None
    """The engine's price-triggered orders (None: their routes are not found)."""
    wake: Callable[[], None] | None = None
    """Tells the engine's clock to look again (an auto order to watch)."""


@attrs.frozen
class _Request:
    method: str
    path: str
    query_text: str  # as sent: what a signature covers
    query: dict[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    @property
    def size_decimal(self) -> bool:
        return self.headers.get("x-gate-size-decimal") == "1"


def serve_http(
    method: str, target: str, headers: Mapping[str, str], body: bytes, host: RestHost
) -> RestReply:
    """Answer one REST request; `headers` have lower-case names."""
    parts = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    segments = [unquote(s) for s in parts.path.rstrip("/").split("/")]
    request = _Request(method, parts.path, parts.query, query, headers, body)
    size_decimal = request.size_decimal
    match segments:
        case ["", "api", "v4", "futures", settle, *rest] if rest and rest[0] in _PRIVATE:
            return _private(request, host, settle, rest)
        case ["", "api", "v4", "account", "detail"] if host.account is not None:
            denied = _check(request, host, "account/detail")
            if isinstance(denied, RestReply):
                return denied
            return ok(_rest_account.account_detail(host.account), headers=denied)
    if method not in ("GET", "HEAD"):
        return error(405, "METHOD_NOT_ALLOWED", f"{method} is not served by the fake")
    match segments:
        case ["", "api", "v4", ("futures" | "delivery") as kind, settle, "order_book"]:
            return _order_book(host, (kind == "delivery", settle), query, size_decimal)
        case ["", "api", "v4", ("futures" | "delivery") as kind, settle, "contracts", *rest]:
            found = host.market((kind == "delivery", settle)) if len(rest) <= 1 else None
            if found is None:
                return error(404, "NOT_FOUND", "not found")
            if rest:
                if not found.has_contract(rest[0]):
                    return error(400, "CONTRACT_NOT_FOUND", f"contract {rest[0]} not found")
                return ok(found.contract_details(rest[0]))
            page = _page(query, default=LISTING_DEFAULT_LIMIT)
            if isinstance(page, RestReply):
                return page
            start, limit = page
            names = list(found.contracts)[start : start + limit]
            return ok([found.contract_details(c, host.now()) for c in names])
        case ["", "api", "v4", ("futures" | "delivery") as kind, settle, "tickers"]:
            found = host.market((kind == "delivery", settle))
            if found is None:
                return error(404, "NOT_FOUND", f"unknown settle {settle}")
            wanted = query.get("contract")
            if wanted is not None and not found.has_contract(wanted):
                return error(400, "CONTRACT_NOT_FOUND", f"contract {wanted} not found")
            names = [wanted] if wanted is not None else list(found.contracts)
            return ok([_rest_ticker(found, name, host.now()) for name in names])
        case ["", "api", "v4", "spot", "currencies"]:
            return ok(_rest_account.spot_currencies())
        case ["", "api", "v4", "spot" | "margin", "currency_pairs"] | [
            "",
            "api",
            "v4",
            "options",
            "underlyings" | "contracts",
        ]:
            return ok([])  # the fake lists no spot or margin pairs and no options
    return error(404, "NOT_FOUND", f"no route for {parts.path}")


def handle_http(
    method: str, target: str, headers: Mapping[str, str], body: bytes, host: RestHost
) -> tuple[int, bytes]:
    """`serve_http` as (status, body)."""
    reply = serve_http(method, target, {k.lower(): v for k, v in headers.items()}, body, host)
    return reply.status, reply.body


# ------------------------------------------------------------------------------- public


def _order_book(
    host: RestHost, key: MarketKey, query: dict[str, str], size_decimal: bool
) -> RestReply:
    contract = query.get("contract", "")
    found = host.market(key)
    if found is None:
        return error(404, "NOT_FOUND", f"unknown settle {key[1]}")
    if not found.has_contract(contract):
        return error(400, "CONTRACT_NOT_FOUND", f"contract {contract} not found")
    try:
        limit = int(query.get("limit", "10"))
    except ValueError:
        return error(400, "INVALID_PARAM_VALUE", "limit must be an integer")
    if not 1 <= limit <= LISTING_MAX_LIMIT:
        return error(400, "INVALID_PARAM_VALUE", "limit must be 1..1000")
    body = found.rest_order_book(
        contract,
        limit,
        now=host.now(),
        size_decimal=size_decimal,
        with_id=query.get("with_id") == "true",
    )
    return ok(body)


def _page(query: Mapping[str, str], *, default: int) -> tuple[int, int] | RestReply:
    """(offset, limit) of a `limit`/`offset` paged list (Gate's docs: default 100, at most
    1000), or the 400 Gate gives for a bad value."""
    try:
        limit = int(query.get("limit", str(default)))
        offset = int(query.get("offset", "0"))
    except ValueError:
        return error(400, "INVALID_PARAM_VALUE", "limit and offset must be integers")
    if not 1 <= limit <= LISTING_MAX_LIMIT or offset < 0:
        return error(400, "INVALID_PARAM_VALUE", "limit must be 1..1000, offset >= 0")
    return offset, limit


# ------------------------------------------------------------------------------ private

_PRIVATE: Final = frozenset(
    {"orders", "my_trades", "my_trades_timerange", "positions", "accounts", "price_orders"}
)


def _check(
    request: _Request, host: RestHost, endpoint: str
) -> RestReply | tuple[tuple[str, str], ...]:
    """The refusal of a private call (signature, timestamp, rate limit), or the rate-limit
    headers its answer carries."""
    if host.auth is None:
        return ()
    return host.auth.check(
        request.method,
        request.path,
        request.query_text,
        request.headers,
        request.body,
        endpoint=endpoint,
    )


def _private(request: _Request, host: RestHost, settle: str, rest: list[str]) -> RestReply:
    account = host.account
    found = host.market((False, settle))
    if account is None or found is None:
        return error(404, "NOT_FOUND", f"unknown settle {settle}")
    endpoint = f"futures/{settle}/{rest[0]}" + ("/{order_id}" if len(rest) > 1 else "")
    checked = _check(request, host, endpoint)
    if isinstance(checked, RestReply):
        return checked
    now = host.now()
    if rest[0] == "price_orders" and host.triggers is not None:
        try:
            answer = serve_price_orders(
                host.triggers,
                found,
                method=request.method,
                rest=rest,
                query=request.query,
                body=request.body,
                now_ms=found.wall_ms(now),
            )
        except ApiFailure as exc:
            return error(int(exc.status), exc.label, exc.message, headers=checked)
        if host.wake is not None:
            host.wake()  # a new auto order is watched from the next tick
        return ok(answer, headers=checked)
    if request.method not in ("GET", "HEAD"):
        return error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not served by the fake")
    size_decimal = request.size_decimal
    query = request.query
    match rest:
        case ["accounts"]:
            return ok(_rest_account.futures_account(account, settle), headers=checked)
        case ["positions"]:
            body = _rest_account.positions(account, found, now, size_decimal=size_decimal)
            return ok(body, headers=checked)
        case ["orders", order_ref]:
            order = account.lookup(order_ref)
            if order is None or not found.has_contract(order.contract):
                return error(404, "ORDER_NOT_FOUND", "Order not found", headers=checked)
            return ok(account.order_json(order, size_decimal=size_decimal), headers=checked)
        case ["orders"]:
            return _list_orders(account, found, query, size_decimal, checked)
        case ["my_trades" | "my_trades_timerange" as kind]:
            return _my_trades(account, found, request, checked, timerange=kind != "my_trades")
    return error(404, "NOT_FOUND", f"no route for {request.path}")


def _list_orders(
    account: Account,
    market: Market,
    query: dict[str, str],
    size_decimal: bool,
    headers: tuple[tuple[str, str], ...],
) -> RestReply:
    """`GET /futures/{settle}/orders?status=open|finished[&contract=][&limit=&offset=]`:
    newest first, with Gate's pagination headers."""
    status = query.get("status")
    if status not in ("open", "finished"):
        return error(400, "INVALID_PARAM_VALUE", "invalid argument: status", headers=headers)
    contract = query.get("contract") or None
    if contract is not None and not market.has_contract(contract):
        return error(400, "CONTRACT_NOT_FOUND", f"contract {contract} not found", headers=headers)
    page = _page(query, default=LISTING_DEFAULT_LIMIT)
    if isinstance(page, RestReply):
        return page
    start, limit = page
    found = [
        order
        for order in reversed(account.orders.values())
        if order.status == status
        and market.has_contract(order.contract)
        and (contract is None or order.contract == contract)
    ]
    paging = (
        ("X-Pagination-Limit", str(limit)),
        ("X-Pagination-Offset", str(start)),
        ("X-Pagination-Total", str(len(found))),
    )
    body = [account.order_json(o, size_decimal=size_decimal) for o in found[start : start + limit]]
    return ok(body, headers=headers + paging)


def _my_trades(
    account: Account,
    market: Market,
    request: _Request,
    headers: tuple[tuple[str, str], ...],
    *,
    timerange: bool,
) -> RestReply:
    """`my_trades` (`contract`, `order`, `limit`, `offset`, `last_id`) and `my_trades_timerange`
    (`contract`, `from`, `to` in seconds, `limit`, `offset`): newest first."""
    query, size_decimal = request.query, request.size_decimal
    contract = query.get("contract") or None
    if contract is not None and not market.has_contract(contract):
        return error(400, "CONTRACT_NOT_FOUND", f"contract {contract} not found", headers=headers)
    page = _page(query, default=LISTING_DEFAULT_LIMIT)
    if isinstance(page, RestReply):
        return page
    start, limit = page
    try:
        order = int(query["order"]) if query.get("order") else None
        last_id = int(query["last_id"]) if query.get("last_id") else None
        since_ms = int(float(query["from"]) * 1000) if query.get("from") else None
        until_ms = int(float(query["to"]) * 1000) if query.get("to") else None
    except ValueError:
        return error(400, "INVALID_PARAM_VALUE", "invalid argument", headers=headers)
    fills = [
        fill
        for fill in reversed(account.fills)
        if market.has_contract(fill.contract)
        and (contract is None or fill.contract == contract)
        and (order is None or fill.order_id == order)
        and (last_id is None or fill.id < last_id)
        and (since_ms is None or fill.create_ms >= since_ms)
        and (until_ms is None or fill.create_ms <= until_ms)
    ]
    body = [
        _rest_account.my_trade(market, fill, size_decimal=size_decimal, timerange=timerange)
        for fill in fills[start : start + limit]
    ]
    return ok(body, headers=headers)


# -------------------------------------------------------------------------------- helpers


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
