"""GateProtocol against an independent model, driven by hypothesis' RuleBasedStateMachine.

The model never looks inside the protocol. It watches the frames the protocol sends and the
replies the fake server gives, and keeps a *wire log*: for every target (a batched payload element
or a positional payload), the last subscribe/unsubscribe frame that covered it on the current
connection and whether that frame was answered. From that log alone:

- a target is *live* when its last frame is an acked subscribe, *pending* when it is an
  unanswered subscribe;
- a subscription is ready iff connected, not failed, and all its targets are live;
- no subscribe frame may cover a live or pending target (refcounting: no duplicates);
- while connected, every target of every non-failed subscription is live or pending (nothing is
  forgotten), and every live or pending target is needed by some registered subscription
  (nothing leaks).

"Exactly" for the resubscribe plan after `on_connected`: every target that some non-failed
registered subscription needs appears in exactly one plan frame, exactly once; no plan frame
covers a target that no such subscription needs; every plan frame is a subscribe (no
unsubscribes) and none is a trading-API request.

Connection generations (make-before-break after an upgrade notice): `upgrade` connects a new
socket while the current one is up; the old one retires. The model keeps, per retiring socket,
when it retired, when it switched (its successor resubscribed, or the handover deadline passed)
and the trading requests sent on it. From that alone: data from a retiring socket is delivered
once across both sockets until it switches, and never after; a trading reply counts only on its
own socket; a switched socket with nothing owed is closed (`CloseConnection`) exactly once, and
one still owed replies is closed when its grace ends, its requests lost (`RequestLost`). Every
trading request is resolved exactly once: completed, timed out at its deadline (if it has one),
or lost with its socket.

The shell's hot path, `receive_pushed` (one-item data frames pushed straight into the feeds),
is proved equal to `receive_text` here: `Twin` runs every call on pairs of protocols, one fed
by `receive_text` (as the model sees) and one by `receive_pushed` into recording sinks, and
after every call holds each pair's answers, deliveries (the pushes against the `Delivery`
outputs the shell would push, in order, skipping subscriptions without a sink), the crowding
signal, `statistics()` and every subscription's status equal. The second pair tracks silence
and latency (silence and first-data deadlines, `wall_time` on every frame), which the model
leaves out.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from gatetrio import channels
from gatetrio._core._errors import (
    AuthenticationError,
    HeartbeatTimeout,
    RequestLost,
    RequestTimeout,
    SubscriptionRejected,
)
from gatetrio._core._protocol import (
    ApiCompleted,
    ApiFailed,
    CloseConnection,
    Delivery,
    GateProtocol,
    PongReceived,
    SubscriptionFailed,
    SubscriptionReady,
    Unmatched,
    UnsubscribeAcked,
    UnsubscribeFailed,
)
from gatetrio._core._requests import WILDCARD, ChannelSpec, PlaceOrder

from .helpers import DOCS_CREDS, capped_examples

if TYPE_CHECKING:
    from collections.abc import Callable

# The pong timeout outlasts the interval, so pings fall due while one is still outstanding.
PING_INTERVAL = 3.0
PONG_TIMEOUT = 4.0
HANDOVER_GRACE = 6.0  # also the switch deadline: no subscribe_deadline is configured here
WALL = 1_786_540_000.0
UID = "20011"
CONTRACTS = ("BTC_USDT", "ETH_USDT", "SOL_USDT")
BATCHED = frozenset({"futures.trades", "futures.obu"})
PONG = '{"time":1,"time_ms":1000,"channel":"futures.pong","event":"","result":null}'

Target = tuple[str, str | tuple[str, ...]]

contract_sets = st.lists(st.sampled_from(CONTRACTS), min_size=1, max_size=3, unique=True)
specs = st.one_of(
    contract_sets.map(lambda cs: channels.trades(*cs)),
    st.builds(
        lambda cs, level: channels.obu(*cs, level=level),
        contract_sets,
        st.sampled_from(["400", "50"]),
    ),
    st.builds(channels.candlesticks, st.sampled_from(CONTRACTS), st.sampled_from(["1m", "5m"])),
    st.builds(channels.orders, st.just(UID), st.sampled_from((*CONTRACTS, "!all"))),
    st.just(channels.balances(UID)),
    # one spec split over two payloads that overlap: exercises de-duplication inside a spec
    st.just(
        ChannelSpec(
            channel="futures.trades",
            payloads=(("BTC_USDT", "ETH_USDT"), ("ETH_USDT", "SOL_USDT")),
            keys=frozenset(CONTRACTS),
            batched=True,
        )
    ),
)


def spec_targets(spec: ChannelSpec[object]) -> set[Target]:
    if spec.batched:
        return {(spec.channel, e) for payload in spec.payloads for e in payload}
    return {(spec.channel, payload) for payload in spec.payloads}


def frame_targets(frame: dict[str, Any]) -> list[Target]:
    channel, payload = frame["channel"], tuple(frame["payload"])
    if channel in BATCHED:
        return [(channel, e) for e in payload]
    return [(channel, payload)]


def lost_ids(out: list[Any]) -> set[str]:
    return {o.req_id for o in out if isinstance(o, ApiFailed) and isinstance(o.error, RequestLost)}


class _Wire:
    """The last frame covering a target on this connection: event, id, answer (None/ok/err)."""

    __slots__ = ("answer", "event", "req_id")

    def __init__(self, event: str, req_id: int) -> None:
        self.event = event
        self.req_id = req_id
        self.answer: str | None = None


class _Retiring:
    """The model of a socket being handed over."""

    __slots__ = ("api", "closing", "since", "switched")

    def __init__(self, since: float, api: set[str]) -> None:
        self.since = since
        self.switched: float | None = None
        self.api = api
        self.closing = False


class _Sinks(dict[int, "_Sink"]):
    """Recording sinks by sub_id; every third sub_id has none (its feed went away)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[int, object]] = []

    def add(self, sub_id: int) -> None:
        if sub_id % 3:
            self[sub_id] = _Sink(sub_id, self.log)


