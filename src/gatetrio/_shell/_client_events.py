"""What a client reports about itself: `ClientEvent`s and `ClientStatistics` (public records)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, final

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping


class ClientEventKind(enum.Enum):
    """What happened to the client; see `Client.events()`."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RESUBSCRIBED = "resubscribed"
    UPGRADE = "upgrade"
    HANDED_OVER = "handed_over"
    MALFORMED_FRAME = "malformed_frame"
    CHANNEL_SILENT = "channel_silent"
    SUBSCRIPTION_FAILED = "subscription_failed"
    BOOK_RESYNC = "book_resync"
    NOTICE = "notice"


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
    url: str
    connects: int
    reconnects: int
    upgrades: int
    messages_received: int
    messages_by_channel: Mapping[str, int]
    malformed_frames: int
    unrouted_items: int
    messages_dropped: int
    peak_buffer_used: int
    open_subscriptions: int
    last_pong_rtt: float | None
    last_latency_ms: float | None
    silences: int
    connect_failures: int = 0
    duplicates_dropped: int = 0
    replies_on_wrong_socket: int = 0
    subscribe_timeouts: int = 0
    api_requests_lost: int = 0
