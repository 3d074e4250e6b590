"""Why a subscription is silent is a protocol fact, decided in the core (issue 18.2)."""

from __future__ import annotations

import json

from gatetrio import channels
from gatetrio._core._protocol import GateProtocol, SubscriptionSilent
from gatetrio._core._protocol._silence import NEVER_FED

from .helpers import DOCS_CREDS
from .test_protocol import T0, WALL, ack


def _protocol() -> tuple[GateProtocol, int, int]:
    proto = GateProtocol(
        ping_interval=1000.0,
        pong_timeout=1000.0,
        silence_timeout=30.0,
        first_data_timeout=5.0,
        credentials=DOCS_CREDS,
    )
    proto.on_connected(T0, wall_time=WALL)
    obu_id, (obu_frame,) = proto.subscribe(channels.obu("BTC_USDT", level=50), wall_time=WALL)
    trades_id, (trades_frame,) = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    for frame in (obu_frame, trades_frame):
        sent = json.loads(frame)
        proto.receive_text(ack(sent["id"], sent["channel"], sent["payload"]), now=T0)
    return proto, obu_id, trades_id


def _trade(now: float, proto: GateProtocol) -> None:
    text = json.dumps(
        {
            "time": 1,
            "time_ms": 1000,
            "channel": "futures.trades",
            "event": "update",
            "result": [
                {
                    "id": 1,
                    "size": 1,
                    "create_time": 1,
                    "create_time_ms": 1000,
                    "price": "1",
                    "contract": "BTC_USDT",
                }
            ],
        }
    )
    assert proto.receive_text(text, now=now)  # delivered


def test_each_silence_comes_with_its_reason_and_is_counted_once() -> None:
    proto, obu_id, trades_id = _protocol()
    result = proto.handle_timer(T0 + 5.0, wall_time=WALL)
    assert result.outputs == [SubscriptionSilent(obu_id, "futures.obu", NEVER_FED)]
    assert result.silent == [obu_id]
    assert proto.handle_timer(T0 + 6.0, wall_time=WALL).outputs == []  # once per silence
    result = proto.handle_timer(T0 + 30.0, wall_time=WALL)
    assert result.outputs == [
        SubscriptionSilent(trades_id, "futures.trades", "no data since the subscribe ack (30s)")
    ]
    _trade(T0 + 31.0, proto)  # data again, then nothing for the silence timeout
    result = proto.handle_timer(T0 + 61.0, wall_time=WALL)
    assert result.outputs == [SubscriptionSilent(trades_id, "futures.trades", "no data for 30s")]
    assert proto.statistics().silences == 3
    status = proto.subscription_status(trades_id)
    assert status is not None
    assert status.silences == 2


def test_no_limits_no_silence() -> None:
    proto = GateProtocol(ping_interval=1000.0, pong_timeout=1000.0)
    proto.on_connected(T0, wall_time=WALL)
    sub_id, (frame,) = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    sent = json.loads(frame)
    proto.receive_text(ack(sent["id"], sent["channel"], sent["payload"]), now=T0)
    assert proto.is_ready(sub_id)
    assert proto.get_timer() == T0 + 1000.0  # the ping only
    assert proto.handle_timer(T0 + 999.0, wall_time=WALL).silent == []
