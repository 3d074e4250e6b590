"""GateProtocol: the state machine; its rules and the handover essay are in `__init__.py`."""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Final, cast

from gatetrio._core._config import check_timeout
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_request
from gatetrio._core._errors import (
    ExchangeError,
    ProtocolError,
    UsageError,
)
from gatetrio._core._events import (
    ApiAck,
    ApiError,
    ApiResult,
    DataEvent,
    ErrorReply,
    Event,
    Pong,
    SubscribeAck,
    SystemNotice,
    UnknownEvent,
    UpgradeRequested,
)
from gatetrio._core._requests import ChannelSpec, Ping

from ._api import ApiCalls
from ._handover import Handover
from ._heartbeat import Heartbeat
from ._outputs import (
    Connected,
    Delivery,
    Malformed,
    Notice,
    Output,
    PongReceived,
    ProtocolStatistics,
    ProtocolViolation,
    SubscriptionFailed,
    SubscriptionReady,
    SubscriptionStatus,
    TimerResult,
    Unknown,
    Unmatched,
    UnsubscribeFailed,
    Upgrade,
)
from ._routing import FRAME_ROUTES, Item, KeyFn, Sink, key_for
from ._silence import SilenceWatch
from ._sub_replies import acked, commit, rejected, subscribe_timeouts
from ._table import (
    LIVE,
    ChannelRoutes,
    Generation,
    Planned,
    Sub,
    Target,
    add_needs,
    build_routes,
    check_spec,
    drop_needs,
    encode_plan,
    find_request,
    following_id,
    groups_of,
    plan_subscribe,
    plan_unsubscribe,
    unready,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from gatetrio._core._config import Credentials

_MALFORMED_REQUEST_CODE: Final = 1
# time_ms stamps a latency sample is taken from: 1 .. 2**53 - 1, anything else is hostile or
# broken (compared, not `in range()`: containment costs ~550 instructions a frame)
_STAMP_END: Final = 2**53


@typing.final
class GateProtocol:
    """Sans-IO state of one logical Gate futures client, across connections.

    Created by the client; one per `open_client`. See the module docstring for its rules.

    Example::

        proto = GateProtocol(ping_interval=10.0, pong_timeout=10.0)
        gen, frames = proto.on_connected(now, wall_time=time.time())  # resubscribe plan
        sub_id, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=time.time())
        for output in proto.receive_text(text, now=now, generation=gen): ...
        deadline = proto.get_timer()
        result = proto.handle_timer(now, wall_time=time.time())  # may raise HeartbeatTimeout
    """

    def __init__(
        self,
        *,
        ping_interval: float,
        pong_timeout: float,
        silence_timeout: float | None = None,
        first_data_timeout: float | None = None,
        subscribe_deadline: float | None = None,
        handover_grace: float = 10.0,
        credentials: Credentials | None = None,
        entropy: Callable[[int], bytes] | None = None,
        order_rate_limit: int = 100,
        cancel_rate_limit: int = 200,
        rate_limit_window: float = 1.05,
    ) -> None:
        for name, value in (
            ("ping_interval", ping_interval),
            ("pong_timeout", pong_timeout),
            ("handover_grace", handover_grace),
            ("silence_timeout (or None)", silence_timeout),
            ("first_data_timeout (or None)", first_data_timeout),
            ("subscribe_deadline (or None)", subscribe_deadline),
        ):
            if value is not None or "None" not in name:
                check_timeout(value, name)
        self._silence = SilenceWatch(silence=silence_timeout, first_data=first_data_timeout)
        self._track_data = self._silence.tracking  # (read on the hot path)
        self._subscribe_deadline = subscribe_deadline
        self._handover_grace = handover_grace
        self._credentials = credentials
        self._heartbeat = Heartbeat(interval=ping_interval, timeout=pong_timeout)
        # trading requests: correlation, deadlines, client order ids, rate limits (_api.py)
        self._api = ApiCalls(
            credentials=credentials,
            entropy=entropy,
            order_rate_limit=order_rate_limit,
            cancel_rate_limit=cancel_rate_limit,
            rate_limit_window=rate_limit_window,
        )

        # subscriptions: registered until unsubscribe, across connections
        self._subs: dict[int, Sub] = {}
        self._next_sub_id = 1
        self._needs: dict[Target, set[int]] = {}  # target -> sub_ids whose spec lists it
        self._routes: dict[str, ChannelRoutes] = {}

        # connections
        self._current: Generation | None = None
        self._handover = Handover(
            self._api, grace=handover_grace, switch_after=subscribe_deadline or handover_grace
        )
        self._retiring = self._handover.retiring  # generation -> retiring connection
        self._next_generation = 1
        self._next_id = 1  # never reset, so ids from an old socket cannot alias new ones
        self._now = 0.0  # the latest `now` seen, for `subscribe` calls without one

        # statistics
        self._frames_received = 0
        self._malformed = 0
        self._unrouted = 0
        self._unmatched = 0
        self._unknown = 0
        self._violations = 0
        self._by_channel: dict[str, int] = {}
        self._pings_sent = 0
        self._pongs = 0
        self._last_rtt: float | None = None
        self._stale = 0
        self._subscribe_timeouts = 0
        self._last_latency_ms: float | None = None
        self._upgrades = 0

    # ---------------------------------------------------------------- connection lifecycle

    @property
    def connected(self) -> bool:
        """True while there is a current connection."""
        return self._current is not None

    @property
    def current_generation(self) -> int | None:
        """The generation of the current connection, or None while there is none."""
        current = self._current
        return None if current is None else current.gen_id

    def is_live(self, generation: int) -> bool:
        """True for the current connection and for those still being handed over."""
        return self._generation(generation) is not None

    def on_connected(self, now: float, *, wall_time: float) -> Connected:
        """A new connection is up: return its generation and the resubscribe plan.

        The plan has one subscribe frame per (subscription payload, targets not yet planned),
        walking live subscriptions in sub_id order: every target some live (not failed)
        subscription needs appears exactly once, with fresh request ids and, for private
        channels, a signature over `wall_time`. It never holds unsubscribes or trading requests.
        The first ping is due at ``now + ping_interval``.

        Called while a connection is current, that one starts retiring (make-before-break;
        see "Handover" in the module docstring).

        Raises:
            UsageError: a bad `wall_time` (nothing changes).
        """
        plan = plan_subscribe((s for s in self._subs.values() if not s.failed), {})
        # (this may raise: nothing is committed yet)
        frames = encode_plan(self._next_id, self._credentials, plan, "subscribe", wall_time)
        self._now = now
        old = self._current
        if old is not None:
            self._handover.retire(old, now)
        new = self._current = Generation(self._next_generation)
        self._next_generation += 1
        self._heartbeat.start(now)
        self._api.connected(new.gen_id, now)
        unready(self._subs.values())
        self._commit(new, plan, "subscribe", now)
        done = self._retiring and not plan  # nothing to resubscribe: older sockets are done
        return Connected(new.gen_id, frames, self._switch_if_resubscribed(now) if done else [])

    def on_disconnected(self, now: float, *, generation: int | None = None) -> list[Output]:
        """Connection `generation` (default: the current one) is gone.

        Returns an `ApiFailed` (`RequestLost`) for each trading request sent on it and still
        unanswered. If it was the current connection, subscriptions stay registered and become
        not ready (`on_connected` re-sends them) and in-flight subscribe replies are forgotten.
        Unknown or already closed generations return [] (idempotent).
        """
        self._now = now
        gen = self._generation(generation)
        if gen is None:
            return []
        if gen is self._current:
            self._current = None
            self._heartbeat.stop()
            unready(self._subs.values())
            reason = "connection lost before the reply"
        else:
            self._handover.drop(gen.gen_id)
            reason = "handed-over connection closed before the reply"
        return self._api.lose(gen.gen_id, reason)

    def _generation(self, generation: int | None) -> Generation | None:
        current = self._current
        if generation is None or (current is not None and current.gen_id == generation):
            return current
        return self._retiring.get(generation)

    # ---------------------------------------------------------------------- subscriptions

    def subscribe(
        self, spec: ChannelSpec[object], *, wall_time: float, now: float | None = None
    ) -> tuple[int, list[str]]:
        """Register `spec`; return its sub_id and the frames to send now (on the current socket).

        While disconnected the frames are [] and the subscription goes out with `on_connected`.
        While connected only targets not already subscribed (or pending) on this connection are
        sent; a subscription whose targets are all live already is ready at once (`is_ready`
        is True on return and no `SubscriptionReady` follows). Its data starts routing
        immediately, before any ack: obu snapshots precede the ack (spec 6.6). Without an ack
        within `subscribe_deadline`, `handle_timer` fails it with `SubscribeTimeout`.

        `now` starts the silence clock and the subscribe deadline; it defaults to the latest
        `now` this object was given. Until the first ack that deadline is the subscription's,
        whatever the connections do ("Deadlines a server cannot restart", `__init__.py`).

        Raises:
            UsageError: a malformed spec, a private spec without credentials, a bad `wall_time`.
        """
        check_spec(spec)
        if spec.private and self._credentials is None:
            raise UsageError(
                f"{spec.channel} is private: create the client with credentials=Credentials(...)"
            )
        now = self._now if now is None else now
        sub = Sub(self._next_sub_id, spec, groups_of(spec))
        limit = self._subscribe_deadline
        sub.ack_by = None if limit is None else now + limit
        frames: list[str] = []
        current = self._current
        if current is not None:
            plan = plan_subscribe((sub,), current.server)
            frames = encode_plan(self._next_id, self._credentials, plan, "subscribe", wall_time)
            self._commit(current, plan, "subscribe", now)
        self._next_sub_id += 1
        self._subs[sub.sub_id] = sub
        add_needs(self._needs, sub)
        if current is not None and all(current.server.get(t) == LIVE for t in sub.targets):
            sub.ready = True
            sub.ack_by = None
            sub.last_data = now
        self._routes = build_routes(self._subs.values())
        return sub.sub_id, frames

    def unsubscribe(self, sub_id: int, *, wall_time: float) -> list[str]:
        """Forget subscription `sub_id`; return unsubscribe frames for targets nobody needs now.

        Only targets whose refcount dropped to 0 and that are subscribed or pending on the
        current connection are sent (private ones signed with event "unsubscribe"). Unknown ids
        return [] (idempotent), as does any call while disconnected.

        Raises:
            UsageError: a bad `wall_time` (the subscription is then left registered).
        """
        sub = self._subs.get(sub_id)
        if sub is None:
            return []
        current = self._current
        server = current.server if current is not None else {}
        plan = plan_unsubscribe(sub, self._needs, server)
        frames = encode_plan(self._next_id, self._credentials, plan, "unsubscribe", wall_time)
        del self._subs[sub_id]
        drop_needs(self._needs, sub)
        if current is not None:
            self._commit(current, plan, "unsubscribe", self._now)
        self._routes = build_routes(self._subs.values())
        return frames

    def is_ready(self, sub_id: int) -> bool:
        """True when every target of `sub_id` is acked on the current connection."""
        sub = self._subs.get(sub_id)
        return sub is not None and sub.ready

    def subscription_status(self, sub_id: int) -> SubscriptionStatus | None:
        """Readiness, silence and latency of `sub_id`, or None for an unknown id."""
        sub = self._subs.get(sub_id)
        if sub is None:
            return None
        return SubscriptionStatus(
            sub.ready, sub.failed, sub.silent, sub.silences, sub.latency_ms, sub.had_data
        )

    def subscriptions(self) -> dict[int, ChannelSpec[object]]:
        """The registered subscriptions (failed ones included until unsubscribed), by sub_id."""
        return {sub_id: sub.spec for sub_id, sub in self._subs.items()}

    def _commit(self, gen: Generation, plan: list[Planned], event: str, now: float) -> None:
        limit = self._subscribe_deadline
        deadline = None if limit is None or event != "subscribe" else now + limit
        subs, needs = self._subs, self._needs
        self._next_id = commit(gen, plan, event, self._next_id, deadline, subs=subs, needs=needs)

    # ---------------------------------------------------------------------------- inbound

    def receive_text(
        self,
        text: str | bytes,
        *,
        now: float,
        generation: int | None = None,
        wall_time: float | None = None,
    ) -> list[Output]:
        """Decode one frame from connection `generation` (default: the current one), update
        state, and report what happened.

        Never raises for any input (Rule 3): undecodable frames become `Malformed`. Data pushes
        become one `Delivery` per item that some subscription wants, including subscriptions
        still waiting for their ack; items nobody wants are counted in `statistics().unrouted`.
        With `wall_time`, a data frame's `time_ms` gives a latency sample. Frames from a
        generation already closed are counted (`stale_frames`) and dropped.
        """
        self._now = now
        self._frames_received += 1
        gen = self._generation(generation)
        if gen is None:
            self._stale += 1
            return []
        try:
            event = decode_message(text)
        except ProtocolError as exc:
            self._malformed += 1
            return [Malformed(exc)]
        try:
            route = FRAME_ROUTES.get(type(event))
            if route is not None:  # the hot path: one dict lookup instead of a long match
                if self._retiring and self._handover.second_copy(text, gen):
                    return []
                channel, key = route
                return self._deliver(cast("DataEvent", event), channel, key, now, wall_time)
            return self._dispatch(event, gen, now, wall_time)
        except Exception as exc:  # noqa: BLE001 - Rule 3: a hostile value is one bad frame
            # The decoder let a value through that broke routing or correlation (a bug to fix
            # in the decoder, but never a reason to end the client).
            self._malformed += 1
            return [Malformed(ProtocolError(f"frame broke the protocol: {exc!r}", raw=text))]

    def receive_pushed(
        self,
        text: str | bytes,
        *,
        now: float,
        generation: int | None = None,
        wall_time: float | None = None,
        sinks: Mapping[int, Sink],
    ) -> list[Output] | bool:
        """`receive_text`, with a one-item data frame's item pushed straight into its sinks.

        The shell's hot path (issue 22): for a data frame carrying one item (a trade, an obu or
        order-book delta, a book ticker) every state change of `receive_text` happens, in the
        same order (counters, latency, silence, de-duplication on handover, generations), and
        then the item goes to `sinks[sub_id].push(item, now)` for each subscription that wants
        it, in sub_id order, without a `Delivery` record, an output list or a dispatch on the
        output's type: the return is True if a push asked the reader to yield, else False.
        A subscription with no sink is skipped, as the shell skips a `Delivery` for a feed it
        no longer has. Every other frame returns `receive_text`'s outputs unchanged, and the
        caller handles them as it would those.
        tests/test_protocol_stateful.py drives this and `receive_text` side by side and holds
        their states, outputs and deliveries equal. A sink's own exception (a FAIL overflow)
        propagates, as it does from the shell's push after `receive_text`.
        """
        self._now = now
        self._frames_received += 1
        gen = self._current  # `_generation`, inlined: this runs once per frame of a flood
        if generation is not None and (gen is None or gen.gen_id != generation):
            gen = self._retiring.get(generation)
        if gen is None:
            self._stale += 1
            return []
        try:
            event = decode_message(text)
        except ProtocolError as exc:
            self._malformed += 1
            return [Malformed(exc)]
        try:
            route = FRAME_ROUTES.get(type(event))
            if route is None:
                return self._dispatch(event, gen, now, wall_time)
            if self._retiring and self._handover.second_copy(text, gen):
                return []
            frame: DataEvent = event  # type: ignore[assignment]  # (no cast(): a call a frame)
            channel, key = route
            result = frame.result
            if type(result) is tuple:
                if len(result) != 1:  # several items (or none): the general path
                    return self._deliver(frame, channel, key, now, wall_time)
                item: Item = result[0]
            else:
                item = result  # type: ignore[assignment]  # a one-item frame's result
            self._by_channel[channel] = self._by_channel.get(channel, 0) + 1
            routes = self._routes.get(channel)
            if routes is None:
                self._unrouted += 1
                return False
            latency: float | None = None
            if wall_time is not None and 0 < frame.time_ms < _STAMP_END:
                latency = self._last_latency_ms = wall_time * 1000 - frame.time_ms
            by_key, wildcard, everyone = routes
            name = key(item)
            subs = everyone if name is None else by_key.get(name, wildcard)
            if not subs:
                self._unrouted += 1
                return False
            track = self._track_data
            for sub in subs:
                if track:
                    sub.last_data = now
                    sub.silent = False
                    sub.had_data = True
                if latency is not None:
                    sub.latency_ms = latency
        except Exception as exc:  # noqa: BLE001 - Rule 3, as in receive_text
            self._malformed += 1
            return [Malformed(ProtocolError(f"frame broke the protocol: {exc!r}", raw=text))]
        crowded = False
        for sub in subs:  # outside the try: a sink's failure is the shell's, as after receive_text
            sink = sinks.get(sub.sub_id)  # none: gone while we read; its Delivery would be too
            if sink is not None and sink.push(item, now):
                crowded = True
        return crowded

    def frame_failed(self, text: str | bytes, error: Exception) -> Malformed:
        """The shell's handling of a frame's outputs raised `error`: count it as malformed here
        (the one count of frames that could not be taken in) and return its report.
        """
        self._malformed += 1
        return Malformed(ProtocolError(f"frame broke the client: {error!r}", raw=text))

    def _deliver(
        self, frame: DataEvent, channel: str, key: KeyFn, now: float, wall_time: float | None
    ) -> list[Output]:
        self._by_channel[channel] = self._by_channel.get(channel, 0) + 1
        result = frame.result
        items = result if isinstance(result, tuple) else (result,)
        routes = self._routes.get(channel)
        if routes is None:
            self._unrouted += len(items)
            return []
        latency: float | None = None
        if wall_time is not None and 0 < frame.time_ms < _STAMP_END:
            latency = self._last_latency_ms = wall_time * 1000 - frame.time_ms
        by_key, wildcard, everyone = routes
        track = self._track_data
        out: list[Output] = []
        for item in items:
            name = key(item)
            subs = everyone if name is None else by_key.get(name, wildcard)
            if not subs:
                self._unrouted += 1
                continue
            for sub in subs:
                out.append(Delivery(sub.sub_id, item, frame))
                if track:
                    sub.last_data = now
                    sub.silent = False
                    sub.had_data = True
                if latency is not None:
                    sub.latency_ms = latency
        return out

    def _dispatch(
        self, event: Event, gen: Generation, now: float, wall_time: float | None
    ) -> list[Output]:
        current = gen is self._current
        match event:
            case SubscribeAck():
                return self._on_ack(event, gen, now)
            case ErrorReply():
                return self._on_error(event, gen)
            case Pong():
                rtt = self._heartbeat.pong(now) if current else None
                if rtt is None:
                    self._unmatched += 1
                    return [Unmatched(event)]
                self._pongs += 1
                self._last_rtt = rtt
                return [PongReceived(rtt)]
            case UpgradeRequested():
                # once per socket: a burst of notices is one request to move (and one log line)
                if not current or gen.upgrade_noted:
                    return []
                gen.upgrade_noted = True
                self._upgrades += 1
                return [Upgrade(event, gen.gen_id)]
            case SystemNotice():
                return [Notice(event)]
            case ApiAck() | ApiResult() | ApiError():
                out = self._api.receive(event, gen.gen_id, now=now, wall_time=wall_time)
                self._unmatched += sum(isinstance(o, Unmatched) for o in out)
                if not current and not isinstance(event, ApiAck):
                    out.extend(self._handover.closable("handed over: every reply arrived"))
                return out
            case UnknownEvent():
                self._unknown += 1
                return [Unknown(event)]
            case _:
                # Only a subclass of a data event gets here (receive_text looks up exact types).
                key = key_for(event)
                if key is None:  # pragma: no cover - every Event is matched above or keyed
                    raise ProtocolError(f"no route for {type(event).__name__}")
                return self._deliver(event, event.channel, key, now, None)

    def _on_ack(self, ack: SubscribeAck, gen: Generation, now: float) -> list[Output]:
        req_id = find_request(gen.requests, ack.id, ack.channel, ack.event, ack.payload)
        if req_id is None:
            self._unmatched += 1
            return [Unmatched(ack)]
        out = acked(gen, req_id, self._subs, self._needs, now)
        if self._retiring and out and isinstance(out[0], SubscriptionReady):
            out.extend(self._switch_if_resubscribed(now))
        return out

    def _on_error(self, reply: ErrorReply, gen: Generation) -> list[Output]:
        req_id = find_request(gen.requests, reply.id, reply.channel, reply.event, reply.payload)
        if req_id is None:
            if not reply.channel and reply.code == _MALFORMED_REQUEST_CODE:
                self._violations += 1
                error = ExchangeError(reply.message, code=reply.code)
                return [ProtocolViolation(error)]
            self._unmatched += 1
            return [Unmatched(reply)]
        out = rejected(reply, gen, req_id, self._subs, self._needs)
        self._failed(out)
        if self._retiring and not (out and isinstance(out[0], UnsubscribeFailed)):
            out.extend(self._switch_if_resubscribed(self._now))
        return out

    def _failed(self, out: list[Output]) -> None:
        if any(isinstance(o, SubscriptionFailed) for o in out):
            self._routes = build_routes(self._subs.values())  # failed ones route nothing

    def _switch_if_resubscribed(self, now: float) -> list[Output]:
        """Retiring sockets whose successor is resubscribed stop delivering data."""
        if any(not s.ready and not s.failed for s in self._subs.values()):
            return []
        return self._handover.switch(now, "handed over: the new connection is resubscribed")

    # ----------------------------------------------------------------------------- timers

    def get_timer(self) -> float | None:
        """The earliest deadline at which `handle_timer` has work, or None if there is none.

        That is the pong deadline while a ping is outstanding, else the next ping; the earliest
        silence deadline of a ready subscription; the earliest subscribe deadline (a first ack's
        runs while disconnected too); and the handover deadlines of retiring connections.
        Deadlines can move earlier after `subscribe`, `receive_text` or `on_connected`, but
        never to before ``now`` of that call.
        """
        deadlines: list[float] = []
        current = self._current
        if current is not None:
            beat = self._heartbeat.deadline()
            if beat is not None:
                deadlines.append(beat)
            deadlines.extend(self._silence.deadlines(self._subs.values()))
            deadlines.extend(r.deadline for r in current.requests.values() if r.deadline)
        deadlines.extend(s.ack_by for s in self._subs.values() if s.ack_by is not None)
        deadlines.extend(self._handover.deadlines())
        deadlines.extend(self._api.deadlines())
        return min(deadlines, default=None)

    def handle_timer(self, now: float, *, wall_time: float) -> TimerResult:
        """Run the deadlines that are due at `now`.

        Sends a futures.ping when one is due (``now >= last ping + ping_interval``) and no pong
        is outstanding; its pong deadline is ``now + pong_timeout``. Reports subscriptions that
        just went silent, subscribe requests past their deadline (their subscriptions fail with
        `SubscribeTimeout`), and handover steps (see the module docstring). Calling it early or
        while disconnected is harmless.

        Raises:
            HeartbeatTimeout: the pong deadline has passed (``now >= deadline``): the shell
                should drop the current connection and reconnect. It keeps raising until
                `on_disconnected`.
            UsageError: a bad `wall_time`.
        """
        self._now = now
        current = self._current
        heartbeat = self._heartbeat
        if current is not None:
            heartbeat.check(now)  # before any state changes: a raise must lose no outputs
        outputs = self._api.expire(now)
        outputs.extend(self._handover.handle_timer(now))
        if current is None:
            outputs.extend(self._subscribe_deadlines(None, now)[1])
            return TimerResult([], outputs)
        frames: list[str] = []
        if heartbeat.ping_due(now):
            frames.append(encode_request(Ping(), wall_time=wall_time, req_id=self._next_id))
            self._next_id = following_id(self._next_id)
            self._pings_sent += 1
            heartbeat.sent_ping(now)
        silent: list[Output] = list(self._silence.check(self._subs.values(), now))
        late, failed = self._subscribe_deadlines(current, now)
        outputs.extend(failed)
        if late and self._retiring:
            outputs.extend(self._switch_if_resubscribed(now))
        return TimerResult(frames, silent + outputs)

    def _subscribe_deadlines(self, gen: Generation | None, now: float) -> tuple[int, list[Output]]:
        limit = self._subscribe_deadline
        if limit is None:
            return 0, []
        late, failed = subscribe_timeouts(gen, now, limit, self._subs, self._needs)
        self._subscribe_timeouts += late
        self._failed(failed)
        return late, failed

    # -------------------------------------------------------------------------- trading API

    @property
    def trading(self) -> ApiCalls:
        """Trading requests' owner (`_api.py`): `send` (current connection), logins, limits."""
        return self._api

    # --------------------------------------------------------------------------- statistics

    def statistics(self) -> ProtocolStatistics:
        """A snapshot of the counters (see `ProtocolStatistics`)."""
        gens = [g for g in (self._current, *self._retiring.values()) if g is not None]
        trading = self._api.statistics()
        return ProtocolStatistics(
            connected=self._current is not None,
            frames_received=self._frames_received,
            malformed=self._malformed,
            unrouted=self._unrouted,
            unmatched_replies=self._unmatched,
            unknown_events=self._unknown,
            protocol_violations=self._violations,
            messages_by_channel=dict(self._by_channel),
            pings_sent=self._pings_sent,
            pongs_received=self._pongs,
            last_rtt=self._last_rtt,
            pending_api_requests=trading.pending,
            api_requests_lost=trading.lost,
            subscriptions=len(self._subs),
            ready_subscriptions=sum(1 for s in self._subs.values() if s.ready),
            generation=self.current_generation,
            live_connections=len(gens),
            duplicates_dropped=self._handover.duplicates,
            replies_on_wrong_socket=trading.replies_on_wrong_socket,
            stale_frames=self._stale,
            subscribe_timeouts=self._subscribe_timeouts,
            last_latency_ms=self._last_latency_ms,
            connects=self._next_generation - 1,
            upgrades=self._upgrades,
            silences=self._silence.silences,
            trading=trading,
        )
