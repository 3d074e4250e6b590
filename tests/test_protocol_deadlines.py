"""Deadlines a server cannot restart: a subscription's first ack is due within
`subscribe_deadline` of `subscribe()`, however many connections carry its frame, and also
while there is none (`_core/_protocol/__init__.py`). Pure: the protocol alone, times exact.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from gatetrio import channels
from gatetrio._core._errors import SubscribeTimeout
from gatetrio._core._protocol import GateProtocol, SubscriptionFailed, SubscriptionReady

from .test_protocol import WALL, ack

LIMIT = 15.0


def make() -> GateProtocol:
    return GateProtocol(ping_interval=100.0, pong_timeout=100.0, subscribe_deadline=LIMIT)


def sent_id(frames: list[str]) -> int:
    (frame,) = frames
    req_id: int = json.loads(frame)["id"]
    return req_id


def failures(outputs: object) -> list[tuple[int, str]]:
    return [
        (o.sub_id, str(o.error))
        for o in outputs  # type: ignore[attr-defined]
        if isinstance(o, SubscriptionFailed) and isinstance(o.error, SubscribeTimeout)
    ]


def test_a_reconnect_resends_the_frame_but_keeps_the_first_deadline() -> None:
    proto = make()
    proto.on_connected(0.0, wall_time=WALL)
    sub_id, _ = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL, now=2.0)
    assert proto.get_timer() == 17.0
    proto.on_disconnected(10.0)
    connected = proto.on_connected(11.0, wall_time=WALL)
    assert len(connected.frames) == 1  # re-sent ...
    assert proto.get_timer() == 17.0  # ... with the deadline it had, not 26
    assert proto.handle_timer(16.9, wall_time=WALL).outputs == []
    result = proto.handle_timer(17.0, wall_time=WALL)
    assert failures(result.outputs) == [(sub_id, "futures.trades: no subscribe ack within 15.0s")]
    assert proto.statistics().subscribe_timeouts == 1
    assert proto.get_timer() == 111.0  # the next ping: nothing else is due


def test_a_handover_keeps_the_first_deadline_too() -> None:
    proto = make()
    proto.on_connected(0.0, wall_time=WALL)
    sub_id, _ = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL, now=1.0)
    proto.on_connected(5.0, wall_time=WALL)  # an upgrade notice: the old one retires
    assert proto.get_timer() == 16.0
    assert failures(proto.handle_timer(16.0, wall_time=WALL).outputs) == [
        (sub_id, "futures.trades: no subscribe ack within 15.0s")
    ]


def test_the_first_deadline_runs_out_while_disconnected() -> None:
    proto = make()
    sub_id, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL, now=3.0)
    assert frames == []  # no connection: nothing sent
    assert proto.get_timer() == 18.0
    assert proto.handle_timer(17.0, wall_time=WALL).outputs == []
    assert failures(proto.handle_timer(18.0, wall_time=WALL).outputs) == [
        (sub_id, "futures.trades: no subscribe ack within 15.0s")
    ]
    assert proto.get_timer() is None
    assert proto.on_connected(20.0, wall_time=WALL).frames == []  # failed: never re-sent


def test_an_acked_subscription_gets_a_fresh_deadline_on_each_new_connection() -> None:
    proto = make()
    proto.on_connected(0.0, wall_time=WALL)
    sub_id, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL, now=1.0)
    outputs = proto.receive_text(ack(sent_id(frames), "futures.trades", ["BTC_USDT"]), now=1.5)
    assert outputs == [SubscriptionReady(sub_id)]
    proto.on_disconnected(40.0)
    assert proto.get_timer() is None  # nobody waits on it now: no deadline while disconnected
    connected = proto.on_connected(41.0, wall_time=WALL)
    assert len(connected.frames) == 1
    assert proto.get_timer() == 56.0  # from this frame's send: nobody waits in subscribe()


def test_a_late_subscriber_to_a_pending_target_is_held_to_its_own_deadline() -> None:
    proto = make()
    proto.on_connected(0.0, wall_time=WALL)
    first, _ = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL, now=1.0)
    second, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL, now=4.0)
    assert frames == []  # the target is pending already: one frame serves both
    result = proto.handle_timer(16.0, wall_time=WALL)
    assert sorted(s for s, _ in failures(result.outputs)) == [first, second]


@given(
    subscribed_at=st.floats(0, 100),
    bounces=st.lists(st.tuples(st.floats(0, 30), st.floats(0, 30)), max_size=8),
)
def test_no_bouncing_server_moves_a_first_deadline(
    subscribed_at: float, bounces: list[tuple[float, float]]
) -> None:
    """Whatever the connections' lives (up for `up`, then down for `down`), a subscription
    never acked fails exactly `subscribe_deadline` after `subscribe()`."""
    proto = make()
    proto.on_connected(0.0, wall_time=WALL)
    sub_id, _ = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL, now=subscribed_at)
    due = subscribed_at + LIMIT
    now = subscribed_at
    failed: list[tuple[int, str]] = []
    for up, down in bounces:
        for at in (now + up, now + up + down):
            while not failed and (timer := proto.get_timer()) is not None and timer <= at:
                assert timer <= due  # never later than the first deadline
                failed = failures(proto.handle_timer(timer, wall_time=WALL).outputs)
                if failed:
                    assert timer == due
        now += up
        proto.on_disconnected(now)
        now += down
        proto.on_connected(now, wall_time=WALL)
    while not failed:
        timer = proto.get_timer()
        assert timer is not None
        assert timer <= due
        failed = failures(proto.handle_timer(timer, wall_time=WALL).outputs)
        if failed:
            assert timer == due
    assert [s for s, _ in failed] == [sub_id]