class _Sink:
    def __init__(self, sub_id: int, log: list[tuple[int, object]]) -> None:
        self.sub_id = sub_id
        self.log = log

    def push(self, item: object, now: float | None = None, /) -> bool:
        del now
        self.log.append((self.sub_id, item))
        return len(self.log) % 3 == 0  # some pushes ask the reader to yield


def _same(a: object, b: object) -> bool:
    # outputs hold exceptions (compared by identity): compare what they say
    return repr(a) == repr(b)


class _Pair:
    """One protocol fed by receive_text, its twin by receive_pushed: equal after every call."""

    def __init__(self, *, tracked: bool) -> None:
        extra: dict[str, Any] = (
            {"silence_timeout": 4.0, "first_data_timeout": 2.0} if tracked else {}
        )
        self.tracked = tracked
        self.general, self.fused = (
            GateProtocol(
                ping_interval=PING_INTERVAL,
                pong_timeout=PONG_TIMEOUT,
                handover_grace=HANDOVER_GRACE,
                credentials=DOCS_CREDS,
                entropy=random.Random(0).randbytes,  # the same client order ids in each
                **extra,
            )
            for _ in range(2)
        )
        self.sinks = _Sinks()

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name == "receive_text":
            return self.receive(*args, **kwargs)
        results: list[Any] = []
        errors: list[BaseException | None] = []
        for proto in (self.general, self.fused):
            try:
                verb: Any = proto
                for part in name.split("."):  # "trading.send": a verb of an owner it holds
                    verb = getattr(verb, part)
                results.append(verb(*args, **kwargs))
                errors.append(None)
            except Exception as exc:  # compared, then re-raised
                results.append(None)
                errors.append(exc)
        assert _same(errors[0], errors[1]), (name, errors)
        assert _same(results[0], results[1]), (name, results)
        if errors[0] is not None:
            raise errors[0]
        if name == "subscribe":
            self.sinks.add(results[0][0])
        elif name == "unsubscribe":
            self.sinks.pop(args[0], None)
        self.check()
        return results[0]

    def receive(
        self,
        text: str,
        *,
        now: float,
        generation: int | None = None,
        wall_time: float | None = None,
    ) -> list[Any]:
        if self.tracked:
            wall_time = WALL + now
        out = self.general.receive_text(text, now=now, generation=generation, wall_time=wall_time)
        log = self.sinks.log
        log.clear()
        fused = self.fused.receive_pushed(
            text, now=now, generation=generation, wall_time=wall_time, sinks=self.sinks
        )
        if isinstance(fused, bool):  # taken in whole by the hot path: pushes, no outputs
            assert all(isinstance(o, Delivery) for o in out)
            shell_pushes = [
                (o.sub_id, o.item)
                for o in out
                if isinstance(o, Delivery) and o.sub_id in self.sinks
            ]
            assert log == shell_pushes
            assert fused == any(i % 3 == 2 for i in range(len(log)))
        else:
            assert not log
            assert _same(fused, out)
        self.check()
        return out

    def check(self) -> None:
        assert _same(self.general.statistics(), self.fused.statistics())
        for sub_id in range(1, 64):
            general = self.general.subscription_status(sub_id)
            assert _same(general, self.fused.subscription_status(sub_id))


