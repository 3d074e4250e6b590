"""Endpoints and client configuration. Pure: no trio, no clock reads."""

from __future__ import annotations

import enum
import math
import random
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import attrs
import msgspec

from ._errors import UsageError
from ._redact import redacted

Settle = Literal["usdt", "btc", "usd1"]

LIVE_HOST: Final = "fx-ws.gateio.ws"
LIVE_REST: Final = "https://api.gateio.ws/api/v4"
TESTNET_REST: Final = "https://api-testnet.gateapi.io/api/v4"

# spec section 1: perpetual and delivery endpoints, live and testnet.
PERPETUAL_URLS: Final[dict[str, str]] = {
    "usdt": "wss://fx-ws.gateio.ws/v4/ws/usdt",
    "btc": "wss://fx-ws.gateio.ws/v4/ws/btc",
    "usd1": "wss://fx-ws.gateio.ws/v4/ws/usd1",
}
PERPETUAL_TESTNET_URLS: Final[dict[str, str]] = {
    "usdt": "wss://ws-testnet.gate.com/v4/ws/futures/usdt",
    "btc": "wss://fx-ws-testnet.gateio.ws/v4/ws/btc",
}
DELIVERY_URLS: Final[dict[str, str]] = {
    "usdt": "wss://fx-ws.gateio.ws/v4/ws/delivery/usdt",
    "btc": "wss://fx-ws.gateio.ws/v4/ws/delivery/btc",
}
DELIVERY_TESTNET_URLS: Final[dict[str, str]] = {
    "usdt": "wss://fx-ws-testnet.gateio.ws/v4/ws/delivery/usdt",
    "btc": "wss://fx-ws-testnet.gateio.ws/v4/ws/delivery/btc",
}

SIZE_DECIMAL_HEADER: Final = ("X-Gate-Size-Decimal", "1")

DEFAULT_PING_INTERVAL: Final = 10.0
DEFAULT_PONG_TIMEOUT: Final = 10.0
DEFAULT_SILENCE_TIMEOUT: Final = 45.0
DEFAULT_CONNECT_DEADLINE: Final = 15.0
DEFAULT_SUBSCRIBE_DEADLINE: Final = 15.0
DEFAULT_FIRST_CONNECT_TIMEOUT: Final[float | None] = 30.0
DEFAULT_SEND_DEADLINE: Final = 10.0
DEFAULT_MIN_RECONNECT_INTERVAL: Final = 1.0
DEFAULT_HANDOVER_GRACE: Final = 10.0
DEFAULT_FIRST_DATA_TIMEOUT: Final[float | None] = 5.0
CLOSE_GRACE: Final = 2.0
DEFAULT_BUFFER: Final = 256
# REST (`_shell/_rest.py`): the whole call, retries and their waits included, ends by then; a
# body past the cap is refused as it streams (the usdt contract listing is ~1.3 MB live).
DEFAULT_REST_DEADLINE: Final = 15.0
DEFAULT_REST_MAX_BODY: Final = 16 * 1024 * 1024
DEFAULT_REST_RETRIES: Final = 3
REST_RETRY_INITIAL: Final = 0.25
REST_RETRY_MAX: Final = 4.0
DEFAULT_REQUEST_TIMEOUT: Final = 10.0
# Gate's limits per account (spec 9): place + amend, and cancels, per second
ORDER_RATE_LIMIT: Final = 100
CANCEL_RATE_LIMIT: Final = 200
# a little over Gate's second, so jitter between our sends and Gate's arrivals cannot put
# more than the limit into one of Gate's windows (_ratelimit.py)
DEFAULT_RATE_LIMIT_WINDOW: Final = 1.05
DEFAULT_RESOLVE_MARGIN: Final = 1.0


class RateLimitPolicy(enum.Enum):
    """What `Client.request` does when the client's rate limiter holds a request back."""

    WAIT = "wait"
    """Wait for its turn, within the request's deadline (`Throttled` if that comes first)."""
    FAIL = "fail"
    """Raise `Throttled` at once; nothing is sent."""


