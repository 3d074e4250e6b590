"""The fake's WebSocket trading API: request envelopes, login, signatures, rate limits.

A request (`event: api`) is checked here, then carried out by the trading engine (`_account`),
and answered with Gate's ack/result/error frames (the order_place ack echoes the request
first). Replies go through the server's `Replies`, so they keep their place among the pushes.

Rate limits as Gate counts them (spec 8.3, 9): place and amend (a batch is one request) share
100 requests per second of the server's wall clock, cancels have 200; each window is a whole
second, and a request past the limit gets status 429 `TOO_MANY_REQUESTS` with the time the next
window opens. The fake also logs every arrival, so a test can ask for the most requests of a
kind that ever arrived within any one second (`max_rate`), however the windows fell.

Hostile replies on demand (`misbehave`): for the next requests of a channel, answer nothing, only
the ack, under another request id, twice, with an unreadable result, or close the socket before
or after the engine carried the request out. A client must end each of them in exactly one
typed outcome.
"""

from __future__ import annotations

import collections
import enum
import json
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
import msgspec

from gatetrio._core._auth import verify_api_sign
from gatetrio._core._events import ApiAck, ApiError, ApiHeader, ApiResult

from ._account import AccountHost, ApiFailure

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._account import Account
    from ._connection import Connection
    from ._profile import FakeProfile
    from ._replies import Replies

# The fake's own trading channel table (spec 8), apart from the client's catalogue on purpose:
# a shared table would hide a misreading from every test against the fake.
TRADING_CHANNELS: Final = frozenset(
    {
        "futures.login",
        "futures.order_place",
        "futures.order_batch_place",
        "futures.order_cancel",
        "futures.order_cancel_ids",
        "futures.order_cancel_cp",
        "futures.order_amend",
        "futures.order_list",
        "futures.order_status",
    }
)
RATE_LIMITS: Final = {"orders": 100, "cancels": 200}  # requests per second (spec 9)
RATE_LIMIT: Final = RATE_LIMITS["orders"]
_RATE_GROUPS: Final = {
    "futures.order_place": "orders",
    "futures.order_batch_place": "orders",
    "futures.order_amend": "orders",
    "futures.order_cancel": "cancels",
    "futures.order_cancel_ids": "cancels",
    "futures.order_cancel_cp": "cancels",
}
ARRIVALS_KEPT: Final = 10_000  # arrival times kept per rate group for `max_rate`


class Misbehaviour(enum.Enum):
    """How the fake answers a trading request it was told to misbehave on (`misbehave`)."""

    SILENCE = "silence"
    """Carry it out and send nothing at all."""
    ACK_ONLY = "ack_only"
    """Carry it out, send the ack echo (order placement), then nothing."""
    OTHER_ID = "other_id"
    """Carry it out and send the replies under another request id."""
    TWICE = "twice"
    """Carry it out and send the final reply twice."""
    UNREADABLE = "unreadable"
    """Carry it out and answer status 200 with a result that is not what the request returns."""
    DROP_BEFORE = "drop_before"
    """Close the socket (no close frame) before the engine sees the request."""
    DROP_AFTER = "drop_after"
    """Let the engine carry it out, then close the socket (no close frame) without replying."""


@attrs.define(eq=False, kw_only=True)
class _ApiRequest:
    conn: Connection
    channel: str
    req_id: str
    trace_id: str
    now_ms: int
    limits: dict[str, int] = attrs.field(factory=dict)


class TradingApiHost(AccountHost, Protocol):
    """What the trading API needs from its server, on top of what the engine needs."""

    @property
    def max_time_skew(self) -> float: ...
    @property
    def profile(self) -> FakeProfile: ...
    @property
    def replies(self) -> Replies: ...
    def wake_clock(self) -> None: ...
    def drop(self, conn: Connection) -> None: ...


