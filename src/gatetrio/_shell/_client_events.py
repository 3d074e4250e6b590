"""What a client reports about itself: `ClientEvent`s and `ClientStatistics` (public records)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, final

import attrs

from gatetrio._core._protocol import TradingStatistics

from ._rest import RestStatistics

if TYPE_CHECKING:
    from collections.abc import Mapping


class ClientEventKind(enum.Enum):
    """What happened to the client; see `Client.events()`."""

    CONNECTING = "connecting"
    """A connection attempt starts; `attempt` counts attempts since the last success, `url`
    is where it goes."""
    CONNECTED = "connected"
    """A connection is up (handshake done); `url` is the endpoint really dialed."""
    DISCONNECTED = "disconnected"
    """A connection was lost; `reason` says why (close code, timeout, error). The client
    reconnects by itself, paced by its backoff."""
    RESUBSCRIBED = "resubscribed"
    """After a reconnect, every open subscription was sent again (private ones re-signed);
    `reason` counts them."""
    UPGRADE = "upgrade"
    """Gate announced a server upgrade: the client connects anew before it lets go of the old
    socket (make-before-break)."""
    HANDED_OVER = "handed_over"
    """The new connection took over from the old one after an upgrade; the old one stays open
    only for replies to trading requests sent on it."""
    MALFORMED_FRAME = "malformed_frame"
    """A frame could not be decoded: counted in `ClientStatistics.malformed_frames` and
    skipped, never fatal; `reason` quotes it (truncated, secrets masked)."""
    CHANNEL_SILENT = "channel_silent"
    """A subscription had no data for longer than its watchdog allows
    (`ClientConfig.silence_timeout`, `first_data_timeout`); `channel` names it."""
    SUBSCRIPTION_FAILED = "subscription_failed"
    """A subscription (or a resubscription after a reconnect) was refused by the exchange;
    `reason` has Gate's code and message."""
    BOOK_RESYNC = "book_resync"
    """A live order book saw a gap and is rebuilding that contract's book from a fresh
    snapshot; `channel` names the contract."""
    NOTICE = "notice"
    """A system notice from Gate, passed on as `reason`."""
    REQUEST_TIMEOUT = "request_timeout"
    """A trading request had no final answer within its deadline (`RequestTimeout`)."""
    REQUEST_LOST = "request_lost"
    """A trading request's socket closed before its final answer (`RequestLost`)."""
    REQUEST_UNREADABLE = "request_unreadable"
    """Gate reported success for a trading request but its result was unreadable."""
    RATE_LIMITED = "rate_limited"
    """Gate answered 429: requests of that kind are held back until its reset time."""
    REQUEST_RESOLVED = "request_resolved"
    """`Client.resolve` found out what an in-doubt request did (`reason`: executed or not)."""
    REST_FAILED = "rest_failed"
    """A REST attempt failed (`channel`: the call, `attempt`: its number; retried if it may
    pass). Counted in `ClientStatistics.rest`."""


@final
@attrs.frozen
class ClientEvent:
    """A connection-state change or a notable incident, stamped with trio's clock (`at`).

    `reason` is human text; `channel` names the channel or contract concerned; `attempt` counts
    connection attempts since the last success (CONNECTING, DISCONNECTED); `url` is the
    endpoint concerned (CONNECTING, CONNECTED, DISCONNECTED).
    """

    kind: ClientEventKind
    at: float
    reason: str = ""
    channel: str = ""
    attempt: int = 0
    url: str = ""


@final
@attrs.frozen
class ClientStatistics:
    """A snapshot of the client's counters, as returned by `Client.statistics()`.

    Times are seconds (`last_pong_rtt`) or milliseconds (`last_latency_ms`, local wall clock
    minus the exchange's `time_ms` of the latest data frame). `url` is the endpoint of the
    current connection (the one the connector really dialed), else the configured one.
    """

    connected: bool
    """A connection is up now."""
    url: str
    """The current connection's endpoint (the one really dialed), else the configured URL."""
    connects: int
    """Connections made, the first included (count)."""
    reconnects: int
    """Connections made after the first, for any reason (count)."""
    upgrades: int
    """Upgrade notices from Gate, each answered by a make-before-break handover."""
    messages_received: int
    """Frames received, of every kind (count)."""
    messages_by_channel: Mapping[str, int]
    """Data frames received per channel name, e.g. ``{"futures.trades": 812}``."""
    malformed_frames: int
    """Frames that could not be decoded: counted and reported, never fatal."""
    unrouted_items: int
    """Data items no open subscription wanted (e.g. after an unsubscribe)."""
    messages_dropped: int
    """Items dropped by the overflow policies of all subscriptions, closed ones included."""
    peak_buffer_used: int
    """The most items any one subscription buffer held at once."""
    open_subscriptions: int
    """Subscriptions open now (count)."""
    last_pong_rtt: float | None
    """Seconds from the latest futures.ping to its pong; None before the first."""
    last_latency_ms: float | None
    """Milliseconds: local wall clock minus the exchange's `time_ms` of the latest data
    frame (negative if the exchange's clock runs ahead); None before the first."""
    silences: int
    """Times a subscription went without data for `silence_timeout` and was resubscribed."""
    connect_failures: int = 0
    """Connection attempts that failed (count)."""
    duplicates_dropped: int = 0
    """Items seen twice while two connections overlapped in a handover, dropped once."""
    replies_on_wrong_socket: int = 0
    """Trading-API replies that came on a socket other than the request's (ignored)."""
    subscribe_timeouts: int = 0
    """Subscribe requests not acknowledged within `subscribe_deadline`."""
    api_requests_lost: int = 0
    """Trading-API requests whose socket closed before the reply: the outcome is unknown."""
    unmatched_replies: int = 0
    """Replies that answer no request of ours on their socket (ignored): acks, errors and
    trading replies for things never asked or already answered, pongs with no ping out."""
    unknown_events: int = 0
    """Well-formed frames of channels gatetrio does not model (ignored)."""
    trading: TradingStatistics = attrs.field(factory=TradingStatistics)
    """The trading API's counters: requests, outcomes, replies, rate limits."""
    rest: RestStatistics = attrs.field(factory=RestStatistics)
    """The client's REST calls: attempts, retries, failures by kind (`RestStatistics`)."""
