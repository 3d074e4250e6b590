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
    │       └── RateLimited           Gate's 429 TOO_MANY_REQUESTS; .reset_at (unix s or None)
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

from typing import Final

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
    """A request was refused: a trading-API reply with `errs` (label + message) or a non-200
    status, or a REST answer with Gate's error body (`req_id` is "" and `channel` names the
    call, e.g. ``GET /api/v4/futures/usdt/orders``)."""

    def __init__(
        self, message: str, *, label: str, status: str, req_id: str, channel: str = ""
    ) -> None:
        super().__init__(message, code=label or status, channel=channel)
        self.label = label
        self.status = status
        self.req_id = req_id


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