class TradingApi:
    """Answers `event: api` requests for one account."""

    def __init__(self, host: TradingApiHost, account: Account) -> None:
        self._host = host
        self._account = account
        self.rate_limits: dict[str, int] = dict(RATE_LIMITS)
        """Requests per second by group ("orders": place/amend, "cancels"); tests lower them."""
        self._windows: dict[str, tuple[int, int]] = {}  # group -> (second, count)
        self._arrivals: dict[str, collections.deque[float]] = {
            group: collections.deque(maxlen=ARRIVALS_KEPT) for group in RATE_LIMITS
        }
        self._misbehaviour: dict[str | None, collections.deque[Misbehaviour]] = {}
        self.rate_limited = 0
        """Requests answered 429 so far."""
        self.requests_received: collections.Counter[str] = collections.Counter()
        """Trading requests received, by channel."""

    # ------------------------------------------------------------------------ test hooks

    def misbehave(self, how: Misbehaviour, *, channel: str | None = None, count: int = 1) -> None:
        """Answer the next `count` requests of `channel` (None: any trading channel but
        futures.login) as `how` says instead of as Gate does."""
        if channel is not None and channel not in TRADING_CHANNELS:
            raise ValueError(f"{channel!r} is not a trading channel")
        queue = self._misbehaviour.setdefault(channel, collections.deque())
        queue.extend([how] * count)

    def max_rate(self, group: str = "orders", *, window: float = 1.0) -> int:
        """The most requests of `group` that arrived within any `window` seconds (server clock).

        Any window, not Gate's whole seconds: a client that keeps this at or below the limit
        is under it however Gate's windows fall.
        """
        times = self._arrivals[group]
        most = start = 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            most = max(most, end - start + 1)
        return most

    def _take_misbehaviour(self, channel: str) -> Misbehaviour | None:
        if channel == "futures.login":
            return None
        for key in (channel, None):
            queue = self._misbehaviour.get(key)
            if queue:
                return queue.popleft()
        return None

    def handle(self, conn: Connection, msg: dict[str, Any], raw: str) -> None:
        """One `event: api` frame; `raw` is its text, whose exact req_param bytes are signed."""
        replies = self._host.replies
        channel = msg.get("channel")
        payload = msg.get("payload")
        if not isinstance(channel, str) or channel not in TRADING_CHANNELS or conn.market_key[0]:
            # delivery has no trading API: it answers as for a channel that does not exist
            replies.error(conn, str(channel), "api", 2, f"unknown channel {channel}", msg=msg)
            return
        if not isinstance(payload, dict):
            replies.error(conn, channel, "api", 2, "invalid argument", msg=msg)
            return
        req = _ApiRequest(
            conn=conn,
            channel=channel,
            req_id=str(payload.get("req_id", "")),
            trace_id=replies.hex(32),
            now_ms=replies.wall_ms(),
        )
        self.requests_received[channel] += 1
        how = self._take_misbehaviour(channel)
        if how is Misbehaviour.DROP_BEFORE:
            self._host.drop(conn)
            return
        out = _Out(conn, replies, how)
        after: list[Callable[[], None]] = []
        try:
            group = _RATE_GROUPS.get(channel)
            if group is not None:
                self._rate_limit(req, group)
            self._check_request(req, payload, raw)
            if channel == "futures.login":
                conn.logged_in = True
                result: object = {
                    "uid": self._account.user_id,
                    "api_key": str(payload.get("api_key", "")),
                }
            else:
                param = payload.get("req_param")
                if channel in ("futures.order_place", "futures.order_batch_place"):
                    # the ack echoes the request first (spec 8.3); `ack` is absent on the result
                    echo = {
                        "req_id": req.req_id,
                        "api_key": "",
                        "timestamp": "",
                        "signature": "",
                        "trace_id": req.trace_id,
                        "text": "",
                        "req_header": {"trace_id": req.trace_id},
                        "req_param": param,
                    }
                    ack = ApiAck(
                        request_id=req.req_id, header=self._header(req, "200"), result=echo
                    )
                    out.ack(ack)
                result = self._call(conn, channel, param, req.now_ms, after)
        except ApiFailure as exc:
            header = self._header(req, exc.status)
            if exc.status == "429":  # the docs' 429 example spells the reset x_gate_ (spec 8.13)
                header = msgspec.structs.replace(
                    header,
                    x_gat_ratelimit_reset_timestamp=None,
                    x_gate_ratelimit_reset_timestamp=header.x_gat_ratelimit_reset_timestamp,
                )
            error = ApiError(
                request_id=req.req_id, header=header, label=exc.label, message=exc.message
            )
            out.final(error)
            return
        header = self._header(req, "200")
        if how is Misbehaviour.UNREADABLE:
            result = "ok" if isinstance(result, dict | list) else {"unexpected": result}
        out.final(ApiResult(request_id=req.req_id, header=header, result=result))
        for push in after:
            push()
        if how is Misbehaviour.DROP_AFTER:
            self._host.drop(conn)
        self._host.wake_clock()  # a new resting order moves the clock's next deadline

    def _header(self, req: _ApiRequest, status: str) -> ApiHeader:
        now_ms = req.now_ms
        conn_id = req.conn.conn_id
        return ApiHeader(
            status=status,
            channel=req.channel,
            response_time=str(now_ms),
            client_id=f"127.0.0.1-0x{conn_id[:10]}",
            conn_id=conn_id,
            conn_trace_id=conn_id * 2,
            trace_id=req.trace_id,
            x_in_time=now_ms * 1000,
            x_out_time=now_ms * 1000 + 87,
            x_gate_ratelimit_requests_remain=req.limits.get("remain"),
            x_gate_ratelimit_limit=req.limits.get("limit"),
            x_gat_ratelimit_reset_timestamp=req.limits.get("reset"),
        )

    def _rate_limit(self, req: _ApiRequest, group: str) -> None:
        """Gate's limit of `group` per whole second of wall time, with Gate's headers."""
        self._arrivals[group].append(self._host.now())
        limit = self.rate_limits[group]
        second = req.now_ms // 1000
        window, count = self._windows.get(group, (second, 0))
        count = count + 1 if window == second else 1
        self._windows[group] = (second, count)
        over = count > limit
        # reset: when the next window opens if over the limit, else the current time (spec 8.3);
        # `remain` is omitted when 0 (spec 8.3)
        req.limits = {"limit": limit, "reset": (second + 1) * 1000 if over else req.now_ms}
        if count < limit:
            req.limits["remain"] = limit - count
        if over:
            self.rate_limited += 1
            raise ApiFailure("429", "TOO_MANY_REQUESTS", "Request Rate limit Exceeded (311)")

    def _check_request(self, req: _ApiRequest, payload: dict[str, Any], raw: str) -> None:
        header = payload.get("req_header")
        if isinstance(header, dict):
            exptime = header.get("x-gate-exptime")
            if isinstance(exptime, str) and exptime.isdigit() and int(exptime) < req.now_ms:
                raise ApiFailure("400", "REQUEST_EXPIRED", "request expired: x-gate-exptime")
        creds = self._host.credentials
        channel = req.channel
        signed = "signature" in payload or channel == "futures.login"
        if creds is None or (req.conn.logged_in and not signed):
            return
        if not signed:
            if self._host.profile.live_error_texts:
                raise ApiFailure("400", "AUTHENTICATION_FAILED", "Not login")  # live, spec 15
            raise ApiFailure("401", "INVALID_KEY", "please login first (futures.login)")
        if payload.get("api_key") != creds.key:
            raise ApiFailure("401", "INVALID_KEY", "Invalid key provided")
        timestamp = payload.get("timestamp")
        if not isinstance(timestamp, str) or not timestamp.isdigit():
            raise ApiFailure("400", "INVALID_PARAM_VALUE", "timestamp must be unix seconds")
        signature = payload.get("signature")
        if channel != "futures.login":
            texts = _req_param_texts(raw, payload)
        elif self._host.profile.login_sign_as_sent:
            # the docs sign "", gate-ws and ccxt send and sign {}, the Go SDK null: verify over
            # the text received, or "" when req_param is absent (spec 15)
            texts = [_exact_req_param(raw) or ""]
        else:
            texts = [""]
        if not any(
            verify_api_sign(channel, text, timestamp, signature=signature, secret=creds.secret)
            for text in texts
        ):
            raise ApiFailure("401", "INVALID_SIGNATURE", "Signature mismatch")
        if abs(int(timestamp) - req.now_ms / 1000) > self._host.max_time_skew:
            raise ApiFailure("400", "REQUEST_EXPIRED", "gap between timestamp and server time")

    def _call(
        self,
        conn: Connection,
        channel: str,
        param: object,
        now_ms: int,
        after: list[Callable[[], None]],
    ) -> object:
        account = self._account
        mode = conn.size_decimal
        match channel:
            case "futures.order_place":
                order = account.place(conn, _param_dict(param), now_ms, after)
                return account.order_json(order, size_decimal=mode)
            case "futures.order_batch_place":
                if not isinstance(param, list) or not param or len(param) > 10:
                    raise ApiFailure("400", "INVALID_PARAM_VALUE", "1 to 10 orders")
                results: list[object] = []
                for item in param:
                    try:
                        order = account.place(conn, _param_dict(item), now_ms, after)
                    except ApiFailure as exc:
                        results.append(
                            {"succeeded": False, "label": exc.label, "message": exc.message}
                        )
                    else:
                        results.append(
                            {"succeeded": True} | account.order_json(order, size_decimal=mode)
                        )
                return results
            case "futures.order_cancel":
                order = account.find(_param_dict(param).get("order_id"), now_ms=now_ms)
                account.cancel(order, now_ms, after)
                return account.order_json(order, size_decimal=mode)
            case "futures.order_cancel_ids":
                if not isinstance(param, list) or len(param) > 20:
                    raise ApiFailure("400", "INVALID_PARAM_VALUE", "at most 20 order ids")
                out: list[object] = []
                for order_id in param:
                    entry: dict[str, object] = {
                        "id": str(order_id),
                        "user_id": int(account.user_id),
                    }
                    try:
                        account.cancel(account.find(order_id, now_ms=now_ms), now_ms, after)
                    except ApiFailure as exc:
                        entry["message"] = exc.label
                    else:
                        entry["succeeded"] = True
                    out.append(entry)
                return out
            case "futures.order_cancel_cp":
                p = _param_dict(param)
                contract = p.get("contract")
                if not isinstance(contract, str) or not account.market_of(conn).has_contract(
                    contract
                ):
                    raise ApiFailure("400", "CONTRACT_NOT_FOUND")
                side = p.get("side")
                cancelled = []
                for order in list(account.orders.values()):
                    if order.status != "open" or order.contract != contract:
                        continue
                    if side in ("bid", "ask") and (order.units > 0) != (side == "bid"):
                        continue
                    account.cancel(order, now_ms, after)
                    cancelled.append(account.order_json(order, size_decimal=mode))
                return cancelled
            case "futures.order_amend":
                p = _param_dict(param)
                order = account.find(p.get("order_id"), now_ms=now_ms)
                return account.order_json(account.amend(order, p, now_ms, after), size_decimal=mode)
            case "futures.order_list":
                p = _param_dict(param)
                status = p.get("status")
                if status not in ("open", "finished"):
                    raise ApiFailure("400", "INVALID_PARAM_VALUE", "status is open or finished")
                contract = p.get("contract")
                found = [
                    o
                    for o in account.orders.values()
                    if o.status == status and (contract in (None, "") or o.contract == contract)
                ]
                limit = p.get("limit", 100)
                limit = limit if isinstance(limit, int) and 0 < limit <= 1000 else 100
                return [account.order_json(o, size_decimal=mode) for o in reversed(found)][:limit]
            case _:  # futures.order_status
                order = account.find(_param_dict(param).get("order_id"), now_ms=now_ms)
                return account.order_json(order, size_decimal=mode)


