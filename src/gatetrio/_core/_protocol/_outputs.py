"""What `GateProtocol` reports: one record per kind of happening, and its statistics.

The outputs are frozen msgspec Structs, not attrs classes: they are internal (the shell matches
on them and drops them), and msgspec builds a class in C where attrs generates and compiles
Python source for it: about 0.14 M instructions a class against 2.6 M (callgrind), 45 M of the
first use's import (benchmarks/README.md, "Issue 22"). The statistics stay attrs classes: they
are public, and `attrs.fields` lists their counters for the metrics and the client's roll-up.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, TypeAlias

import attrs
import msgspec

from gatetrio._core._events import DataEvent  # noqa: TC001 - Delivery's field types, for msgspec

from ._routing import Item  # noqa: TC001

if TYPE_CHECKING:
    from gatetrio._core._errors import ExchangeError, GateTrioError, ProtocolError
    from gatetrio._core._events import (
        ApiAck,
        ApiError,
        ApiResult,
        ErrorReply,
        Pong,
        SubscribeAck,
        SystemNotice,
        UnknownEvent,
        UpgradeRequested,
    )


@typing.final
class Delivery(msgspec.Struct, frozen=True, gc=False):
    """`item`, from the pushed `frame`, belongs to subscription `sub_id`.

    One per (item, subscription): an item several subscriptions want yields one Delivery each,
    in sub_id order. The hot path's only allocation per delivered item: a msgspec Struct builds
    in about a third of the time of a slotted class (measured: 57 ns vs 138 ns; attrs frozen
    355 ns). gc=False is safe: the fields are immutable records that never point back here.
    """

    sub_id: int
    item: Item
    frame: DataEvent


@typing.final
class Connected(msgspec.Struct, frozen=True):
    """`on_connected`'s answer: the new connection's `generation`, the frames to send on it, and
    what else happened (a handed-over socket with nothing left to wait for: `CloseConnection`).
    """

    generation: int
    frames: list[str]
    outputs: list[Output] = msgspec.field(default_factory=list)


@typing.final
class SubscriptionReady(msgspec.Struct, frozen=True):
    """Every target of subscription `sub_id` is acked on the current connection.

    Emitted again after each reconnect once the resubscribe is acked.
    """

    sub_id: int


@typing.final
class SubscriptionFailed(msgspec.Struct, frozen=True):
    """A subscribe frame subscription `sub_id` was waiting on failed.

    Gate rejected it (`AuthenticationError` for code 4, else `SubscriptionRejected`), or no
    reply came within the subscribe deadline (`SubscribeTimeout`). The subscription stays
    registered but inert (no data, no resubscribe) until the shell calls `unsubscribe(sub_id)`,
    which releases its share of the targets.
    """

    sub_id: int
    error: GateTrioError


@typing.final
class UnsubscribeAcked(msgspec.Struct, frozen=True):
    """Gate confirmed an unsubscribe frame."""

    channel: str
    payload: tuple[str, ...]


@typing.final
class UnsubscribeFailed(msgspec.Struct, frozen=True):
    """Gate rejected an unsubscribe frame; nothing waits on it, so it is only reported."""

    channel: str
    payload: tuple[str, ...]
    error: ExchangeError


@typing.final
class ProtocolViolation(msgspec.Struct, frozen=True):
    """Gate says a request we sent was malformed (code 1, empty channel): a gatetrio bug."""

    error: ExchangeError


@typing.final
class PongReceived(msgspec.Struct, frozen=True):
    """futures.pong for the outstanding ping; `rtt` is seconds since that ping was sent."""

    rtt: float


@typing.final
class Upgrade(msgspec.Struct, frozen=True):
    """Gate will close the current connection for a service upgrade: connect anew (spec 4.4).

    Only reported for the current generation: a notice on a socket already being handed over
    asks for nothing more.
    """

    notice: UpgradeRequested
    generation: int


@typing.final
class Notice(msgspec.Struct, frozen=True):
    """Any other futures.system notice."""

    event: SystemNotice


@typing.final
class ApiAcked(msgspec.Struct, frozen=True):
    """The ack echo of trading request `req_id` (order placement); the result is still to come."""

    req_id: str
    event: ApiAck


@typing.final
class ApiCompleted(msgspec.Struct, frozen=True):
    """Trading request `req_id` succeeded: `result` is its typed result (the request class's
    result type), `event` the reply it was read from."""

    req_id: str
    result: object
    event: ApiResult


@typing.final
class ApiFailed(msgspec.Struct, frozen=True):
    """Trading request `req_id` ended without a result; `error` says how.

    `RequestRejected` (a subclass per label): Gate refused it. `RequestTimeout`: no final reply
    within its deadline. `RequestLost`: its connection closed first, or it was handed over and
    the grace period ended. `ReplyUnreadable`: a success whose result could not be read. The
    last three are `RequestInDoubt`: it is never resent (Rule 4).
    """

    req_id: str
    error: GateTrioError

    # Equal by `req_id` alone: exceptions compare by identity, and two reports of one request's
    # end are the same report (the state-machine test compares the outputs of two protocols).
    def __eq__(self, other: object) -> bool:
        if type(other) is not ApiFailed:
            return NotImplemented
        return self.req_id == other.req_id

    def __hash__(self) -> int:
        return hash(self.req_id)


@typing.final
class RateLimitPaused(msgspec.Struct, frozen=True):
    """Gate said the rate limit of `group` ("orders": place/amend, "cancels") is spent: no
    request of it goes out before `until` (trio's clock), `delay` seconds from now."""

    group: str
    until: float
    delay: float
    channel: str


@typing.final
class CloseConnection(msgspec.Struct, frozen=True):
    """The shell should close connection `generation` now: it has been handed over.

    Its successor is live and resubscribed (or the subscribe deadline passed), and the trading
    requests that went out on it are answered or their grace period ended.
    """

    generation: int
    reason: str


@typing.final
class SubscriptionSilent(msgspec.Struct, frozen=True):
    """Subscription `sub_id` (of `channel`) has had no data for its silence limit.

    Reported once per silence, never torn down: a quiet channel may just be quiet. `reason`
    says which limit passed and, where Gate's behaviour explains it, why (an obu stream Gate
    acked for an unknown contract or level sends nothing at all, spec 15).
    """

    sub_id: int
    channel: str
    reason: str


@typing.final
class Malformed(msgspec.Struct, frozen=True):
    """A frame the protocol could not take in: rejected by `decode_message`, or a hostile
    value that broke handling further in (then `error` says so). Counted, otherwise ignored.
    """

    error: ProtocolError


@typing.final
class Unmatched(msgspec.Struct, frozen=True):
    """A reply that answers no pending request on its socket (an unknown id, a reply on the
    wrong socket, a late reply from a handed-over socket, or a pong with no ping out).
    """

    event: SubscribeAck | ErrorReply | Pong | ApiAck | ApiResult | ApiError


@typing.final
class Unknown(msgspec.Struct, frozen=True):
    """A well-formed frame of a channel gatetrio does not model."""

    event: UnknownEvent


Output: TypeAlias = (
    Delivery
    | SubscriptionReady
    | SubscriptionFailed
    | UnsubscribeAcked
    | UnsubscribeFailed
    | ProtocolViolation
    | PongReceived
    | Upgrade
    | Notice
    | ApiAcked
    | ApiCompleted
    | ApiFailed
    | RateLimitPaused
    | CloseConnection
    | SubscriptionSilent
    | Malformed
    | Unmatched
    | Unknown
)
"""Everything `receive_text`, `handle_timer` and `on_disconnected` report."""


@typing.final
class TimerResult(msgspec.Struct, frozen=True):
    """What `handle_timer` asks for.

    - `frames`: to send now on the current connection (a ping).
    - `outputs`: subscriptions that just went silent (`SubscriptionSilent`: once per silence,
      when one has had no data for its limit since it became ready or last received data, and
      again only after data resumed and stopped again), subscriptions whose subscribe deadline
      passed (`SubscriptionFailed` with `SubscribeTimeout`), trading requests past their
      deadline or lost when a handover's grace ended (`ApiFailed`), and handed-over connections
      to close (`CloseConnection`).
    """

    frames: list[str]
    outputs: list[Output] = msgspec.field(default_factory=list)

    @property
    def silent(self) -> list[int]:
        """The sub_ids that just went silent, in sub_id order."""
        return [o.sub_id for o in self.outputs if isinstance(o, SubscriptionSilent)]


@typing.final
class SubscriptionStatus(msgspec.Struct, frozen=True):
    """The protocol's view of one subscription (`GateProtocol.subscription_status`)."""

    ready: bool
    failed: bool
    silent: bool
    silences: int
    last_latency_ms: float | None
    had_data: bool = False  # any data on the current connection yet


@typing.final
@attrs.frozen
class TradingStatistics:
    """Counters of the trading API since the client was created (`ClientStatistics.trading`)."""

    requests_sent: int = 0
    """Trading requests sent (logins included)."""
    pending: int = 0
    """Sent and not yet answered, timed out or lost."""
    completed: int = 0
    """Answered with a result."""
    rejected: int = 0
    """Answered with Gate's error (`RequestRejected`)."""
    timed_out: int = 0
    """No final reply within the deadline (`RequestTimeout` after sending)."""
    lost: int = 0
    """Their socket closed before the final reply (`RequestLost`)."""
    unreadable: int = 0
    """A success whose result could not be read (`ReplyUnreadable`)."""
    acks: int = 0
    """Ack echoes received for pending requests."""
    duplicate_replies: int = 0
    """Replies (acks included) for a request already answered."""
    late_replies: int = 0
    """Replies for a request that had already timed out or been lost."""
    unmatched_replies: int = 0
    """Replies under an id never sent, or naming another channel than the request's."""
    replies_on_wrong_socket: int = 0
    """Replies on a socket other than the one their request went out on (ignored)."""
    rate_limited: int = 0
    """Gate's 429 TOO_MANY_REQUESTS replies."""
    rate_limit_pauses: int = 0
    """Times sending was paused until Gate's reset time (after a 429, or none remaining)."""
    rate_limit_waits: int = 0
    """Requests that waited for the client's own limiter before going out."""
    rate_limit_refusals: int = 0
    """Requests the client's limiter refused at once (`Throttled`)."""
    not_sent: int = 0
    """Requests that ran out of time before going out (`RequestTimeout` with sent=False)."""
    abandoned: int = 0
    """Order requests whose caller was cancelled after sending them (outcome unknown)."""
    resolutions: int = 0
    """In-doubt requests resolved with `Client.resolve`."""


@typing.final
@attrs.frozen
class ProtocolStatistics:
    """Counters since the protocol object was created (they survive reconnects)."""

    connected: bool
    frames_received: int
    malformed: int  # Malformed outputs: decode rejects, hostile values, `frame_failed` calls
    unrouted: int  # pushed items no subscription wanted (e.g. in flight after unsubscribe)
    unmatched_replies: int
    unknown_events: int
    protocol_violations: int
    messages_by_channel: dict[str, int]  # data frames per channel
    pings_sent: int
    pongs_received: int
    last_rtt: float | None
    pending_api_requests: int
    api_requests_lost: int
    subscriptions: int  # registered, including failed ones not yet unsubscribed
    ready_subscriptions: int
    generation: int | None = None  # of the current connection
    live_connections: int = 0  # the current one plus any still being handed over
    duplicates_dropped: int = 0  # second copies of a frame while two connections overlap
    replies_on_wrong_socket: int = 0  # trading replies on a socket their request did not use
    stale_frames: int = 0  # frames from a connection the protocol already closed
    subscribe_timeouts: int = 0
    last_latency_ms: float | None = None  # wall clock minus the frame's time_ms, latest frame
    connects: int = 0  # connections made (`on_connected` calls), the first included
    upgrades: int = 0  # upgrade notices on the current connection (`Upgrade` outputs)
    silences: int = 0  # `SubscriptionSilent` outputs, all subscriptions together
    trading: TradingStatistics = attrs.field(factory=TradingStatistics)
