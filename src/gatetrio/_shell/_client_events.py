"""What a client reports about itself: `ClientEvent`s and `ClientStatistics` (public records).

Every counter `ClientStatistics` shows has one home, the object that counts it: the protocol
(frames, malformed frames, connects, upgrades, silences, ...), the reconnect pacer (failed
attempts, reconnects), the feeds (drops, peaks, open subscriptions) and the connections (the
URL). `assemble_statistics` builds the record from their statistics by field name, and
`merge_statistics` sums several (a pool's shards) by the rules in `MERGE`. A new counter is
one field here, named as its home names it (or renamed once in `RENAMED`).
"""

from __future__ import annotations

import enum
import typing
from typing import TYPE_CHECKING, Final, final

import attrs

from gatetrio._core._protocol import TradingStatistics

from ._rest import RestStatistics, merge_rest_statistics

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from attrs import AttrsInstance


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
    ACCOUNT_RESYNC = "account_resync"
    """A live account may have missed pushes (`reason`: a lost connection, an update-id gap,
    dropped pushes) and is unsynced until its next REST snapshot loads."""
    ACCOUNT_CORRECTION = "account_correction"
    """A live account's REST snapshot differed from what the pushes had said and corrected
    it; `reason` says what (an order, a position, the balance, a trade no push brought), and
    `channel` names the contract where there is one."""
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
    upgrades_paced: int = 0
    """Upgrade notices on a connection younger than ``ping_interval + pong_timeout``, answered
    after a backoff delay rather than at once, so that a server asking to move on every new
    connection gets no storm of them (the current connection serves meanwhile)."""
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


STATISTICS_FIELDS: Final = tuple(f.name for f in attrs.fields(ClientStatistics))
# Counters whose home names them otherwise: the protocol's name -> the public one.
RENAMED: Final = {
    "frames_received": "messages_received",
    "malformed": "malformed_frames",
    "unrouted": "unrouted_items",
    "last_rtt": "last_pong_rtt",
}


def assemble_statistics(*parts: AttrsInstance, **whole: object) -> ClientStatistics:
    """`ClientStatistics` from the statistics of the objects that count (see the docstring);
    `whole`: fields that are a home's statistics record as a whole (`rest`)."""
    values: dict[str, object] = dict(whole)
    for part in parts:
        for name, value in attrs.asdict(part, recurse=False).items():
            values[RENAMED.get(name, name)] = value
    return ClientStatistics(**{name: values[name] for name in STATISTICS_FIELDS})  # type: ignore[arg-type]


def _known_max(values: Sequence[object]) -> object:
    return max(typing.cast("list[float]", [v for v in values if v is not None]), default=None)


def _peak(values: Sequence[object]) -> object:
    return max(typing.cast("list[int]", values), default=0)


def _sum_maps(values: Sequence[object]) -> object:
    total: dict[str, int] = {}
    for counts in typing.cast("list[Mapping[str, int]]", values):
        for key, n in counts.items():
            total[key] = total.get(key, 0) + n
    return total


def _merge_rest(values: Sequence[object]) -> object:
    return merge_rest_statistics(typing.cast("list[RestStatistics]", values))


def _merge_trading(values: Sequence[object]) -> object:
    records = typing.cast("list[TradingStatistics]", values)
    return TradingStatistics(
        **{
            field.name: sum(getattr(record, field.name) for record in records)
            for field in attrs.fields(TradingStatistics)
        }
    )


def _all(values: Sequence[object]) -> object:
    return bool(values) and all(values)


def _first(values: Sequence[object]) -> object:
    return values[0] if values else ""


# How several clients' statistics merge into one, where it is not a sum.
MERGE: Final[Mapping[str, Callable[[Sequence[object]], object]]] = {
    "connected": _all,
    "url": _first,
    "messages_by_channel": _sum_maps,
    "peak_buffer_used": _peak,
    "last_pong_rtt": _known_max,
    "last_latency_ms": _known_max,
    "rest": _merge_rest,
    "trading": _merge_trading,
}


def merge_statistics(stats: Sequence[ClientStatistics]) -> ClientStatistics:
    """One `ClientStatistics` for several clients: counters summed, the rest by `MERGE`."""
    merged: dict[str, object] = {}
    for name in STATISTICS_FIELDS:
        values = [getattr(s, name) for s in stats]
        rule = MERGE.get(name)
        merged[name] = sum(typing.cast("list[int]", values)) if rule is None else rule(values)
    return ClientStatistics(**merged)  # type: ignore[arg-type]
