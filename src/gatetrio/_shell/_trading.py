"""The client's trading side: `Client.request` and `Client.resolve`.

    request(req)                 exactly one typed outcome, by the deadline
    ├─ ready                     connected and logged in (the login is a request of its own,
    │                            one per connection, shared by concurrent callers)
    ├─ slot                      the client's rate limiter: now, a wait, or `Throttled`
    ├─ send                      on the current socket; a send still stuck at the deadline
    │                            aborts that socket (a half-written frame cannot stay on it)
    └─ outcome                   the protocol's `ApiCompleted` / `ApiFailed`; its timer ends
                                 the request at the deadline with `RequestTimeout`

The deadline is `trio.current_time()` at the call plus `request_timeout`, and covers all four
steps. Before the frame is sent, running out of time is a `RequestTimeout` with ``sent=False``:
the request certainly did not execute. After, the protocol owns the deadline (it is pure and
reports the expiry from its timer, which the supervisor's timer task runs), so the outcome
comes at the deadline exactly, on trio's clock.

    resolve(exc)                 what an in-doubt request did, for certain
    ├─ wait                      until Gate refuses the request (its x-gate-exptime, moved by
    │                            Gate's clock offset, plus `resolve_margin`): after that it can
    │                            no longer execute, so what is found is final
    └─ look up                   order_status / order_list on the live socket, or signed REST
                                 (GET /futures/{settle}/orders/{id or text}, ?status=...) when
                                 no socket is up or it goes while asking (`_resolve.py` says
                                 what to ask and what the answers mean)

Nothing here re-sends a request: the library never does.
"""

from __future__ import annotations

import logging
import typing
from typing import TYPE_CHECKING, Final, Literal, TypeVar

import trio

from gatetrio._core._config import RateLimitPolicy, check_timeout
from gatetrio._core._errors import (
    ConnectionLost,
    HeartbeatTimeout,
    OrderNotFound,
    RequestInDoubt,
    RequestLost,
    RequestTimeout,
    UsageError,
)
from gatetrio._core._requests import ApiRequest, GetOrder, ListOrders, Login
from gatetrio._core._resolve import FINISHED_SCAN, Lookup, Resolution, decide, find_in, lookups
from gatetrio._core._results import read_order, read_orders

from ._client_events import ClientEventKind

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from gatetrio._core._events import Order
    from gatetrio._core._request_base import TradingRequest

    from ._connection import Connection
    from ._rest import RestClient
    from ._runtime import Runtime

ResultT = TypeVar("ResultT")

log: Final = logging.getLogger("gatetrio.client")

MAX_CLOCK_OFFSET: Final = 60.0  # Gate refuses requests whose time is further off (spec 8.1)


class _NotSent(Exception):
    """The connection went before the frame was sent: get ready again (internal)."""


