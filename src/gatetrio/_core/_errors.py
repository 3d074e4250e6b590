"""The exception tree. Everything gatetrio raises derives from `GateTrioError`.

    GateTrioError
    ├── UsageError (ValueError)       a bad argument from the caller; the message says what to do
    │   └── UserIdMismatch            Credentials.user_id is another account's; .configured .actual
    ├── ProtocolError                 the server sent something undecodable / out of contract; .raw
    │   ├── BookGap                   U/u sequence gap in a book stream; .contract .expected .got
    │   └── ResponseTooLarge          a REST body went past its size cap (never buffered); .limit
    ├── ExchangeError                 the server replied with an error; .code .message .channel
    │   ├── AuthenticationError       bad key / signature / expired time (login, REST 401)
    │   ├── SubscriptionRejected      a subscribe/unsubscribe failed (e.g. unknown contract)
    │   │   └── UnknownContract       the exchange lists no such contract; .contract
    │   └── RequestRejected           a trading-API or REST request refused; .label .status .req_id
    │       ├── RateLimited           Gate's 429 TOO_MANY_REQUESTS; .reset_at (unix s or None)
    │       ├── OrderNotFound         ORDER_NOT_FOUND: no such order (or no longer open)
    │       ├── InvalidArgument       INVALID_ARGUMENT, INVALID_PARAM_VALUE, CONTRACT_NOT_FOUND, ...
    │       ├── RequestUnauthorized (AuthenticationError)  INVALID_KEY, INVALID_SIGNATURE, ...
    │       └── RequestExpired        REQUEST_EXPIRED: arrived after x-gate-exptime; not executed
    ├── Throttled                     the client's rate limiter held a request back; .retry_after
    ├── RequestInDoubt                no final answer to a trading request: it may or may not have
    │   │                             been carried out; .request .sent .acked .client_order_ids
    │   ├── RequestTimeout (TimeoutError)  no final reply within the request's deadline
    │   ├── RequestLost (ConnectionLost)   the socket closed before the final reply
    │   └── ReplyUnreadable (ProtocolError)  a success reply whose result could not be read
    ├── ConnectionLost                the transport is gone; .reason
    │   ├── HeartbeatTimeout (TimeoutError)  no futures.pong (or a send stuck) past its deadline
    │   ├── FirstConnectTimeout (TimeoutError)  no first connection within first_connect_timeout
    │   ├── ReconnectLimitReached     the configured reconnect attempts are used up
    │   └── RestUnavailable           a REST call got no usable answer; .status .sent
    │       └── RestTimeout (TimeoutError)  ... within its total deadline (a trickled body too)
    ├── SubscribeTimeout (TimeoutError)  no ack within subscribe_deadline; .channel
    ├── SubscriptionOverflow          a FAIL-policy subscription overflowed; .channel .buffer
    ├── AccountUnsynced               a live account's state is not current now; .reason
    └── GateTrioInternalError         a bug in gatetrio; please report it

No module here imports trio: this file is part of the sans-IO core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._request_base import TradingRequest

from ._redact import redact_text

_RAW_REPR_LIMIT: Final = 200


class GateTrioError(Exception):
    """Root of every exception gatetrio raises (except trio.Cancelled and KeyboardInterrupt)."""


class UsageError(GateTrioError, ValueError):
    """A caller passed a bad argument; the message says what to pass instead."""


class ProtocolError(GateTrioError):
    """The server sent a frame that is not valid JSON or breaks the documented contract.

    `raw` holds the offending frame, truncated to a couple of hundred characters, with any
    key or signature it echoes masked.
    """

    def __init__(self, message: str, *, raw: str | bytes | None = None) -> None:
        super().__init__(message)
        if isinstance(raw, bytes):  # decode only what is kept: up to 4 bytes a character
            raw = raw[: 4 * _RAW_REPR_LIMIT].decode("utf-8", "replace")
        # masked before it is cut: a cut must not leave half a secret field unmatched
        self.raw: str | None = None if raw is None else redact_text(raw)[:_RAW_REPR_LIMIT]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.args[0]!r}, raw={self.raw!r})"


class BookGap(ProtocolError):
    """An order-book stream skipped update ids: `expected` was due, `got` arrived.

    `expected` is None when the book has no snapshot yet, so no delta can follow on from it.
    """

    def __init__(self, contract: str, *, expected: int | None, got: int) -> None:
        due = "a snapshot first" if expected is None else f"update id {expected}"
        super().__init__(f"order book gap on {contract}: expected {due}, got {got}")
        self.contract = contract
        self.expected = expected
        self.got = got

    def __repr__(self) -> str:
        return f"BookGap(contract={self.contract!r}, expected={self.expected}, got={self.got})"


class ExchangeError(GateTrioError):
    """The exchange answered a request with an error (`code`, `message`)."""

    def __init__(self, message: str, *, code: int | str, channel: str = "") -> None:
        super().__init__(f"{channel or 'gate'}: error {code}: {message}")
        self.code = code
        self.message = message
        self.channel = channel

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"channel={self.channel!r})"
        )


class AuthenticationError(ExchangeError):
    """The exchange rejected the credentials or signature (code 4, INVALID_KEY, ...)."""


class SubscriptionRejected(ExchangeError):
    """A subscribe or unsubscribe failed; one bad contract fails the whole batch."""


class RequestRejected(ExchangeError):
    """A request was refused, so it was not carried out: a trading-API reply with `errs` or a
    non-2xx status, or a REST answer with Gate's error body (`req_id` is "" there and `channel`
    names the call, e.g. ``GET /api/v4/futures/usdt/orders``).

    `label` is Gate's (e.g. "ORDER_NOT_FOUND"; "" when it sent none), `status` its HTTP-like code
    as sent ("400"), `message` Gate's text without the "label: X, message: " prefix it often
    repeats ("" when it said nothing more). The subclasses name the labels a program acts on;
    any other label is a plain `RequestRejected`.
    """

    def __init__(
        self, message: str, *, label: str, status: str, req_id: str, channel: str = ""
    ) -> None:
        what = label or f"status {status}"
        text = f"{channel or 'request'} rejected: {what}"
        if message and message != label:
            text += f": {message}"
        if label and status:
            text += f" (status {status})"
        GateTrioError.__init__(self, text)
        self.code: int | str = label or status
        self.message = message
        self.channel = channel
        self.label = label
        self.status = status
        self.req_id = req_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(label={self.label!r}, status={self.status!r}, "
            f"message={self.message!r}, channel={self.channel!r}, req_id={self.req_id!r})"
        )


class RateLimited(RequestRejected):
    """Gate refused a request for its rate limit (429 ``TOO_MANY_REQUESTS``), so it was not
    executed. `reset_at` is the unix time (seconds) Gate said its window reopens, or None."""

    def __init__(
        self,
        message: str,
        *,
        label: str,
        status: str,
        req_id: str,
        channel: str = "",
        reset_at: float | None = None,
    ) -> None:
        super().__init__(message, label=label, status=status, req_id=req_id, channel=channel)
        self.reset_at = reset_at


class Throttled(GateTrioError):
    """The client's own rate limiter held a trading request back: nothing was sent.

    Raised at once under `RateLimitPolicy.FAIL` when the request cannot go out now, or under
    `WAIT` when its turn would come after its deadline. `retry_after` is the seconds until it
    could go out. (Gate's own refusal is `RateLimited`.)
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OrderNotFound(RequestRejected):
    """ORDER_NOT_FOUND: no such order, or (cancel, amend) it is no longer open."""


class InvalidArgument(RequestRejected):
    """Gate refused an argument (INVALID_ARGUMENT, INVALID_PARAM_VALUE, CONTRACT_NOT_FOUND, ...)."""


class RequestUnauthorized(RequestRejected, AuthenticationError):
    """Gate refused the credentials for this request (INVALID_KEY, INVALID_SIGNATURE, ...)."""


class RequestExpired(RequestRejected):
    """REQUEST_EXPIRED: Gate received the request after its `x-gate-exptime` deadline (or its
    timestamp was too far from Gate's clock), so it was certainly not carried out."""


class UnknownContract(SubscriptionRejected):
    """The exchange lists no contract of this name on the client's market (a typo, a delisted
    contract, or one of another settle currency)."""

    def __init__(self, contract: str, *, code: int | str, message: str, channel: str = "") -> None:
        super().__init__(message, code=code, channel=channel)
        self.contract = contract


class ResponseTooLarge(ProtocolError):
    """A REST answer was larger than `limit` bytes; reading stopped there (nothing past it is
    kept)."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class ConnectionLost(GateTrioError):
    """The WebSocket connection went away (closed, reset, refused handshake, stalled)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HeartbeatTimeout(ConnectionLost, TimeoutError):
    """No futures.pong arrived before the pong deadline."""


class FirstConnectTimeout(ConnectionLost, TimeoutError):
    """`open_client` could not make its first connection within `first_connect_timeout`.

    `attempts` is how many connects were tried; `__cause__` is the last attempt's failure.
    """

    def __init__(self, reason: str, *, attempts: int) -> None:
        super().__init__(reason)
        self.attempts = attempts


class ReconnectLimitReached(ConnectionLost):
    """The client gave up after the configured number of reconnect attempts."""


class SubscribeTimeout(GateTrioError, TimeoutError):
    """No subscribe ack came within `subscribe_deadline`; nothing stays registered."""

    def __init__(self, channel: str, *, deadline: float) -> None:
        super().__init__(f"{channel}: no subscribe ack within {deadline}s")
        self.channel = channel
        self.deadline = deadline


class SubscriptionOverflow(GateTrioError):
    """A subscription with OverflowPolicy.FAIL received more than its buffer holds."""

    def __init__(self, channel: str, *, buffer: int) -> None:
        super().__init__(f"subscription to {channel} overflowed its buffer of {buffer} events")
        self.channel = channel
        self.buffer = buffer


class RestUnavailable(ConnectionLost):
    """A REST call got no usable answer: the host was unreachable, the connection broke, or it
    answered with a server error (5xx), a redirect, or something other than Gate's JSON.

    `status` is the HTTP status (0 when none came). `sent` is False only when the request
    certainly never reached the server (the connection was never made), so even an order
    placement may be retried.
    """

    def __init__(self, reason: str, *, status: int = 0, sent: bool = True) -> None:
        super().__init__(reason)
        self.status = status
        self.sent = sent


class RestTimeout(RestUnavailable, TimeoutError):
    """A REST call did not complete within its total deadline (connect, send, answer and the
    whole body: a body trickled a byte at a time ends here too)."""


class UserIdMismatch(UsageError):
    """`Credentials.user_id` names another account than the one the API key belongs to (Gate
    said so: the login reply or REST ``/accounts``). `configured` is the credentials' UID,
    `actual` the key's."""

    def __init__(self, *, configured: str, actual: str) -> None:
        super().__init__(
            f"Credentials(user_id={configured!r}) but the API key belongs to Gate user "
            f"{actual!r}: pass user_id={actual!r}, or leave it out and let the client learn it"
        )
        self.configured = configured
        self.actual = actual


class AccountUnsynced(GateTrioError):
    """A live account's state was read while it is not current: pushes may have been missed
    (`reason`: a lost connection, a gap) and no snapshot has corrected it yet. Wait with
    `await account.wait_synced()`, or read `account.view()`, which says how current it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the account is not synced ({reason}); await account.wait_synced(), or read "
            "account.view() for its last known state"
        )
        self.reason = reason


class GateTrioInternalError(GateTrioError):
    """Something happened that gatetrio does not expect: a bug. Please report it."""


class RequestInDoubt(GateTrioError):
    """A trading request got no final answer: Gate may or may not have carried it out.

    Attributes:
        request: the request as sent, with the client order ids gatetrio gave it (`text`,
            `amend_text`); `client_order_ids` lists them.
        req_id, channel: the request's correlation id and Gate channel.
        sent: False when it never left the client (then it was certainly not carried out).
        acked: Gate's ack echo arrived (order placement only): Gate had the request.
        expires_at: unix seconds of the `x-gate-exptime` it carried (None if none): Gate refuses
            it after that, so an answer looked up later is final.

    gatetrio never re-sends it. ``await client.resolve(exc)`` finds out for certain, over the
    socket or (when none is up) over signed REST.
    """

    def __init__(
        self,
        message: str,
        *,
        request: TradingRequest[object],
        req_id: str,
        sent: bool,
        acked: bool,
        client_order_ids: tuple[str, ...] = (),
        expires_at: float | None = None,
    ) -> None:
        super().__init__(message)
        self.request = request
        self.req_id = req_id
        self.channel: str = request.channel
        self.sent = sent
        self.acked = acked
        self.client_order_ids = client_order_ids
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.args[0]!r}, req_id={self.req_id!r}, sent={self.sent}, "
            f"acked={self.acked}, client_order_ids={self.client_order_ids!r})"
        )


class RequestTimeout(RequestInDoubt, TimeoutError):
    """No final reply within the request's deadline (`request_timeout`); `timeout` in seconds.

    The request is forgotten: a reply arriving later is counted and dropped.
    """

    def __init__(
        self,
        message: str,
        *,
        request: TradingRequest[object],
        req_id: str,
        sent: bool,
        acked: bool,
        timeout: float,
        client_order_ids: tuple[str, ...] = (),
        expires_at: float | None = None,
    ) -> None:
        super().__init__(
            message,
            request=request,
            req_id=req_id,
            sent=sent,
            acked=acked,
            client_order_ids=client_order_ids,
            expires_at=expires_at,
        )
        self.timeout = timeout


class RequestLost(RequestInDoubt, ConnectionLost):
    """The socket the request went out on closed before its final reply (`reason` says how)."""


class ReplyUnreadable(RequestInDoubt, ProtocolError):
    """Gate said the request succeeded but its result could not be read (`raw`: the result,
    truncated): it was most likely carried out, but what it did is unknown."""

    def __init__(
        self,
        message: str,
        *,
        request: TradingRequest[object],
        req_id: str,
        acked: bool,
        raw: str,
        client_order_ids: tuple[str, ...] = (),
        expires_at: float | None = None,
    ) -> None:
        super().__init__(
            message,
            request=request,
            req_id=req_id,
            sent=True,
            acked=acked,
            client_order_ids=client_order_ids,
            expires_at=expires_at,
        )
        self.raw: str | None = raw[:_RAW_REPR_LIMIT]
