"""Gate's REST API v4, pure: where a call goes, what it sends, what an answer means, when to
retry. No I/O, no trio, no clock reads: `_shell/_rest.py` moves the bytes and keeps the time.

Every REST call of the client goes through these rules, so each is written once:

- **Where.** `rest_route(ws_url)` derives the REST host and the market path from the WebSocket
  URL the client uses: live (``api.gateio.ws``), testnet, or a fake exchange (REST on the same
  host and port); perpetual ``/futures/{settle}`` or ``/delivery/{settle}``; the legacy
  ``/v4/ws`` path is BTC-settled (spec 1).
- **What it sends.** `request_headers`: JSON accepted, and ``X-Gate-Size-Decimal: 1`` whenever
  the socket asks for decimal sizes, so a REST book or order carries the same sizes as the
  pushes built on it (without it Gate truncates fractional sizes toward zero, spec 1.1).
  `encode_query` gives the query text that is both sent and signed (`_auth.sign_rest`).
- **What an answer means.** `BodyReader` takes the body as it arrives and stops at a size cap
  (and undoes gzip or deflate within the same cap, so a compressed bomb cannot expand past it);
  `interpret_answer` turns status, headers and body into decoded JSON or one typed error:
  Gate's ``{"label", "message"}`` becomes `RequestRejected` (`RateLimited` for 429,
  `AuthenticationError` for a refused key or signature), a server error or an answer that is
  not Gate's JSON `RestUnavailable`, a 2xx that is not JSON `ProtocolError`.
- **When to retry.** `retry_delay`: only what may succeed later (no answer, a 5xx, a 429), with
  capped exponential backoff, never sooner than Gate's rate-limit reset; a request that may
  have reached the server is retried only if repeating it is harmless (GET).
"""

from __future__ import annotations

import json
import math
import typing
import zlib
from decimal import Decimal
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlencode, urlsplit

import msgspec

from ._backoff import backoff_base
from ._config import LIVE_HOST, LIVE_REST, SIZE_DECIMAL_HEADER, TESTNET_REST, parse_endpoint
from ._errors import (
    AuthenticationError,
    GateTrioError,
    ProtocolError,
    RateLimited,
    RequestRejected,
    ResponseTooLarge,
    RestUnavailable,
    UsageError,
)
from ._json_values import MS_THRESHOLD
from ._ratelimit import MAX_PAUSE
from ._results import rejection

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

API_PREFIX: Final = "/api/v4"
IDEMPOTENT: Final = frozenset({"GET", "HEAD"})

# Labels Gate gives a request it refuses for its credentials (APIv4 docs, "Error label list"),
# whatever the status; a 401 is an authentication failure whatever its label.
AUTH_LABELS: Final = frozenset(
    {
        "INVALID_KEY",
        "INVALID_SIGNATURE",
        "REQUEST_EXPIRED",
        "IP_FORBIDDEN",
        "READ_ONLY",
        "FORBIDDEN",
        "INVALID_CREDENTIALS",
        "AUTHENTICATION_FAILED",
        "MISSING_REQUIRED_HEADER",
    }
)
RATE_LIMIT_LABEL: Final = "TOO_MANY_REQUESTS"
DEFAULT_RATE_LIMIT_PAUSE: Final = 1.0  # a 429 without a reset time
RESET_HEADER: Final = "x-gate-ratelimit-reset-timestamp"
_MESSAGE_CHARS: Final = 300  # of a server's text kept in an error message


# ------------------------------------------------------------------------------------- where


class RestRoute(msgspec.Struct, frozen=True, gc=False):
    """Where a client's REST calls go: `base` (``https://api.gateio.ws/api/v4``), and the
    market's path prefix, ``/futures/usdt`` or ``/delivery/btc``."""

    # a msgspec Struct rather than attrs: its class builds in C (the first use's import)
    base: str
    market: str  # "futures" or "delivery"
    settle: str

    @property
    def prefix(self) -> str:
        """``/futures/usdt``: the market's part of every market path."""
        return f"/{self.market}/{self.settle}"

    def market_path(self, *segments: str) -> str:
        """``/futures/usdt/<segments>``, each segment percent-encoded (a contract name, an
        order id or text may hold any character)."""
        tail = "/".join(quote(segment, safe="") for segment in segments)
        return f"{self.prefix}/{tail}" if tail else self.prefix

    def url(self, path: str) -> str:
        """The full URL of `path` (which starts with "/", below ``/api/v4``)."""
        return self.base + path

    def signed_path(self, path: str) -> str:
        """`path` as Gate's signature covers it: with the ``/api/v4`` prefix."""
        return urlsplit(self.base).path + path