class Trading:
    """`Client.request` and `Client.resolve` (created by the client, one per `open_client`)."""

    def __init__(
        self, rt: Runtime, wait_connected: Callable[[], Awaitable[None]], rest: RestClient
    ) -> None:
        self._rt = rt
        self._rest = rest
        self._protocol = rt.protocol
        self._config = rt.config
        self._wait_connected = wait_connected

    # ------------------------------------------------------------------------------ request

    async def request(
        self,
        request: TradingRequest[ResultT],
        *,
        request_timeout: float | None = None,
        req_header: Mapping[str, str] | None = None,
        rate_limit: RateLimitPolicy | None = None,
    ) -> ResultT:
        config = self._config
        if not isinstance(request, ApiRequest):
            raise UsageError(
                f"request takes a trading request (PlaceOrder, CancelOrder, ...), got {request!r}"
            )
        if config.credentials is None:
            raise UsageError("the trading API needs credentials=gatetrio.Credentials(...)")
        if "/delivery/" in config.url:
            raise UsageError("Gate offers no WebSocket trading API on delivery endpoints")
        timeout = config.request_timeout
        if request_timeout is not None:
            timeout = check_timeout(request_timeout, "request_timeout")
        policy = config.rate_limit_policy if rate_limit is None else rate_limit
        if not isinstance(policy, RateLimitPolicy):
            raise UsageError(f"rate_limit must be a RateLimitPolicy, got {policy!r}")
        deadline = trio.current_time() + timeout
        result = await self._request(request, deadline, timeout, req_header, policy)
        return typing.cast("ResultT", result)

    async def _request(
        self,
        request: TradingRequest[object],
        deadline: float,
        seconds: float,
        req_header: Mapping[str, str] | None,
        policy: RateLimitPolicy,
    ) -> object:
        protocol = self._protocol
        while True:
            conn = await self._ready(request, deadline, seconds)
            now = trio.current_time()
            # Throttled at once, nothing reserved, if the policy or the deadline says so
            slot = protocol.trading.reserve_slot(
                request, now, deadline=deadline, wait=policy is RateLimitPolicy.WAIT
            )
            used = False
            try:
                while slot > now:
                    await trio.sleep_until(slot)
                    now = trio.current_time()
                    later = protocol.trading.confirm_slot(request, slot, now, deadline=deadline)
                    if later is not None:
                        slot = later  # a 429 paused sending meanwhile
                used = protocol.current_generation == conn.generation and not conn.closing
            finally:
                if not used:
                    protocol.trading.release_slot(request, slot)
            if not used:
                continue  # the socket changed while waiting: get ready on the new one
            try:
                return await self._roundtrip(request, conn, deadline, req_header)
            except _NotSent:
                continue

    async def _ready(
        self, request: TradingRequest[object], deadline: float, seconds: float
    ) -> Connection:
        """The current connection, logged in (unless `request` is the login)."""
        protocol = self._protocol
        rt = self._rt
        conn = rt.links.current()
        if (  # the usual case, without a cancel scope (its deadline costs the scheduler)
            conn is not None
            and not conn.closing
            and (isinstance(request, Login) or protocol.trading.is_logged_in(conn.generation))
        ):
            return conn
        with trio.move_on_at(deadline):
            while True:
                conn = rt.links.current()
                if conn is None:
                    await self._wait_connected()
                    conn = rt.links.current()
                if conn is None or conn.closing:
                    await rt.changed.wait()  # until that one is gone (or another came)
                    continue
                logged_in = protocol.trading.is_logged_in
                if not isinstance(request, Login) and not logged_in(conn.generation):
                    try:
                        async with conn.login_lock:  # concurrent first requests share one login
                            if not logged_in(conn.generation):
                                await self._roundtrip(Login(), conn, deadline, None)
                    except (RequestLost, _NotSent):
                        continue  # nothing of `request` went out: try the next connection
                    except RequestInDoubt as exc:  # timed out, or an unreadable login reply
                        raise self._not_sent(request, seconds, "logging in") from exc
                # a handover may have begun while logging in: new requests go to the new socket
                if protocol.current_generation == conn.generation and not conn.closing:
                    return conn
        why = "connecting" if rt.links.current() is None else "logging in"
        raise self._not_sent(request, seconds, why)

    def _not_sent(
        self, request: TradingRequest[object], timeout: float, why: str
    ) -> RequestTimeout:
        self._protocol.trading.not_sent()
        error = RequestTimeout(
            f"{request.channel}: not sent within {timeout:g}s (still {why}); it was not "
            "carried out",
            request=request,
            req_id="",
            sent=False,
            acked=False,
            timeout=timeout,
            client_order_ids=request.client_order_ids(),
        )
        self._rt.report_api_failure(error)
        return error

    async def _roundtrip(
        self,
        request: TradingRequest[object],
        conn: Connection,
        deadline: float,
        req_header: Mapping[str, str] | None,
    ) -> object:
        rt = self._rt
        protocol = self._protocol
        if conn.closing or not protocol.is_live(conn.generation):
            raise _NotSent
        # the timer task sleeps until protocol.get_timer() at the latest: wake it only if this
        # deadline comes first (most requests end long before the next ping is due)
        timer = protocol.get_timer()
        sent = protocol.trading.send(
            request,
            wall_time=rt.wall_clock(),
            now=trio.current_time(),
            deadline=deadline,
            generation=conn.generation,
            req_header=req_header,
        )
        waiter = rt.waiters.expect(sent.req_id)
        if timer is None or deadline < timer:
            rt.changed.notify()
        try:
            await self._send(conn, sent.frame, deadline)
            await waiter.done.wait()  # the protocol reports the outcome by the deadline
        except trio.Cancelled:
            if not waiter.done.is_set() and request.mutates:
                ids = ", ".join(sent.request.client_order_ids()) or "-"
                log.warning(
                    "%s cancelled by the caller after it was sent: it may have executed "
                    "(client order ids %s); nothing will report its outcome",
                    request.channel,
                    ids,
                )
            raise
        finally:
            rt.waiters.forget(sent.req_id)
            protocol.trading.forget(sent.req_id)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    async def _send(self, conn: Connection, frame: str, deadline: float) -> None:
        try:
            if deadline >= trio.current_time() + self._config.send_deadline:
                # the connection's own send deadline comes first: it aborts a stuck send
                await conn.send([frame])
                return
            with trio.move_on_at(deadline) as scope:
                await conn.send([frame])
        except ConnectionLost:
            return  # the socket is gone: the protocol reports the request lost
        if scope.cancelled_caught:
            # the frame may be half written: the socket cannot carry anything more
            conn.abort(HeartbeatTimeout("a send was stuck past a request's deadline"))

    # ------------------------------------------------------------------------------ resolve

    async def resolve(
        self, exc: RequestInDoubt, *, request_timeout: float | None = None
    ) -> Resolution:
        if not isinstance(exc, RequestInDoubt):
            raise UsageError(
                f"resolve takes the RequestInDoubt a request raised (RequestTimeout, "
                f"RequestLost, ReplyUnreadable), got {exc!r}"
            )
        request = exc.request
        if not exc.sent:  # it never left the client: certainly not carried out
            lookups(request)  # (UsageError for requests that change nothing)
            await trio.lowlevel.checkpoint()
            return Resolution(request, executed=False, missing=request.client_order_ids())
        keys = lookups(request)
        await self._wait_until_final(exc)
        seconds = self._config.request_timeout
        if request_timeout is not None:
            seconds = check_timeout(request_timeout, "request_timeout")
        up = self._rt.links.current() is not None
        via = "websocket" if up or not self._rest.enabled else "rest"
        try:
            resolution = await self._look_up(request, keys, seconds, via)
        except (RequestInDoubt, ConnectionLost):
            if via == "rest" or not self._rest.enabled:
                raise
            # the socket went while asking: ask Gate's REST API instead
            resolution = await self._look_up(request, keys, seconds, "rest")
        self._protocol.trading.resolved()
        outcome = "executed" if resolution.executed else "not executed"
        log.info("resolved %s over %s: %s", request.channel, resolution.via, outcome)
        self._rt.feeds.emit(
            ClientEventKind.REQUEST_RESOLVED, channel=request.channel, reason=outcome
        )
        return resolution

    async def _look_up(
        self, request: TradingRequest[object], keys: list[Lookup], seconds: float, via: str
    ) -> Resolution:
        found: dict[str, Order | None] = {}
        open_orders: list[Order] = []
        finished: dict[str, list[Order]] = {}
        for lookup in keys:
            order = await self._get_order(lookup.key, seconds, via)
            if order is None and lookup.contract is not None:
                # found by text only for 60 s after it finished: search the finished ones too
                if lookup.contract not in finished:
                    finished[lookup.contract] = await self._list_orders(
                        "finished", lookup.contract, FINISHED_SCAN, seconds, via
                    )
                order = find_in(finished[lookup.contract], lookup.key)
            found[lookup.key] = order
        if not keys:  # CancelAllOrders: what is still open
            contract = getattr(request, "contract", None)
            open_orders = await self._list_orders("open", contract, None, seconds, via)
        return decide(request, found, open_orders=open_orders, via=via)

    async def _wait_until_final(self, exc: RequestInDoubt) -> None:
        """Sleep until Gate can no longer carry the request out (see the module docstring)."""
        if exc.expires_at is None:
            await trio.lowlevel.checkpoint()
            return
        offset = self._protocol.trading.clock_offset or 0.0  # Gate's clock minus ours
        offset = max(-MAX_CLOCK_OFFSET, min(MAX_CLOCK_OFFSET, offset))
        final_at = exc.expires_at - offset + self._config.resolve_margin  # our wall clock
        # bounded: the expiry is the request's own deadline (or the one its caller set)
        await trio.sleep(max(0.0, final_at - self._rt.wall_clock()))

    async def _get_order(self, key: str, seconds: float, via: str) -> Order | None:
        try:
            if via == "websocket":
                return await self.request(GetOrder(order_id=key), request_timeout=seconds)
            rest = self._rest
            body = await rest.get(
                rest.route.market_path("orders", key), signed=True, deadline=seconds
            )
        except OrderNotFound:
            return None
        return read_order(body)

    async def _list_orders(
        self, status: Literal["open", "finished"], contract: str | None, limit: int | None,
        seconds: float, via: str,
    ) -> list[Order]:  # fmt: skip
        if via == "websocket":
            lookup = ListOrders(status=status, contract=contract, limit=limit)
            return await self.request(lookup, request_timeout=seconds)
        query: dict[str, str | int] = {"status": status}
        if contract is not None:
            query["contract"] = contract
        if limit is not None:
            query["limit"] = limit
        rest = self._rest
        return read_orders(
            await rest.get(
                rest.route.market_path("orders"), query=query, signed=True, deadline=seconds
            )
        )
