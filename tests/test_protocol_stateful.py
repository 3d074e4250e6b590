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
"""

from __future__ import annotations

import json
from typing import Any

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
from gatetrio._core._config import Credentials
from gatetrio._core._errors import AuthenticationError, HeartbeatTimeout, SubscriptionRejected
from gatetrio._core._protocol import (
    ApiCompleted,
    ApiLost,
    Delivery,
    GateProtocol,
    PongReceived,
    SubscriptionFailed,
    SubscriptionReady,
    UnsubscribeAcked,
    UnsubscribeFailed,
)
from gatetrio._core._requests import WILDCARD, ChannelSpec, PlaceOrder

# The pong timeout outlasts the interval, so pings fall due while one is still outstanding.
PING_INTERVAL = 3.0
PONG_TIMEOUT = 4.0
WALL = 1_786_540_000.0
UID = "20011"
CONTRACTS = ("BTC_USDT", "ETH_USDT", "SOL_USDT")
BATCHED = frozenset({"futures.trades", "futures.obu"})
SECRET = "SECRET"
CREDS = Credentials(key="KEY", secret=SECRET, user_id=UID)
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


class _Wire:
    """The last frame covering a target on this connection: event, id, answer (None/ok/err)."""

    __slots__ = ("answer", "event", "req_id")

    def __init__(self, event: str, req_id: int) -> None:
        self.event = event
        self.req_id = req_id
        self.answer: str | None = None


class ProtocolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.proto = GateProtocol(
            ping_interval=PING_INTERVAL, pong_timeout=PONG_TIMEOUT, credentials=CREDS
        )
        self.now = 0.0
        self.connected = False
        self.subs: dict[int, ChannelSpec[object]] = {}
        self.failed: set[int] = set()
        self.wire: dict[Target, _Wire] = {}
        self.sent: dict[int, dict[str, Any]] = {}  # unanswered subscribe/unsubscribe frames
        self.api_pending: set[str] = set()
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
        out = self.proto.receive_text(json.dumps(reply), now=self.now)
        if frame["event"] == "unsubscribe":
            assert out == [UnsubscribeAcked(frame["channel"], tuple(frame["payload"]))]
            return
        assert all(isinstance(o, SubscriptionReady) for o in out)
        readied = [o.sub_id for o in out if isinstance(o, SubscriptionReady)]
        assert len(readied) == len(set(readied))
        assert set(readied) == self.ready_set() - before

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
        out = self.proto.receive_text(json.dumps(reply), now=self.now)
        kind = AuthenticationError if code == 4 else SubscriptionRejected
        if frame["event"] == "unsubscribe":
            assert len(out) == 1
            assert isinstance(out[0], UnsubscribeFailed)
            assert type(out[0].error) is kind
            return
        failed = [o.sub_id for o in out if isinstance(o, SubscriptionFailed)]
        assert len(failed) == len(out)
        assert all(type(o.error) is kind for o in out if isinstance(o, SubscriptionFailed))
        assert set(failed) == expected
        self.failed |= expected
        for target in hit:  # Gate fails a batch atomically: nothing of it is subscribed
            del self.wire[target]

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
        out = self.proto.receive_text(json.dumps(frame), now=self.now)
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
            return
        if self.ping_out is not None and self.now >= self.ping_out + PONG_TIMEOUT:
            try:
                self.proto.handle_timer(self.now, wall_time=self.wall())
            except HeartbeatTimeout:
                self.disconnect()
                return
            raise AssertionError("the pong deadline passed without HeartbeatTimeout")
        result = self.proto.handle_timer(self.now, wall_time=self.wall())
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
        out = self.proto.receive_text(PONG, now=self.now)
        assert out == [PongReceived(self.now - self.ping_out)]
        self.ping_out = None

    @precondition(lambda self: self.connected)
    @rule()
    def disconnect(self) -> None:
        out = self.proto.on_disconnected(self.now)
        assert all(isinstance(o, ApiLost) for o in out)
        assert {o.req_id for o in out if isinstance(o, ApiLost)} == self.api_pending
        self.api_pending.clear()
        self.connected = False
        self.wire.clear()
        self.sent.clear()
        self.ping_out = None

    @precondition(lambda self: not self.connected)
    @rule()
    def reconnect(self) -> None:
        plan = self.proto.on_connected(self.now, wall_time=self.wall())
        self.connected = True
        self.last_ping = self.now
        parsed = self.record_sent(plan, "subscribe")  # no unsubscribes, no trading requests
        covered = [t for frame in parsed for t in frame_targets(frame)]
        assert len(covered) == len(set(covered))  # every target exactly once
        assert set(covered) == self.needed(include_failed=False)
        assert all(frame["event"] != "api" for frame in parsed)

    @precondition(lambda self: self.connected)
    @rule(size=st.integers(1, 5))
    def place_order(self, size: int) -> None:
        req_id, text = self.proto.api_request(
            PlaceOrder(contract="BTC_USDT", size=size, price="100"), wall_time=self.wall()
        )
        frame = json.loads(text)
        assert (frame["channel"], frame["event"]) == ("futures.order_place", "api")
        assert frame["payload"]["req_id"] == req_id
        assert req_id not in self.api_pending
        self.api_pending.add(req_id)

    @precondition(lambda self: self.api_pending)
    @rule(data=st.data())
    def api_reply(self, data: st.DataObject) -> None:
        req_id = data.draw(st.sampled_from(sorted(self.api_pending)))
        reply = {
            "header": {"response_time": "1", "status": "200", "channel": "futures.order_place"},
            "data": {"result": {"id": 1, "status": "open"}},
            "request_id": req_id,
        }
        out = self.proto.receive_text(json.dumps(reply), now=self.now)
        assert [type(o) for o in out] == [ApiCompleted]
        self.api_pending.discard(req_id)

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
        if not self.connected:
            assert timer is None
        elif self.ping_out is not None:
            assert timer == self.ping_out + PONG_TIMEOUT
        else:
            assert timer == self.last_ping + PING_INTERVAL

    @invariant()
    def api_requests_match(self) -> None:
        assert self.proto.statistics().pending_api_requests == len(self.api_pending)


ProtocolMachine.TestCase.settings = settings(
    ProtocolMachine.TestCase.settings, stateful_step_count=30
)
TestProtocolMachine = ProtocolMachine.TestCase