def rest_route(ws_url: str) -> RestRoute:
    """The REST route matching a WebSocket URL.

    Live Gate's socket host serves its REST at ``api.gateio.ws``, any testnet URL the testnet
    REST host, and any other host (a fake exchange, a replay) REST on the same host and port
    (``http`` for ``ws``, ``https`` for ``wss``). The settle currency is the path's last
    segment; ``/delivery/`` anywhere in the path picks delivery; the legacy ``/v4/ws`` is BTC.

    Raises:
        UsageError: `ws_url` is not a ws:// or wss:// URL with a host.
    """
    parts = urlsplit(ws_url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise UsageError(f"not a ws:// or wss:// URL: {ws_url!r}")
    endpoint = parse_endpoint(ws_url)
    settle = endpoint.settle
    market = "delivery" if endpoint.delivery else "futures"
    host = (parts.hostname or "").lower()
    if "testnet" in host:
        base = TESTNET_REST
    elif host == LIVE_HOST:
        base = LIVE_REST
    else:  # host and port only: userinfo never travels into REST URLs or messages
        authority = f"[{host}]" if ":" in host else host
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"bad port in {ws_url!r}") from None
        if port is not None:
            authority = f"{authority}:{port}"
        base = f"{'https' if scheme == 'wss' else 'http'}://{authority}{API_PREFIX}"
    return RestRoute(base=base, market=market, settle=settle)


# ------------------------------------------------------------------------------ what it sends


def request_headers(*, size_decimal: bool, has_body: bool) -> list[tuple[str, str]]:
    """The headers every REST call sends (before signing).

    ``X-Gate-Size-Decimal: 1`` when the socket asks for decimal sizes (`ClientConfig.
    size_decimal`): REST and pushes then carry sizes alike, as strings that may hold a fraction.
    """
    headers = [("Accept", "application/json"), ("Accept-Encoding", "gzip, deflate")]
    if size_decimal:
        headers.append(SIZE_DECIMAL_HEADER)
    if has_body:
        headers.append(("Content-Type", "application/json"))
    return headers


QueryValue: typing.TypeAlias = "str | int | bool | None"


def encode_query(query: Mapping[str, QueryValue] | None) -> str:
    """The query text, sent and signed as is: ``status=open&contract=BTC_USDT`` (keys in the
    caller's order, values percent-encoded, booleans ``true``/``false``, None left out).

    Raises:
        UsageError: a key or value of another type.
    """
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in typing.cast("Mapping[object, object]", query).items():
        if value is None:
            continue
        if not isinstance(key, str):
            raise UsageError(f"query keys must be str, got {key!r}")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | str):
            text = str(value)
        else:
            raise UsageError(f"query value for {key!r} must be str, int or bool, got {value!r}")
        pairs.append((key, text))
    return urlencode(pairs, quote_via=quote)


