"""The one REST helper: every REST call of the client, bounded in size and time, one error map.

    RestClient.request(method, path, query=, body=, signed=)
    ├─ headers (`_core/_rest.py`): JSON, X-Gate-Size-Decimal as the socket asks; signed with
    │  the client's credentials (`_core/_auth.py`) when asked
    ├─ one attempt = transport.open(...) → status, headers → body chunks into a capped
    │  `BodyReader` → `interpret_answer`: decoded JSON or a typed error
    ├─ a failure that may pass (no answer, 5xx, 429) is retried, paced by `retry_delay`
    │  (capped backoff, never before Gate's rate-limit reset), never when it could repeat a
    │  state change
    └─ the whole call, waits included, inside one deadline (`ClientConfig.rest_deadline`):
       a body trickled a byte at a time ends as `RestTimeout` like any other

Every failed attempt is counted (`RestStatistics`), logged (WARNING, without headers: they
carry the signature) and reported to the client, which emits a `REST_FAILED` event.

A transport (`RestTransport`) sends one request and streams its answer. The default,
`_http.H11Transport`, is HTTP/1.1 on trio streams and h11 (why not httpx: see there), with
keep-alive for GETs, no redirects (a signed request must not follow one to another host), no
proxies (as for the socket), and TLS from the client's `ssl_context`.
`gatetrio.testing.FakeGateServer.rest_transport` answers in memory.
"""

from __future__ import annotations

import contextlib
import logging
import math
import typing
from typing import TYPE_CHECKING, Final, Protocol, final

import attrs
import msgspec
import trio

from gatetrio._core._auth import sign_rest
from gatetrio._core._config import REST_RETRY_INITIAL, REST_RETRY_MAX
from gatetrio._core._errors import (
    AuthenticationError,
    GateTrioError,
    ProtocolError,
    RateLimited,
    RequestRejected,
    ResponseTooLarge,
    RestTimeout,
    RestUnavailable,
    UsageError,
)
from gatetrio._core._rest import (
    RATE_LIMIT_LABEL,
    Answer,
    BodyReader,
    content_length,
    describe_call,
    encode_body,
    encode_query,
    interpret_answer,
    lower_headers,
    may_retry,
    rate_limit_pause,
    request_headers,
    retry_delay,
)

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncGenerator, Callable, Mapping, Sequence

    from gatetrio._core._config import ClientConfig, Credentials
    from gatetrio._core._rest import QueryValue, RestRoute

log: Final = logging.getLogger("gatetrio.rest")

CLOSE_GRACE: Final = 1.0  # seconds to close an answer or the pool, shielded