class Twin:
    """Stands in for one GateProtocol: runs each call on every pair, answers with the first's."""

    def __init__(self) -> None:
        self.pairs = (_Pair(tracked=False), _Pair(tracked=True))

    def send_trading(self, *args: Any, **kwargs: Any) -> Any:
        """`trading.send` on every pair (the trading owner is not a GateProtocol verb)."""
        results = [pair.call("trading.send", args, kwargs) for pair in self.pairs]
        return results[0]

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.pairs[0].general, name)
        if not callable(value):
            for pair in self.pairs:
                assert _same(getattr(pair.general, name), getattr(pair.fused, name))
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            results = [pair.call(name, args, kwargs) for pair in self.pairs]
            return results[0]

        bound: Callable[..., Any] = call
        return bound


class ProtocolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.proto = Twin()
        self.now = 0.0
        self.connected = False
        self.subs: dict[int, ChannelSpec[object]] = {}
        self.failed: set[int] = set()
        self.wire: dict[Target, _Wire] = {}
        self.sent: dict[int, dict[str, Any]] = {}  # unanswered subscribe/unsubscribe frames
        self.api_pending: set[str] = set()  # sent on the current socket
        self.gen: int | None = None
        self.retiring: dict[int, _Retiring] = {}
        self.resolved: set[str] = set()  # trading requests completed or lost: once each
        self.deadlines: dict[str, float] = {}  # trading requests that have one
        self.next_trade = 0
        self.last_ping = 0.0  # on connect: the connect time, so the first ping is one interval on
        self.ping_out: float | None = None
        self.seen_ids: set[int] = set()

    # ----------------------------------------------------------------------------- helpers

    def wall(self) -> float:
        return WALL + self.now

    def live(self, target: Target) -> bool:
        w = self.wire.get(target)
        return w is not None and w.event == "subscribe" and w.answer == "ok"

    def pending(self, target: Target) -> bool:
        w = self.wire.get(target)
        return w is not None and w.event == "subscribe" and w.answer is None

    def model_ready(self, sub_id: int) -> bool:
        return (
            self.connected
            and sub_id not in self.failed
            and all(self.live(t) for t in spec_targets(self.subs[sub_id]))
        )

    def needed(self, *, include_failed: bool) -> set[Target]:
        return {
            t
            for sub_id, spec in self.subs.items()
            if include_failed or sub_id not in self.failed
            for t in spec_targets(spec)
        }

    def record_sent(self, frames: list[str], event: str) -> list[dict[str, Any]]:
        parsed = []
        for text in frames:
            frame = json.loads(text)
            assert frame["event"] == event
            assert isinstance(frame["id"], int)
            assert 0 < frame["id"] < 2**31
            assert frame["id"] not in self.seen_ids  # ids are never reused
            self.seen_ids.add(frame["id"])
            assert frame["time"] == int(self.wall())
            assert ("auth" in frame) == (frame["channel"] in {"futures.orders", "futures.balances"})
            targets = frame_targets(frame)
            assert len(set(targets)) == len(targets)
            for target in targets:
                if event == "subscribe":  # refcounting: never a duplicate subscribe
                    assert not self.live(target)
                    assert not self.pending(target)
                else:
                    assert self.live(target) or self.pending(target)
                self.wire[target] = _Wire(event, frame["id"])
            self.sent[frame["id"]] = frame
            parsed.append(frame)
        return parsed

    def answer(self, req_id: int, answer: str) -> None:
        for w in self.wire.values():
            if w.req_id == req_id:
                w.answer = answer

    def ready_set(self) -> set[int]:
        return {s for s in self.subs if self.model_ready(s)}

    def resolve(self, req_id: str) -> None:
        assert req_id not in self.resolved, f"{req_id} resolved twice"
        self.resolved.add(req_id)
        self.deadlines.pop(req_id, None)

    def expect_expired(self, out: list[Any]) -> None:
        """Requests past their deadline are reported `RequestTimeout`, once, and forgotten."""
        expired = {r for r in self.owed() if self.deadlines.get(r, float("inf")) <= self.now}
        timed_out = {
            o.req_id
            for o in out
            if isinstance(o, ApiFailed) and isinstance(o.error, RequestTimeout)
        }
        assert timed_out == expired
        for req_id in expired:
            self.resolve(req_id)
            self.api_pending.discard(req_id)
            for r in self.retiring.values():
                r.api.discard(req_id)

    def handover_deadline(self, r: _Retiring) -> float:
        return (r.switched if r.switched is not None else r.since) + HANDOVER_GRACE

    def expect_handover(self, out: list[Any], *, resubscribed_check: bool) -> None:
        """Apply the model's handover steps for this moment and check `out` reports them."""
        if resubscribed_check and all(
            self.model_ready(s) for s in self.subs if s not in self.failed
        ):
            for r in self.retiring.values():
                if r.switched is None:
                    r.switched = self.now
        for r in self.retiring.values():
            if r.switched is None and self.now >= self.handover_deadline(r):
                r.switched = self.now
        lost = lost_ids(out)
        expected_lost: set[str] = set()
        for r in self.retiring.values():
            if r.switched is not None and r.api and self.now >= self.handover_deadline(r):
                expected_lost |= r.api
                r.api = set()
        assert lost == expected_lost
        for req_id in lost:
            self.resolve(req_id)
        closed = [o.generation for o in out if isinstance(o, CloseConnection)]
        expected = [
            g
            for g, r in self.retiring.items()
            if r.switched is not None and not r.api and not r.closing
        ]
        assert sorted(closed) == sorted(expected)
        for g in closed:
            self.retiring[g].closing = True
            # the shell closes it: nothing is owed on it any more
            assert self.proto.on_disconnected(self.now, generation=g) == []
            del self.retiring[g]

    # ------------------------------------------------------------------------------- rules

    @initialize(connect=st.booleans())
    def start(self, connect: bool) -> None:
        if connect:
            self.reconnect()

    @rule(spec=specs)
    def subscribe(self, spec: ChannelSpec[object]) -> None:
        sub_id, frames = self.proto.subscribe(spec, wall_time=self.wall(), now=self.now)
        assert sub_id not in self.subs
        assert sub_id not in self.failed
        if not self.connected:
            assert frames == []
        self.record_sent(frames, "subscribe")
        self.subs[sub_id] = spec

    @precondition(lambda self: self.subs)
    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        sub_id = data.draw(st.sampled_from(sorted(self.subs)))
        frames = self.proto.unsubscribe(sub_id, wall_time=self.wall())
        del self.subs[sub_id]
        self.failed.discard(sub_id)
        still_needed = self.needed(include_failed=True)
        for frame in self.record_sent(frames, "unsubscribe"):
            assert not set(frame_targets(frame)) & still_needed

    def _pick_sent(self, data: st.DataObject) -> dict[str, Any]:
        return self.sent[data.draw(st.sampled_from(sorted(self.sent)))]

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), with_id=st.booleans())
    def server_ack(self, data: st.DataObject, with_id: bool) -> None:
        frame = self._pick_sent(data)
        req_id = frame["id"]
        same = [
            f
            for f in self.sent.values()
            if (f["channel"], f["event"], f["payload"])
            == (frame["channel"], frame["event"], frame["payload"])
        ]
        # Without an echoed id Gate's replies still come in order: only the oldest such frame
        # may be answered id-less (the protocol matches those first-in, first-out).
        with_id = with_id or min(f["id"] for f in same) != req_id
        reply: dict[str, Any] = {"time": 1, "time_ms": 1000}
        if with_id:
            reply["id"] = req_id
        reply.update(
            channel=frame["channel"],
            event=frame["event"],
            payload=frame["payload"],
            result={"status": "success"},
        )
        before = self.ready_set()
        del self.sent[req_id]
        self.answer(req_id, "ok")
        out = self.proto.receive_text(json.dumps(reply), now=self.now, generation=self.gen)
        if frame["event"] == "unsubscribe":
            assert out == [UnsubscribeAcked(frame["channel"], tuple(frame["payload"]))]
            return
        readied = [o.sub_id for o in out if isinstance(o, SubscriptionReady)]
        assert all(isinstance(o, SubscriptionReady | CloseConnection) for o in out)
        assert len(readied) == len(set(readied))
        assert set(readied) == self.ready_set() - before
        self.expect_handover(out, resubscribed_check=bool(readied))

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), code=st.sampled_from([2, 4]))
    def server_error(self, data: st.DataObject, code: int) -> None:
        frame = self._pick_sent(data)
        req_id = frame["id"]
        reply = {
            "time": 1,
            "id": req_id,
            "channel": frame["channel"],
            "event": frame["event"],
            "payload": frame["payload"],
            "error": {"code": code, "message": "unknown contract"},
            "result": {"status": "fail"},
        }
        # Subscriptions waiting on this frame: not failed, not ready, needing a target whose
        # last frame is this one.
        hit = {t for t, w in self.wire.items() if w.req_id == req_id}
        expected = {
            s
            for s, spec in self.subs.items()
            if s not in self.failed and not self.model_ready(s) and spec_targets(spec) & hit
        }
        del self.sent[req_id]
        self.answer(req_id, "err")
        out = self.proto.receive_text(json.dumps(reply), now=self.now, generation=self.gen)
        kind = AuthenticationError if code == 4 else SubscriptionRejected
        if frame["event"] == "unsubscribe":
            assert len(out) == 1
            assert isinstance(out[0], UnsubscribeFailed)
            assert type(out[0].error) is kind
            return
        failed = [o.sub_id for o in out if isinstance(o, SubscriptionFailed)]
        assert len(failed) + sum(isinstance(o, CloseConnection) for o in out) == len(out)
        assert all(type(o.error) is kind for o in out if isinstance(o, SubscriptionFailed))
        assert set(failed) == expected
        self.failed |= expected
        for target in hit:  # Gate fails a batch atomically: nothing of it is subscribed
            del self.wire[target]
        self.expect_handover(out, resubscribed_check=True)

    @precondition(lambda self: self.connected)
    @rule(
        channel=st.sampled_from(["futures.trades", "futures.orders"]),
        contracts=st.lists(st.sampled_from((*CONTRACTS, "XRP_USDT")), max_size=4),
    )
    def push_data(self, channel: str, contracts: list[str]) -> None:
        # trades and orders items both parse from these fields; orders specs include "!all"
        result = [
            {"id": i, "size": 1, "price": "1", "contract": c, "create_time": 1, "status": "open"}
            for i, c in enumerate(contracts)
        ]
        frame = {"time": 1, "channel": channel, "event": "update", "result": result}
        out = self.proto.receive_text(json.dumps(frame), now=self.now, generation=self.gen)
        got = [
            (o.sub_id, getattr(o.item, "contract", None)) for o in out if isinstance(o, Delivery)
        ]
        assert len(got) == len(out)
        expected = [
            (sub_id, c)
            for c in contracts
            for sub_id, spec in sorted(self.subs.items())
            if sub_id not in self.failed
            and spec.channel == channel
            and (c in spec.keys or WILDCARD in spec.keys)
        ]
        assert got == expected

    @rule(dt=st.sampled_from([0.5, 1.0, 2.5, 3.0, 5.0, 7.0]))
    def advance_time(self, dt: float) -> None:
        self.now += dt
        if not self.connected:
            result = self.proto.handle_timer(self.now, wall_time=self.wall())
            assert (result.frames, result.silent) == ([], [])
            self.expect_expired(result.outputs)
            self.expect_handover(result.outputs, resubscribed_check=False)
            return
        if self.ping_out is not None and self.now >= self.ping_out + PONG_TIMEOUT:
            try:
                self.proto.handle_timer(self.now, wall_time=self.wall())
            except HeartbeatTimeout:
                self.disconnect()
                result = self.proto.handle_timer(self.now, wall_time=self.wall())
                self.expect_expired(result.outputs)
                self.expect_handover(result.outputs, resubscribed_check=False)
                return
            raise AssertionError("the pong deadline passed without HeartbeatTimeout")
        result = self.proto.handle_timer(self.now, wall_time=self.wall())
        self.expect_expired(result.outputs)
        self.expect_handover(result.outputs, resubscribed_check=False)
        due = self.ping_out is None and self.now >= self.last_ping + PING_INTERVAL
        assert len(result.frames) == (1 if due else 0)
        if due:
            ping = json.loads(result.frames[0])
            assert ping["channel"] == "futures.ping"
            assert ping["id"] not in self.seen_ids
            self.seen_ids.add(ping["id"])
            self.last_ping = self.ping_out = self.now
        assert result.silent == []

    @precondition(lambda self: self.ping_out is not None)
    @rule()
    def answer_ping(self) -> None:
        assert self.ping_out is not None
        for old in self.retiring:  # a pong on another socket answers nothing
            assert [
                type(o) for o in self.proto.receive_text(PONG, now=self.now, generation=old)
            ] == [Unmatched]
        out = self.proto.receive_text(PONG, now=self.now, generation=self.gen)
        assert out == [PongReceived(self.now - self.ping_out)]
        self.ping_out = None

    @precondition(lambda self: self.connected)
    @rule()
    def disconnect(self) -> None:
        out = self.proto.on_disconnected(self.now)
        assert lost_ids(out) == self.api_pending
        assert len(out) == len(self.api_pending)
        for req_id in lost_ids(out):
            self.resolve(req_id)
        self.api_pending.clear()
        self.connected = False
        self.gen = None
        self.wire.clear()
        self.sent.clear()
        self.ping_out = None

    @precondition(lambda self: not self.connected)
    @rule()
    def reconnect(self) -> None:
        self._connect()

    @precondition(lambda self: self.connected and len(self.retiring) < 2)
    @rule()
    def upgrade(self) -> None:
        """Make-before-break: a new socket while the current one is up."""
        assert self.gen is not None
        self.retiring[self.gen] = _Retiring(self.now, self.api_pending)
        self.api_pending = set()
        self.wire.clear()  # the old socket's subscriptions are of no interest now
        self.sent.clear()
        self.ping_out = None
        self._connect()

    @precondition(lambda self: self.retiring)
    @rule(data=st.data())
    def retiring_socket_drops(self, data: st.DataObject) -> None:
        gen = data.draw(st.sampled_from(sorted(self.retiring)))
        out = self.proto.on_disconnected(self.now, generation=gen)
        owed = self.retiring.pop(gen).api
        assert lost_ids(out) == owed
        assert len(out) == len(owed)
        for req_id in lost_ids(out):
            self.resolve(req_id)

    @precondition(lambda self: self.connected and self.retiring)
    @rule(data=st.data(), new_first=st.booleans())
    def the_same_push_on_both_sockets(self, data: st.DataObject, new_first: bool) -> None:
        old = data.draw(st.sampled_from(sorted(self.retiring)))
        self.next_trade += 1
        item = {"id": self.next_trade, "size": 1, "price": "1", "contract": "BTC_USDT"}
        text = json.dumps(
            {"time": 1, "channel": "futures.trades", "event": "update", "result": [item]}
        )
        wanted = sorted(
            s
            for s, spec in self.subs.items()
            if s not in self.failed and spec.channel == "futures.trades" and "BTC_USDT" in spec.keys
        )
        order = [self.gen, old] if new_first else [old, self.gen]
        got = []
        for gen in order:
            out = self.proto.receive_text(text, now=self.now, generation=gen)
            got.append(sorted(o.sub_id for o in out if isinstance(o, Delivery)))
        if self.retiring[old].switched is not None:  # its successor alone carries data
            assert got == ([wanted, []] if new_first else [[], wanted])
        else:  # once, from whichever socket carried it first
            assert got == [wanted, []]

    def _connect(self) -> None:
        connected = self.proto.on_connected(self.now, wall_time=self.wall())
        plan = connected.frames
        self.gen = connected.generation
        self.connected = True
        self.last_ping = self.now
        parsed = self.record_sent(plan, "subscribe")  # no unsubscribes, no trading requests
        covered = [t for frame in parsed for t in frame_targets(frame)]
        assert len(covered) == len(set(covered))  # every target exactly once
        assert set(covered) == self.needed(include_failed=False)
        assert all(frame["event"] != "api" for frame in parsed)
        self.expect_handover(connected.outputs, resubscribed_check=not plan)

    @precondition(lambda self: self.connected)
    @rule(size=st.integers(1, 5), timeout=st.sampled_from([None, 2.0, 6.0]))
    def place_order(self, size: int, timeout: float | None) -> None:
        deadline = None if timeout is None else self.now + timeout
        req_id, text, sent, expires_at = self.proto.send_trading(
            PlaceOrder(contract="BTC_USDT", size=size, price="100"),
            wall_time=self.wall(),
            now=self.now,
            deadline=deadline,
        )
        frame = json.loads(text)
        assert (frame["channel"], frame["event"]) == ("futures.order_place", "api")
        assert frame["payload"]["req_id"] == req_id
        assert frame["payload"]["req_param"]["text"] == sent.client_order_ids()[0]
        if timeout is None:
            assert expires_at is None
        else:  # Gate refuses it once its deadline has passed
            assert expires_at == int((self.wall() + timeout) * 1000) / 1000
            assert frame["payload"]["req_header"] == {"x-gate-exptime": str(int(expires_at * 1000))}
            self.deadlines[req_id] = self.now + timeout
        assert req_id not in self.api_pending
        self.api_pending.add(req_id)

    def owed(self) -> dict[str, int | None]:
        """Unanswered trading requests and the socket each went out on."""
        owed: dict[str, int | None] = dict.fromkeys(self.api_pending, self.gen)
        for gen, r in self.retiring.items():
            owed.update(dict.fromkeys(r.api, gen))
        return owed

    @precondition(lambda self: self.api_pending or any(r.api for r in self.retiring.values()))
    @rule(data=st.data())
    def api_reply(self, data: st.DataObject) -> None:
        owed = self.owed()
        req_id = data.draw(st.sampled_from(sorted(owed)))
        sockets = [g for g in (self.gen, *self.retiring) if g is not None]
        on = data.draw(st.sampled_from(sockets))
        order = {"id": 1, "status": "open", "contract": "BTC_USDT", "size": 1, "price": "100"}
        reply = {
            "header": {"response_time": "1", "status": "200", "channel": "futures.order_place"},
            "data": {"result": order},
            "request_id": req_id,
        }
        before = self.proto.statistics().replies_on_wrong_socket
        out = self.proto.receive_text(json.dumps(reply), now=self.now, generation=on)
        if on != owed[req_id]:  # Rule 5: never taken for the right socket's reply
            assert [type(o) for o in out] == [Unmatched]
            assert self.proto.statistics().replies_on_wrong_socket == before + 1
            return
        assert [type(o) for o in out if not isinstance(o, CloseConnection)] == [ApiCompleted]
        self.resolve(req_id)
        if on == self.gen:
            self.api_pending.discard(req_id)
            assert not any(isinstance(o, CloseConnection) for o in out)
        else:
            self.retiring[on].api.discard(req_id)
            self.expect_handover(out, resubscribed_check=False)

    # -------------------------------------------------------------------------- invariants

    @invariant()
    def subscriptions_match_the_model(self) -> None:
        assert self.proto.subscriptions() == self.subs
        assert self.failed <= set(self.subs)

    @invariant()
    def readiness_matches_the_wire_log(self) -> None:
        for sub_id in self.subs:
            assert self.proto.is_ready(sub_id) == self.model_ready(sub_id), sub_id

    @invariant()
    def every_needed_target_is_on_the_wire_and_nothing_leaks(self) -> None:
        on_wire = {t for t in self.wire if self.live(t) or self.pending(t)}
        if self.connected:
            assert self.needed(include_failed=False) <= on_wire
        assert on_wire <= self.needed(include_failed=True)

    @invariant()
    def ping_is_due_one_interval_after_the_last(self) -> None:
        timer = self.proto.get_timer()
        deadlines = [self.handover_deadline(r) for r in self.retiring.values()]
        deadlines.extend(self.deadlines.values())  # trading requests'
        if self.connected:
            if self.ping_out is not None:
                deadlines.append(self.ping_out + PONG_TIMEOUT)
            else:
                deadlines.append(self.last_ping + PING_INTERVAL)
        assert timer == min(deadlines, default=None)

    @invariant()
    def api_requests_match(self) -> None:
        stats = self.proto.statistics()
        assert stats.pending_api_requests == len(self.owed())
        assert stats.generation == self.gen
        assert stats.live_connections == len(self.retiring) + (1 if self.connected else 0)
        for gen in self.retiring:
            assert self.proto.is_live(gen)

    @invariant()
    def every_request_is_owed_or_resolved_never_both(self) -> None:
        assert not set(self.owed()) & self.resolved


ProtocolMachine.TestCase.settings = settings(
    ProtocolMachine.TestCase.settings, stateful_step_count=40, max_examples=capped_examples(300)
)
TestProtocolMachine = ProtocolMachine.TestCase