def endpoint_url(settle: str, *, delivery: bool = False, testnet: bool = False) -> str:
    """Return Gate's WebSocket URL for a settle currency, or raise UsageError naming the choices."""
    table = {
        (False, False): PERPETUAL_URLS,
        (False, True): PERPETUAL_TESTNET_URLS,
        (True, False): DELIVERY_URLS,
        (True, True): DELIVERY_TESTNET_URLS,
    }[(delivery, testnet)]
    try:
        return table[settle]
    except KeyError:
        kind = ("delivery " if delivery else "perpetual ") + ("testnet" if testnet else "live")
        raise UsageError(
            f"settle={settle!r} has no {kind} endpoint; choose one of {sorted(table)} "
            "or pass url=... explicitly"
        ) from None


class Endpoint(msgspec.Struct, frozen=True):
    """The market a socket URL serves: a settle currency, perpetual or delivery, or the legacy
    path (``/v4/ws``, served as BTC settle, spec 1). A msgspec Struct: internal, and its class
    builds in C where attrs compiles generated source (the first use's import)."""

    settle: str
    delivery: bool = False
    legacy: bool = False

    @property
    def key(self) -> str:
        """``usdt``, ``delivery/btc`` or ``legacy``: how the catalogue names endpoints."""
        if self.legacy:
            return "legacy"
        return f"delivery/{self.settle}" if self.delivery else self.settle


def parse_endpoint(url: str) -> Endpoint:
    """The market of a socket URL, from its path alone (any host: live, testnet or a fake):
    the settle currency is the last segment, ``/delivery/`` anywhere makes it delivery, and a
    path ending in ``/ws`` is the legacy endpoint."""
    path = urlsplit(url).path.rstrip("/")
    last = path.rsplit("/", 1)[-1].lower()
    if last in ("ws", ""):
        return Endpoint("btc", legacy=True)
    return Endpoint(last, delivery="/delivery/" in f"{path}/")


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise UsageError(f"{attribute.name} must be > 0 seconds, got {value!r}")