def encode_body(body: object) -> bytes:
    """A JSON request body, compact (what is sent is what is signed).

    Raises:
        UsageError: `body` is not JSON-serialisable.
    """
    try:
        return json.dumps(body, separators=(",", ":"), default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        raise UsageError(f"REST body is not JSON: {exc}") from None


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # prices and sizes travel as strings (spec 10)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# ------------------------------------------------------------------------- what it gets back


@typing.final
class BodyReader:
    """Collects a body chunk by chunk, never holding more than `limit` bytes of it.

    `encoding` is the answer's Content-Encoding: "" / "identity", "gzip" or "deflate"; the
    decoded body is capped, and decompression itself never produces more than the cap (a
    bomb is refused as it expands, not after).

    Raises (from `feed` and `finish`):
        ResponseTooLarge: more than `limit` bytes (decoded).
        ProtocolError: an encoding it cannot undo, or a corrupt compressed stream.
    """

    __slots__ = ("_decoder", "_parts", "_size", "limit", "raw_bytes")

    def __init__(self, limit: int, encoding: str = "") -> None:
        self.limit = limit
        self.raw_bytes = 0  # as received, before decoding
        self._parts: list[bytes] = []
        self._size = 0
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._decoder = None
        elif encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        else:
            raise ProtocolError(f"REST answer in an encoding not asked for: {encoding!r}")

    def feed(self, chunk: bytes) -> None:
        self.raw_bytes += len(chunk)
        decoder = self._decoder
        if decoder is None:
            self._add(chunk)
            return
        try:
            data = chunk
            while data:
                # never more than one byte past what the cap allows, however dense the input
                out = decoder.decompress(data, self.limit - self._size + 1)
                self._add(out)
                data = decoder.unconsumed_tail
        except zlib.error as exc:
            raise ProtocolError(f"REST answer is not valid compressed data: {exc}") from None

    def finish(self) -> bytes:
        decoder = self._decoder
        if decoder is not None:
            try:
                self._add(decoder.flush())
            except zlib.error as exc:
                raise ProtocolError(f"REST answer is not valid compressed data: {exc}") from None
            if not decoder.eof and self.raw_bytes:
                raise ProtocolError("REST answer's compressed body is cut short")
        return b"".join(self._parts)

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.limit:
            self._parts.clear()
            raise ResponseTooLarge(
                f"REST answer larger than its cap of {self.limit} bytes", limit=self.limit
            )
        if data:
            self._parts.append(data)


def content_length(headers: Mapping[str, str]) -> int | None:
    """The declared body length, or None if absent or not a plain number."""
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() and len(value) < 20 else None


def decode_json_body(body: bytes) -> object:
    """Gate's JSON as `json.loads` gives it (numbers with a fraction as float: in Gate's REST
    those are times; prices, sizes and amounts are strings), with every float finite.

    Raises:
        ProtocolError: not UTF-8, not JSON (NaN, Infinity and 1e999 included), an integer of
            more than 4300 digits, or nested too deep.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("REST answer is not UTF-8", raw=body) from None
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_nan)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ProtocolError(f"REST answer is not JSON: {exc}", raw=text) from None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _no_nan(text: str) -> object:
    raise ValueError(f"{text} is not JSON")


class Answer(msgspec.Struct, frozen=True):
    """One HTTP answer as the shell collected it: status, headers (names lower case), body
    (complete, within its cap, content-encoding undone)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:  # the body's size, not the body
        size = len(self.body)
        return f"Answer(status={self.status!r}, headers={self.headers!r}, body=<{size} bytes>)"


def interpret_answer(call: str, answer: Answer, *, wall_time: float) -> object:
    """The decoded JSON of a successful answer; for anything else, raise its typed error.

    `call` names the request in messages (``GET /api/v4/futures/usdt/contracts``);
    `wall_time` (unix seconds) turns a ``Retry-After`` into a reset time.

    Raises:
        RateLimited: 429, or Gate's ``TOO_MANY_REQUESTS``; `reset_at` as `reset_time` reads
            the headers.
        AuthenticationError: 401, or a label refusing the key, signature or timestamp.
        RequestRejected: any other 4xx with Gate's error body (the subclass its label names:
            `OrderNotFound`, `InvalidArgument`, ...), or a 4xx without one.
        RestUnavailable: a 5xx, 408, a redirect (never followed: a signed request must not
            travel to another host), or an informational status.
        ProtocolError: a 2xx that is not JSON, or whose Content-Type is not JSON.
    """
    status, headers, body = answer.status, answer.headers, answer.body
    if 200 <= status < 300:
        kind = _media_type(headers)
        if kind and kind != "application/json" and not kind.endswith("+json"):
            raise ProtocolError(
                f"{call}: answered {kind}, not JSON", raw=body[: _MESSAGE_CHARS * 4]
            )
        return decode_json_body(body)
    label, message = gate_error(body) if _media_type(headers) != "text/html" else ("", "")
    if not message:
        message = describe_body(headers, body)
    if status == 429 or label == RATE_LIMIT_LABEL:
        raise RateLimited(
            message,
            label=label or RATE_LIMIT_LABEL,
            status=str(status),
            req_id="",
            channel=call,
            reset_at=reset_time(headers, wall_time=wall_time),
        )
    if 300 <= status < 400:
        where = headers.get("location", "")[:_MESSAGE_CHARS]
        raise RestUnavailable(
            f"{call}: HTTP {status} redirect to {where or '?'} (not followed)", status=status
        )
    if status == 401 or label in AUTH_LABELS:
        raise AuthenticationError(message, code=label or str(status), channel=call)
    if 400 <= status < 500 and status != 408 and label:
        # the same typed errors as the trading API's (OrderNotFound, InvalidArgument, ...)
        raise rejection(label, message, status=str(status), req_id="", channel=call)
    if 400 <= status < 500 and status != 408:
        # a 4xx without Gate's body: a proxy or firewall in the way, or no such path
        raise RequestRejected(
            f"HTTP {status}: {message}", label="", status=str(status), req_id="", channel=call
        )
    raise RestUnavailable(f"{call}: HTTP {status}: {message}", status=status)


def gate_error(body: bytes) -> tuple[str, str]:
    """(label, message) of Gate's error body ``{"label": .., "message": ..}`` (``detail`` in
    some answers); ("", "") when the body is not that."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "", ""
    if not isinstance(value, dict):
        return "", ""
    label = value.get("label")
    message = value.get("message") or value.get("detail") or ""
    label = label if isinstance(label, str) else ""
    message = message if isinstance(message, str) else str(message)
    return label[:100], message[:_MESSAGE_CHARS]


def describe_body(headers: Mapping[str, str], body: bytes) -> str:
    """A short, printable account of a body that is not Gate's error JSON (an HTML page from a
    proxy, plain text): its first words, tags dropped."""
    text = body[: _MESSAGE_CHARS * 8].decode("utf-8", "replace")
    if "html" in _media_type(headers) or text.lstrip().startswith("<"):
        pieces = [piece.split(">", 1)[-1] for piece in text.split("<")]
        text = " ".join(" ".join(pieces).split())
        kind = "an HTML page"
    else:
        text = " ".join(text.split())
        kind = "a body"
    if not text:
        return "an empty body"
    printable = "".join(ch if ch.isprintable() else "?" for ch in text[:_MESSAGE_CHARS])
    return f"{kind}: {printable!r}"


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def reset_time(headers: Mapping[str, str], *, wall_time: float) -> float | None:
    """When a rate limit lifts, as unix seconds: Gate's ``X-Gate-RateLimit-Reset-Timestamp``
    (milliseconds on the trading API, seconds in some REST answers: read by magnitude), else
    ``Retry-After`` seconds from `wall_time`; None without either, or if absurd."""
    raw = headers.get(RESET_HEADER, "").strip()
    try:
        value = float(raw) if raw else math.nan
    except ValueError:
        value = math.nan
    if math.isfinite(value) and value > 0:
        return value / 1000 if value >= MS_THRESHOLD else value
    after = headers.get("retry-after", "").strip()
    if after.isdigit() and len(after) < 10:
        return wall_time + int(after)
    return None


# ---------------------------------------------------------------------------------- retrying


def may_retry(error: GateTrioError, *, method: str) -> bool:
    """Whether a failed attempt may be tried again: only a failure that may pass (no answer, a
    server error, the rate limit), and for a request that changes state (POST, PUT, DELETE)
    only if it certainly was not executed: it never left (`RestUnavailable.sent` False) or
    Gate refused it for the rate limit."""
    if isinstance(error, RateLimited):
        return True  # refused before execution
    if not isinstance(error, RestUnavailable):
        return False
    return method.upper() in IDEMPOTENT or not error.sent


def retry_delay(
    error: GateTrioError,
    attempt: int,
    *,
    initial: float,
    maximum: float,
    wall_time: float,
) -> float:
    """Seconds to wait before retry number `attempt` (1-based): capped exponential backoff, and
    never before a rate limit's `reset_at`."""
    delay = backoff_base(attempt, initial=initial, maximum=maximum)
    if isinstance(error, RateLimited) and error.reset_at is not None:
        delay = max(delay, error.reset_at - wall_time)
    return delay


def rate_limit_pause(error: RateLimited, *, wall_time: float) -> float:
    """Seconds every REST call of the client holds back after Gate's 429: until its reset
    (`reset_at`), a second when it named none (Gate's windows are seconds), never more than
    `MAX_PAUSE` (a reset far off is a broken header, not a reason to stop for hours)."""
    if error.reset_at is None:
        return DEFAULT_RATE_LIMIT_PAUSE
    return min(max(error.reset_at - wall_time, 0.0), MAX_PAUSE)


def describe_call(method: str, path: str, query: str) -> str:
    """``GET /api/v4/futures/usdt/orders?status=open``, for messages and events."""
    return f"{method.upper()} {path}" + (f"?{query}" if query else "")


def lower_headers(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; a repeated header keeps its last value."""
    return {name.lower(): value for name, value in headers}