class HttpAnswer(Protocol):
    """An answer whose body is still arriving."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...
    def chunks(self) -> AsyncGenerator[bytes, None]:
        """The body as it arrives, still content-encoded (closed early if refused)."""
        ...


class RestTransport(Protocol):
    """Sends one HTTP request and streams its answer (the REST helper's only I/O).

    `open` raises `RestUnavailable` when no answer comes (with `sent=False` only if the
    request certainly never reached the server); anything else it or `chunks` raise is mapped
    to `RestUnavailable` by the helper.
    """

    def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> contextlib.AbstractAsyncContextManager[HttpAnswer]: ...

    async def aclose(self) -> None: ...


@final
@attrs.frozen
class RestStatistics:
    """Counters of a client's REST calls (`ClientStatistics.rest`)."""

    calls: int = 0
    """REST calls made (count), each of one or more attempts."""
    attempts: int = 0
    """HTTP requests sent, retries included (count)."""
    retries: int = 0
    """Attempts made again after a failure that may pass (count)."""
    failed: int = 0
    """Calls that ended in an error, after any retries (count)."""
    unavailable: int = 0
    """Attempts with no usable answer: unreachable, broken, 5xx, redirect (count)."""
    timeouts: int = 0
    """Calls that ran past `ClientConfig.rest_deadline` (count)."""
    too_large: int = 0
    """Answers refused past `ClientConfig.rest_max_body` (count)."""
    malformed: int = 0
    """Answers that were not the JSON asked for (count)."""
    rejected: int = 0
    """Attempts Gate refused with its error label, rate limits and authentication included."""
    rate_limited: int = 0
    """Attempts Gate refused for its rate limit (429) (count)."""
    paused: int = 0
    """Calls held back until Gate's reset after a 429 (count): one refusal pauses every call."""
    bytes_received: int = 0
    """Body bytes received, as sent (before decompression)."""
    last_failure: str = ""
    """What the latest failed attempt said ("" if none)."""


def merge_rest_statistics(stats: Sequence[RestStatistics]) -> RestStatistics:
    """The sum of several clients' REST counters (the latest failure of the last that has one)."""
    fields = [f.name for f in attrs.fields(RestStatistics) if f.name != "last_failure"]
    totals = {name: sum(getattr(s, name) for s in stats) for name in fields}
    last = next((s.last_failure for s in reversed(stats) if s.last_failure), "")
    return RestStatistics(**totals, last_failure=last)


Reporter = typing.Callable[[str, GateTrioError, int], None]
"""`report(call, error, attempt)`: a failed attempt (the client emits `REST_FAILED`)."""


@final
class RestClient:
    """A client's REST session on Gate's REST API v4: its URL rule, headers, signing, size cap,
    total deadline, paced retries and one error map. Created by `open_client`, not
    instantiated directly; closed with the client.

    Paths start with "/" below ``/api/v4``; `route.market_path("orders")` gives the market's
    (``/futures/usdt/orders``). Answers come back as decoded JSON (`json.loads` values, every
    float finite); failures as `RequestRejected` (Gate's label: `RateLimited`,
    `AuthenticationError`...), `RestUnavailable`, `RestTimeout`, `ResponseTooLarge` or
    `ProtocolError`.

    Example::

        orders = await client.rest.get(
            client.rest.route.market_path("orders"), query={"status": "open"}, signed=True
        )
    """

    def __init__(
        self,
        route: RestRoute,
        *,
        transport: RestTransport,
        config: ClientConfig,
        wall_clock: Callable[[], float],
        report: Reporter | None = None,
    ) -> None:
        self.route: Final = route
        self._transport = transport
        self._config = config
        self._credentials: Credentials | None = config.credentials
        self._wall_clock = wall_clock
        self._report = report
        self._stats: dict[str, int] = {
            f.name: 0 for f in attrs.fields(RestStatistics) if f.name != "last_failure"
        }
        self._last_failure = ""
        self._closed = False
        # after Gate's 429, no call goes out before its reset (trio's clock), nor its retries
        self._paused_until = -math.inf
        self._pause_reset: float | None = None  # the reset Gate named (unix seconds)

    def __repr__(self) -> str:
        return f"<RestClient {self.route.base}{self.route.prefix}>"

    @property
    def enabled(self) -> bool:
        """False when REST is off (a custom connector without a `rest_transport`)."""
        return not isinstance(self._transport, NoRestTransport)

    # ------------------------------------------------------------------------- public

    async def get(
        self,
        path: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        signed: bool = False,
        max_body: int | None = None,
        deadline: float | None = None,
        answer_headers: dict[str, str] | None = None,
    ) -> object:
        """`GET path?query`: its decoded JSON. Retried (paced) while it may succeed.
        `answer_headers`: filled with the answer's headers (see `request`)."""
        return await self.request(
            "GET",
            path,
            query=query,
            signed=signed,
            max_body=max_body,
            deadline=deadline,
            answer_headers=answer_headers,
        )

    async def post(
        self,
        path: str,
        *,
        body: object = None,
        query: Mapping[str, QueryValue] | None = None,
        signed: bool = True,
    ) -> object:
        """`POST path` with a JSON `body`: the decoded JSON answer. Retried only when it
        certainly was not executed (the connection was never made, or Gate's rate limit)."""
        return await self.request("POST", path, query=query, body=body, signed=signed)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        body: object = None,
        signed: bool = False,
        max_body: int | None = None,
        retries: int | None = None,
        deadline: float | None = None,
        answer_headers: dict[str, str] | None = None,
    ) -> object:
        """One REST call within `config.rest_deadline`, retries included; see the class.

        Args:
            method: "GET", "POST", "PUT", "DELETE".
            path: below ``/api/v4``, starting with "/".
            query: sent (and signed) in the caller's order.
            body: JSON-serialisable (`Decimal` as strings); None: no body.
            signed: add Gate's APIv4 signature headers (needs credentials).
            max_body: the size cap for this call (default `config.rest_max_body`).
            retries: attempts after the first (default `config.rest_retries`).
            deadline: seconds for the whole call (default `config.rest_deadline`).
            answer_headers: filled with the answer's headers (lower-case names), e.g.
                Gate's ``x-in-time`` (when its gateway took the request, microseconds).
        """
        if self._closed:
            raise UsageError("this client is closed; its REST session with it")
        if isinstance(self._transport, NoRestTransport):
            # off for good: failing at once (counted, reported) beats retrying the same answer
            await trio.lowlevel.checkpoint()
            off = RestUnavailable(self._transport.why, sent=False)
            self._count("calls")
            self._count("failed")
            self._failed(self.route.signed_path(path), off, 1)
            raise off
        method = method.upper()
        if not path.startswith("/"):
            raise UsageError(f"REST path must start with '/', got {path!r}")
        creds = self._credentials
        if signed and creds is None:
            raise UsageError("a signed REST call needs credentials=gatetrio.Credentials(...)")
        config = self._config
        query_text = encode_query(query)
        payload = b"" if body is None else encode_body(body)
        limit = config.rest_max_body if max_body is None else max_body
        extra = config.rest_retries if retries is None else retries
        seconds = config.rest_deadline if deadline is None else deadline
        url = self.route.url(path) + (f"?{query_text}" if query_text else "")
        call = describe_call(method, self.route.signed_path(path), query_text)
        base_headers = request_headers(size_decimal=config.size_decimal, has_body=bool(payload))
        self._count("calls")
        attempt = 0
        last: GateTrioError | None = None
        with trio.move_on_after(seconds) as scope:
            while True:
                attempt += 1
                if not await self._wait_for_reset(call, scope.deadline):
                    last = self._held(call)
                    break
                headers = list(base_headers)
                if signed and creds is not None:
                    stamp = str(int(self._wall_clock()))
                    signature = sign_rest(
                        method,
                        self.route.signed_path(path),
                        query_text,
                        payload,
                        timestamp=stamp,
                        key=creds.key,
                        secret=creds.secret,
                    )
                    headers.extend(signature.items())
                try:
                    spec = _Call(call, method, url, payload, limit)
                    return await self._attempt(spec, headers, answer_headers)
                except GateTrioError as exc:
                    last = exc
                    self._failed(call, exc, attempt)
                    if isinstance(exc, RateLimited):
                        self._pause(exc)
                    if attempt > extra or not may_retry(exc, method=method):
                        break
                    delay = retry_delay(
                        exc,
                        attempt,
                        initial=REST_RETRY_INITIAL,
                        maximum=REST_RETRY_MAX,
                        wall_time=self._wall_clock(),
                    )
                    if trio.current_time() + delay >= scope.deadline:
                        break  # waiting would only end in the deadline: say why now
                    self._count("retries")
                    await trio.sleep(delay)
        self._count("failed")
        if scope.cancelled_caught:
            self._count("timeouts")
            timeout = RestTimeout(
                f"{call}: no complete answer within {seconds:g}s "
                f"(attempt {attempt}" + (f"; before it: {last}" if last is not None else "") + ")",
                sent=True,
            )
            self._failed(call, timeout, attempt, counted=False)
            raise timeout from last
        if last is None:  # pragma: no cover - the loop leaves only after a failure
            raise RestUnavailable(f"{call}: no attempt made")
        raise last

    def statistics(self) -> RestStatistics:
        """A snapshot of the counters; see `RestStatistics`."""
        return RestStatistics(**self._stats, last_failure=self._last_failure)

    async def aclose(self) -> None:
        """Close the transport (idempotent); later calls raise `UsageError`."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        with trio.move_on_after(CLOSE_GRACE, shield=True):
            await self._transport.aclose()

    # ------------------------------------------------------------------------ helpers

    def _pause(self, error: RateLimited) -> None:
        until = trio.current_time() + rate_limit_pause(error, wall_time=self._wall_clock())
        if until > self._paused_until:
            self._paused_until = until
            self._pause_reset = error.reset_at

    async def _wait_for_reset(self, call: str, deadline: float) -> bool:
        """Wait out a 429 pause; False (at once) if it lasts past `deadline`."""
        now = trio.current_time()
        if now >= self._paused_until:
            return True
        if self._paused_until >= deadline:
            return False
        self._count("paused")
        log.debug("REST %s waits %.3fs for Gate's rate-limit reset", call, self._paused_until - now)
        await trio.sleep_until(self._paused_until)
        return True

    def _held(self, call: str) -> RateLimited:
        reset = self._pause_reset
        error = RateLimited(
            f"{call}: not sent: Gate's rate limit holds every REST call until its reset"
            + (f" at {reset:.3f}" if reset is not None else "")
            + ", after this call's deadline",
            label=RATE_LIMIT_LABEL,
            status="429",
            req_id="",
            reset_at=reset,
        )
        self._count("paused")
        self._failed(call, error, 0, counted=False)
        return error

    async def _attempt(
        self, spec: _Call, headers: list[tuple[str, str]], keep: dict[str, str] | None
    ) -> object:
        self._count("attempts")
        call = spec.call
        try:
            async with self._transport.open(spec.method, spec.url, headers, spec.payload) as answer:
                answer_headers = lower_headers(answer.headers)
                status = answer.status
                reader = _reader(call, answer_headers, spec.limit)
                async with contextlib.aclosing(answer.chunks()) as chunks:
                    async for chunk in chunks:
                        self._stats["bytes_received"] += len(chunk)
                        reader.feed(chunk)
                body = reader.finish()
        except GateTrioError:
            raise
        except Exception as exc:
            raise RestUnavailable(f"{call}: {type(exc).__name__}: {exc}") from exc
        if keep is not None:
            keep.clear()
            keep.update(answer_headers)
        return interpret_answer(
            call, Answer(status, answer_headers, body), wall_time=self._wall_clock()
        )

    def _count(self, name: str) -> None:
        self._stats[name] += 1

    def _failed(
        self, call: str, error: GateTrioError, attempt: int, *, counted: bool = True
    ) -> None:
        if counted:
            kind = _kind(error)
            if kind:
                self._count(kind)
            if isinstance(error, RateLimited):
                self._count("rejected")
        self._last_failure = str(error)
        log.warning("REST %s failed (attempt %d): %s", call, attempt, error)
        if self._report is not None:
            self._report(call, error, attempt)


class _Call(msgspec.Struct, frozen=True, gc=False):  # msgspec: a class built in C (import time)
    call: str  # for messages: "GET /api/v4/futures/usdt/orders?status=open"
    method: str
    url: str
    payload: bytes
    limit: int


def _reader(call: str, headers: Mapping[str, str], limit: int) -> BodyReader:
    """A capped reader for an answer; one that declares a length past the cap is refused
    before a byte of it is read."""
    declared = content_length(headers)
    if declared is not None and declared > limit and "content-encoding" not in headers:
        raise ResponseTooLarge(
            f"{call}: the answer declares {declared} bytes, over the cap of {limit}", limit=limit
        )
    return BodyReader(limit, headers.get("content-encoding", ""))


def _kind(error: GateTrioError) -> str:
    """The `RestStatistics` counter of a failed attempt."""
    match error:
        case ResponseTooLarge():
            return "too_large"
        case RateLimited():
            return "rate_limited"
        case RequestRejected() | AuthenticationError():
            return "rejected"
        case RestUnavailable():
            return "unavailable"
        case ProtocolError():
            return "malformed"
    return ""


# ----------------------------------------------------------------------- the transports


@final
class NoRestTransport:
    """REST turned off: every call fails at once with `RestUnavailable` (never sent).

    The client uses it when given its own `connector` and no `rest_transport`: a socket
    to a fake or a proxy says nothing about where REST should go, and guessing could reach the
    live exchange from a test.
    """

    def __init__(self, why: str) -> None:
        self.why = why

    def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> contextlib.AbstractAsyncContextManager[HttpAnswer]:
        del method, url, headers, body
        return _Refused(self.why)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


@final
class _Refused(contextlib.AbstractAsyncContextManager[HttpAnswer]):
    def __init__(self, why: str) -> None:
        self.why = why

    async def __aenter__(self) -> HttpAnswer:
        await trio.lowlevel.checkpoint()
        raise RestUnavailable(self.why, sent=False)

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def default_transport(*, ssl_context: ssl.SSLContext | None = None) -> RestTransport:
    """The transport `open_client` uses unless given one: HTTP/1.1 on h11 (`_http.py`)."""
    from ._http import H11Transport  # noqa: PLC0415 - loaded with the first client

    return H11Transport(ssl_context=ssl_context)