def check_timeout(value: object, what: str) -> float:
    """A finite number of seconds > 0, or UsageError saying what to pass."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not value > 0
    ):
        raise UsageError(f"{what} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def _finite_positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    check_timeout(value, attribute.name)


def _policy(_inst: object, attribute: attrs.Attribute[RateLimitPolicy], value: object) -> None:
    if not isinstance(value, RateLimitPolicy):
        raise UsageError(
            f"{attribute.name} must be RateLimitPolicy.WAIT or RateLimitPolicy.FAIL, got {value!r}"
        )


def _positive_or_none(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not (isinstance(value, int | float) and value > 0):
        raise UsageError(f"{attribute.name} must be None or > 0 seconds, got {value!r}")


def _positive_int(_inst: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{attribute.name} must be a positive int, got {value!r}")


def _count(_inst: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{attribute.name} must be an int >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Credentials:
    """An API key and secret for private channels and the trading API.

    Neither shows in `repr()` (nor in the client's config, logs or recordings).
    """

    key: str = attrs.field(repr=redacted)
    secret: str = attrs.field(repr=redacted)
    user_id: str = ""  # Gate UID, the first payload element of private channels

    def __attrs_post_init__(self) -> None:
        if not self.key or not self.secret:
            raise UsageError("Credentials need a non-empty key and secret")


@attrs.frozen(kw_only=True)
class ClientConfig:
    """How a client connects, watches liveness and recovers.

    Durations are seconds of trio's clock. `max_reconnects=None` retries forever.

    - `first_connect_timeout`: `open_client` raises `FirstConnectTimeout` if no connection is
      up this long after it started (None: keep trying, with backoff, forever).
    - `send_deadline`: a frame that cannot be written this long aborts the socket
      (`HeartbeatTimeout`, then a reconnect): a peer that stops reading cannot wedge the client.
    - `min_reconnect_interval`: no two connection attempts start closer together than this,
      whatever the server does (upgrade notices included).
    - `first_data_timeout`: a subscription to a channel that starts with a snapshot (obu) that
      has had no data this long after its ack is reported silent (`CHANNEL_SILENT`): live Gate
      acks an obu stream of an unknown contract or level and then sends nothing. None: only
      `silence_timeout` applies.
    - `handover_grace`: after an upgrade handover the old socket keeps reading this long at most,
      for replies to trading requests sent on it.
    - `request_timeout`: a trading request that has no final answer this long after
      `Client.request` was called ends in `RequestTimeout` (the call's own `request_timeout=`
      overrides it). Orders carry it to Gate as their `x-gate-exptime`.
    - `rate_limit_policy`, `order_rate_limit`, `cancel_rate_limit`, `rate_limit_window`: the
      client's own limiter keeps place and amend requests under `order_rate_limit` and cancels
      under `cancel_rate_limit` per `rate_limit_window` seconds (Gate: 100 and 200 a second;
      the window is a little longer to absorb network jitter), waiting or failing at once.
    - `resolve_margin`: `Client.resolve` looks an in-doubt order up no sooner than this long
      after Gate would have refused it (its `x-gate-exptime`), so the answer is final.
    - `rest_deadline`: every REST call (order-book snapshots, the contract listing, signed
      account calls) ends within this many seconds, retries included (`RestTimeout`).
    - `rest_max_body`: bytes a REST answer may have; a larger one is refused as it streams
      (`ResponseTooLarge`), never buffered.
    - `rest_retries`: attempts after the first for a REST failure that may pass (no answer, a
      5xx, Gate's rate limit), paced by capped backoff and Gate's rate-limit reset.
    """

    url: str = PERPETUAL_URLS["usdt"]
    size_decimal: bool = True
    ping_interval: float = attrs.field(default=DEFAULT_PING_INTERVAL, validator=_positive)
    pong_timeout: float = attrs.field(default=DEFAULT_PONG_TIMEOUT, validator=_positive)
    silence_timeout: float = attrs.field(default=DEFAULT_SILENCE_TIMEOUT, validator=_positive)
    connect_deadline: float = attrs.field(default=DEFAULT_CONNECT_DEADLINE, validator=_positive)
    subscribe_deadline: float = attrs.field(default=DEFAULT_SUBSCRIBE_DEADLINE, validator=_positive)
    first_connect_timeout: float | None = attrs.field(
        default=DEFAULT_FIRST_CONNECT_TIMEOUT, validator=_positive_or_none
    )
    send_deadline: float = attrs.field(default=DEFAULT_SEND_DEADLINE, validator=_positive)
    min_reconnect_interval: float = attrs.field(
        default=DEFAULT_MIN_RECONNECT_INTERVAL, validator=_positive
    )
    handover_grace: float = attrs.field(default=DEFAULT_HANDOVER_GRACE, validator=_positive)
    first_data_timeout: float | None = attrs.field(
        default=DEFAULT_FIRST_DATA_TIMEOUT, validator=_positive_or_none
    )
    rest_deadline: float = attrs.field(default=DEFAULT_REST_DEADLINE, validator=_positive)
    rest_max_body: int = attrs.field(default=DEFAULT_REST_MAX_BODY, validator=_positive_int)
    rest_retries: int = attrs.field(default=DEFAULT_REST_RETRIES, validator=_count)
    backoff_initial: float = attrs.field(default=0.5, validator=_positive)
    backoff_max: float = attrs.field(default=30.0, validator=_positive)
    backoff_jitter: float = 1.0
    max_reconnects: int | None = None
    request_timeout: float = attrs.field(
        default=DEFAULT_REQUEST_TIMEOUT, validator=_finite_positive
    )
    rate_limit_policy: RateLimitPolicy = attrs.field(
        default=RateLimitPolicy.WAIT, validator=_policy
    )
    order_rate_limit: int = attrs.field(default=ORDER_RATE_LIMIT, validator=_positive_int)
    cancel_rate_limit: int = attrs.field(default=CANCEL_RATE_LIMIT, validator=_positive_int)
    rate_limit_window: float = attrs.field(
        default=DEFAULT_RATE_LIMIT_WINDOW, validator=_finite_positive
    )
    resolve_margin: float = attrs.field(default=DEFAULT_RESOLVE_MARGIN, validator=_finite_positive)
    credentials: Credentials | None = None
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)
