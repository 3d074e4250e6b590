"""Trading-API correlation: requests out, replies in, deadlines, rate limits, logins. Pure.

`ApiCalls` is owned by `GateProtocol`, which tells it which connection is current, hands it
every trading reply and asks it for its deadlines; the shell sends through
`GateProtocol.trading.send`. Nothing else touches a pending trading request. Its rules, on top
of the protocol's:

Rule A (one outcome): every request registered here ends in exactly one output, `ApiCompleted`
with the typed result or `ApiFailed` with a typed error: the rejection Gate sent
(`RequestRejected` and its label classes), `ReplyUnreadable` (a success whose result cannot be
read), `RequestTimeout` (its deadline passed; the ack seen or not), or `RequestLost` (its
socket closed). At that moment it is forgotten: nothing stays registered.

Rule B (replies are taken at their word only once): a reply is matched by `request_id` on the
socket its request went out on (Rule 5), and must name the request's channel. A second final
reply, a reply after the deadline, a reply under an id never sent or sent on another socket, an
ack for something already answered: each is counted by what it is and reported `Unmatched`,
never taken for another request's answer.

Rule C (every order can be found again): before a request that changes orders goes out, every
order without a client order id gets one (`ClientIds`), an amend without `amend_text` gets one,
and unless the caller set one, it carries `x-gate-exptime` = send time + what is left of its
deadline, so Gate refuses it if it arrives later. An in-doubt error carries the request as sent
and that expiry: looked up after it, the answer is final (`Client.resolve`).

Rule D (rate limits before Gate's): place and amend, and cancels, each take a slot from their
own `RateLimiter` before going out; a 429 pauses that family until Gate's reset time. The
limiter never delays a reply, only the next send.
"""

from __future__ import annotations

import collections
import math
from typing import TYPE_CHECKING, Final, NamedTuple

import attrs

from gatetrio._core._client_ids import ClientIds
from gatetrio._core._encode import EXPTIME_HEADER, encode_request
from gatetrio._core._errors import (
    ProtocolError,
    ReplyUnreadable,
    RequestLost,
    RequestTimeout,
    Throttled,
    UsageError,
)
from gatetrio._core._events import ApiError, ApiResult
from gatetrio._core._ratelimit import MAX_PAUSE, RateLimiter
from gatetrio._core._requests import Login
from gatetrio._core._results import rejection