class _Out:
    """Sends a request's replies, or does not, as its misbehaviour says."""

    __slots__ = ("_conn", "_how", "_replies")

    def __init__(self, conn: Connection, replies: Replies, how: Misbehaviour | None) -> None:
        self._conn, self._replies, self._how = conn, replies, how

    def ack(self, ack: ApiAck) -> None:
        how = self._how
        if how in (Misbehaviour.SILENCE, Misbehaviour.DROP_AFTER):
            return
        if how is Misbehaviour.OTHER_ID:
            ack = msgspec.structs.replace(ack, request_id=_other_id(ack.request_id))
        self._replies.event(self._conn, ack)

    def final(self, reply: ApiResult | ApiError) -> None:
        how = self._how
        if how in (Misbehaviour.SILENCE, Misbehaviour.ACK_ONLY, Misbehaviour.DROP_AFTER):
            return
        if how is Misbehaviour.OTHER_ID:
            reply = msgspec.structs.replace(reply, request_id=_other_id(reply.request_id))
        self._replies.event(self._conn, reply)
        if how is Misbehaviour.TWICE:
            self._replies.event(self._conn, reply)


def _other_id(req_id: str) -> str:
    return f"{req_id}0" if req_id else "other"


def _param_dict(param: object) -> dict[str, Any]:
    if not isinstance(param, dict):
        raise ApiFailure("400", "INVALID_ARGUMENT", "req_param must be an object")
    return param


class _ApiPayloadRaw(msgspec.Struct):
    req_param: msgspec.Raw = msgspec.Raw(b"")


class _ApiFrameRaw(msgspec.Struct):
    payload: _ApiPayloadRaw


def _req_param_texts(raw: str, payload: dict[str, Any]) -> list[str]:
    """The req_param texts a signature may cover: the exact bytes sent first, then the common
    re-serialisations (compact, and Python's default separators as gatews signs)."""
    texts = []
    exact = _exact_req_param(raw)
    if exact:
        texts.append(exact)
    param = payload.get("req_param")
    texts.append(json.dumps(param, separators=(",", ":"), ensure_ascii=False))
    texts.append(json.dumps(param))
    return texts


def _exact_req_param(raw: str) -> str:
    """The req_param text exactly as the client sent it; "" when absent."""
    try:
        exact = msgspec.json.decode(raw, type=_ApiFrameRaw).payload.req_param
    except msgspec.DecodeError:
        return ""
    return bytes(exact).decode() if exact else ""