from ._outputs import (
    ApiAcked,
    ApiCompleted,
    ApiFailed,
    RateLimitPaused,
    TradingStatistics,
    Unmatched,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from gatetrio._core._config import Credentials
    from gatetrio._core._events import ApiAck
    from gatetrio._core._request_base import RateGroup, TradingRequest

    from ._outputs import Output

RECENT_IDS: Final = 1024  # finished req_ids remembered to tell duplicates and late replies apart
DEFAULT_PAUSE: Final = 1.0  # a 429 without a usable reset time: Gate's window is a second
_RAW_CHARS: Final = 200


@attrs.define(eq=False)
class Call:
    """A trading request on its way: sent on `generation`, due by `deadline` (trio's clock)."""

    req_id: str
    request: TradingRequest[object]
    generation: int
    deadline: float  # math.inf: none
    timeout: float
    expires_at: float | None  # unix seconds of the x-gate-exptime it carries
    acked: bool = False


class SentRequest(NamedTuple):
    """`ApiCalls.send`'s answer: the id, the frame to send, the request as sent (with its
    client order ids) and the expiry it carries (unix seconds, or None)."""

    req_id: str
    frame: str
    request: TradingRequest[object]
    expires_at: float | None


class ApiCalls:
    """The pending trading requests of one client, their deadlines and rate limits."""

    def __init__(
        self,
        *,
        credentials: Credentials | None,
        entropy: Callable[[int], bytes] | None,
        order_rate_limit: int = 100,
        cancel_rate_limit: int = 200,
        rate_limit_window: float = 1.05,
    ) -> None:
        self._credentials = credentials
        self._ids = ClientIds(entropy or _no_entropy)
        self._limiters: dict[RateGroup, RateLimiter] = {
            "orders": RateLimiter(limit=order_rate_limit, window=rate_limit_window),
            "cancels": RateLimiter(limit=cancel_rate_limit, window=rate_limit_window),
        }
        self._calls: dict[str, Call] = {}
        self._by_generation: dict[int, dict[str, Call]] = {}
        self._logged_in: set[int] = set()
        self._current: int | None = None  # the connection new requests go out on
        self._next_id = 1  # never reset: a req_id is never reused by this object
        # req_id -> True if it was answered, False if it timed out or was lost
        self._recent: collections.OrderedDict[str, bool] = collections.OrderedDict()
        self._clock_offset: float | None = None
        self._now = 0.0  # the latest `now` seen
        self._counts: collections.Counter[str] = collections.Counter()

    # ------------------------------------------------------------------------------ sending

    def reserve_slot(
        self, request: TradingRequest[object], now: float, *, deadline: float, wait: bool
    ) -> float:
        """Take a send slot for `request` from its rate limit; return the time to send at.

        Requests outside every limit (logins, lookups) go at `now`. Send at the time returned,
        then `confirm_slot`; hand an unused slot back with `release_slot`.

        Raises:
            Throttled: the slot is later than `now` and `wait` is False, or later than
                `deadline` (nothing is reserved then).
        """
        group = request.rate_group
        if group is None:
            return now
        limiter = self._limiters[group]
        slot = limiter.next_slot(now)
        if slot > now and (not wait or slot > deadline):
            self._counts["rate_limit_refusals"] += 1
            why = " (it would wait past the request's deadline)" if wait else ""
            raise Throttled(
                f"{request.channel}: sending now would exceed {limiter.limit} {group} requests "
                f"per {limiter.window:g}s{why}; retry in {slot - now:.3f}s",
                retry_after=slot - now,
            )
        slot = limiter.reserve(now)
        if slot > now:
            self._counts["rate_limit_waits"] += 1
        return slot

    def confirm_slot(
        self, request: TradingRequest[object], slot: float, now: float, *, deadline: float
    ) -> float | None:
        """At its slot time: None to send now, or a later slot (a 429 paused sending since)."""
        group = request.rate_group
        if group is None:
            return None
        limiter = self._limiters[group]
        if limiter.paused_until() <= now:
            return None
        limiter.release(slot)
        return self.reserve_slot(request, now, deadline=deadline, wait=True)

    def release_slot(self, request: TradingRequest[object], slot: float) -> None:
        """Hand back a slot from `reserve_slot` that will not be used."""
        if request.rate_group is not None:
            self._limiters[request.rate_group].release(slot)

    def connected(self, generation: int, now: float) -> None:
        """Connection `generation` is now the current one: new requests go out there only
        (`GateProtocol.on_connected`; its predecessor keeps its pending requests)."""
        self._current = generation
        self._now = now

    def send(
        self,
        request: TradingRequest[object],
        *,
        wall_time: float,
        now: float | None = None,
        deadline: float | None = None,
        generation: int | None = None,
        req_header: Mapping[str, str] | None = None,
    ) -> SentRequest:
        """Register `request` on the current connection; return what to send (Rule C).

        Replies are matched by `request_id` on that connection only: an `ApiAcked` for the ack
        echo (order placement), then exactly one `ApiCompleted` (the typed result) or
        `ApiFailed` (Gate's rejection; `RequestTimeout` from `expire` once `deadline` passes;
        `RequestLost` from `lose`). The request is never resent; with credentials it is signed.
        `deadline` is on trio's clock (None: none); what is left of it at `now` becomes the
        request's `x-gate-exptime` if it changes orders and the caller set no expiry. `now`
        defaults to the latest `now` this object saw; `generation`, if given, must be the
        current connection (the one the caller is about to send on).

        Raises:
            UsageError: no current connection, `generation` is not it (it is gone or being
                handed over), or what `encode_request` rejects; nothing is registered then.
        """
        current = self._current
        if current is None or generation not in (None, current):
            raise UsageError("trading requests need the current connection: wait until connected")
        generation = current
        now = self._now if now is None else now
        self._now = now
        if deadline is not None and not deadline > now:
            raise UsageError(f"the request's deadline {deadline!r} is not after now ({now!r})")
        timeout = math.inf if deadline is None else deadline - now
        header = dict(req_header) if req_header is not None else {}
        expires_at: float | None = None
        if request.mutates:
            request = request.with_client_ids(lambda: self._ids.next(wall_time=wall_time))
            if EXPTIME_HEADER not in header and math.isfinite(timeout):
                header[EXPTIME_HEADER] = str(int((wall_time + timeout) * 1000))
            text = header.get(EXPTIME_HEADER)
            if text is not None and text.isascii() and text.isdigit():
                expires_at = int(text) / 1000
        req_id = str(self._next_id)
        frame = encode_request(
            request,  # type: ignore[arg-type]  # every TradingRequest subclass is an ApiRequest
            wall_time=wall_time,
            req_id=req_id,
            credentials=self._credentials,
            req_header=header or None,
        )
        self._next_id += 1
        call = Call(
            req_id,
            request,
            generation,
            math.inf if deadline is None else deadline,
            timeout,
            expires_at,
        )
        self._calls[req_id] = call
        self._by_generation.setdefault(generation, {})[req_id] = call
        self._counts["requests_sent"] += 1
        return SentRequest(req_id, frame, request, expires_at)

    def forget(self, req_id: str) -> None:
        """Stop waiting for `req_id` (its waiter was cancelled): a later reply is late. One
        that changes orders and had no outcome yet is counted `abandoned`."""
        call = self._calls.get(req_id)
        if call is not None:
            if call.request.mutates:
                self._counts["abandoned"] += 1
            self._finish(call, answered=False)

    def not_sent(self) -> None:
        """A request ran out of time before it could go out (the shell's `RequestTimeout`)."""
        self._counts["not_sent"] += 1

    def resolved(self) -> None:
        """An in-doubt request was resolved (`Client.resolve`)."""
        self._counts["resolutions"] += 1

    # ------------------------------------------------------------------------------ replies

    def receive(
        self,
        event: ApiAck | ApiResult | ApiError,
        generation: int,
        *,
        now: float,
        wall_time: float | None,
    ) -> list[Output]:
        """A trading reply from connection `generation` (`GateProtocol` hands each over)."""
        if isinstance(event, ApiResult | ApiError):
            return self.on_reply(event, generation, now=now, wall_time=wall_time)
        return self.on_ack(event, generation)

    def on_ack(self, event: ApiAck, generation: int) -> list[Output]:
        call = self._match(event, generation)
        if call is None:
            return [Unmatched(event)]
        if call.acked:
            self._counts["duplicate_replies"] += 1
            return [Unmatched(event)]
        call.acked = True
        self._counts["acks"] += 1
        return [ApiAcked(call.req_id, event)]

    def on_reply(
        self, event: ApiResult | ApiError, generation: int, *, now: float, wall_time: float | None
    ) -> list[Output]:
        """A final reply: the request's one outcome, or Unmatched (Rule B)."""
        self._now = now
        call = self._match(event, generation)
        if call is None:
            return [Unmatched(event)]
        header = event.header
        stamp = header.response_time
        if wall_time is not None and stamp.isascii() and stamp.isdigit() and len(stamp) < 16:
            self._clock_offset = int(stamp) / 1000 - wall_time
        out: list[Output] = []
        outcome = self._outcome(call, event, wall_time, out)
        self._finish(call, answered=True)
        out.insert(0, outcome)
        return out

    def _match(self, event: ApiAck | ApiResult | ApiError, generation: int) -> Call | None:
        req_id = event.request_id
        call = self._calls.get(req_id)
        if call is None:
            answered = self._recent.get(req_id)
            key = {True: "duplicate_replies", False: "late_replies", None: "unmatched_replies"}
            self._counts[key[answered]] += 1
            return None
        if call.generation != generation:
            self._counts["replies_on_wrong_socket"] += 1  # Rule 5
            return None
        channel = event.header.channel
        if channel and channel != call.request.channel:
            self._counts["unmatched_replies"] += 1  # not an answer to this request
            return None
        return call

    def _outcome(
        self,
        call: Call,
        event: ApiResult | ApiError,
        wall_time: float | None,
        out: list[Output],
    ) -> ApiCompleted | ApiFailed:
        header = event.header
        status = header.status
        if not isinstance(event, ApiError) and (status.startswith("2") or not status):
            try:
                result = call.request.read_result(event.result)
            except (ProtocolError, ArithmeticError, ValueError, TypeError) as exc:
                self._counts["unreadable"] += 1
                unreadable = ReplyUnreadable(
                    f"{call.request.channel}: Gate reported success but the result could not "
                    f"be read ({exc}); {_doubt(call)}",
                    request=call.request,
                    req_id=call.req_id,
                    acked=call.acked,
                    raw=repr(event.result)[:_RAW_CHARS],
                    client_order_ids=call.request.client_order_ids(),
                    expires_at=call.expires_at,
                )
                return ApiFailed(call.req_id, unreadable)
            if isinstance(call.request, Login):
                self._logged_in.add(call.generation)
            self._counts["completed"] += 1
            return ApiCompleted(call.req_id, result, event)
        label = event.label if isinstance(event, ApiError) else ""
        message = event.message if isinstance(event, ApiError) else ""
        reset_ms = header.ratelimit_reset_ms
        if label == "TOO_MANY_REQUESTS" or status == "429":
            self._counts["rate_limited"] += 1
            self._pause(call, reset_ms, wall_time, out)
        error = rejection(
            label,
            message,
            status=status,
            req_id=call.req_id,
            channel=call.request.channel,
            reset_at=None if reset_ms is None else reset_ms / 1000,
        )
        self._counts["rejected"] += 1
        return ApiFailed(call.req_id, error)

    def _pause(
        self, call: Call, reset_ms: int | None, wall_time: float | None, out: list[Output]
    ) -> float:
        """Pause the request's rate family until Gate's reset; return the seconds to it."""
        delay = DEFAULT_PAUSE
        if reset_ms is not None and wall_time is not None:
            offset = self._clock_offset or 0.0  # Gate's clock minus ours
            delay = reset_ms / 1000 - offset - wall_time
        delay = min(max(delay, 0.0), MAX_PAUSE)
        group = call.request.rate_group
        until = self._now + delay
        if group is not None and delay > 0 and self._limiters[group].pause_until(until):
            self._counts["rate_limit_pauses"] += 1
            out.append(RateLimitPaused(group, until, delay, call.request.channel))
        return delay

    # ---------------------------------------------------------------------------- endings

    def _finish(self, call: Call, *, answered: bool) -> None:
        del self._calls[call.req_id]
        calls = self._by_generation.get(call.generation)
        if calls is not None:
            calls.pop(call.req_id, None)
            if not calls:
                del self._by_generation[call.generation]
        recent = self._recent
        recent[call.req_id] = answered
        if len(recent) > RECENT_IDS:
            recent.popitem(last=False)

    def expire(self, now: float) -> list[Output]:
        """`RequestTimeout` for every request whose deadline is at or before `now`."""
        self._now = now
        out: list[Output] = []
        for call in [c for c in self._calls.values() if c.deadline <= now]:
            self._finish(call, answered=False)
            self._counts["timed_out"] += 1
            waited = "result" if call.acked else "reply"
            acked = " after Gate's ack" if call.acked else ""
            error = RequestTimeout(
                f"{call.request.channel}: no {waited} within {call.timeout:g}s{acked}; "
                f"{_doubt(call)}",
                request=call.request,
                req_id=call.req_id,
                sent=True,
                acked=call.acked,
                timeout=call.timeout,
                client_order_ids=call.request.client_order_ids(),
                expires_at=call.expires_at,
            )
            out.append(ApiFailed(call.req_id, error))
        return out

    def lose(self, generation: int, reason: str) -> list[Output]:
        """Connection `generation` closed: `RequestLost` for every request still pending on it."""
        self._logged_in.discard(generation)
        if generation == self._current:
            self._current = None
        out: list[Output] = []
        for call in list(self._by_generation.get(generation, {}).values()):
            self._finish(call, answered=False)
            self._counts["lost"] += 1
            error = RequestLost(
                f"{call.request.channel}: {reason}; {_doubt(call)}",
                request=call.request,
                req_id=call.req_id,
                sent=True,
                acked=call.acked,
                client_order_ids=call.request.client_order_ids(),
                expires_at=call.expires_at,
            )
            out.append(ApiFailed(call.req_id, error))
        return out

    # ------------------------------------------------------------------------------ queries

    def owes(self, generation: int) -> bool:
        """True while a request sent on `generation` waits for its reply."""
        return bool(self._by_generation.get(generation))

    def is_pending(self, req_id: str) -> bool:
        return req_id in self._calls

    def is_logged_in(self, generation: int) -> bool:
        return generation in self._logged_in

    def deadlines(self) -> list[float]:
        """The earliest deadline of a pending request ([] if none is pending)."""
        return [min(c.deadline for c in self._calls.values())] if self._calls else []

    @property
    def clock_offset(self) -> float | None:
        """Gate's clock minus ours (seconds), from the latest reply's `response_time`; it
        errs towards Gate's clock being behind (the reply's travel time is not subtracted)."""
        return self._clock_offset

    def statistics(self) -> TradingStatistics:
        return TradingStatistics(pending=len(self._calls), **self._counts)


def _doubt(call: Call) -> str:
    if not call.request.mutates:
        return "it changes nothing; send it again"
    if call.acked:
        return "Gate had it (acked): await client.resolve(exc) finds out whether it executed"
    return "it may or may not have been carried out: await client.resolve(exc) finds out"


def _no_entropy(size: int) -> bytes:
    raise UsageError(
        f"client order ids need random bytes ({size}): create GateProtocol with entropy=os.urandom"
    )
