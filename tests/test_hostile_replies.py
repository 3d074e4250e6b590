"""Hostile replies: subscribe errors of every shape, replies to nothing, pong abuse, notices.

The protocol's side of the contract, through the whole client against the scripted server on
the virtual clock. A subscribe the server refuses fails at once with the refusal, whatever
shape its error has (issue 17.6: a code that was not an integer made a SubscribeTimeout
instead); replies to things never asked are ignored and counted in `unmatched_replies`; a
server that stops answering pings is dropped (HeartbeatTimeout) and replaced; upgrade notices,
however many, make one orderly handover at a time.
"""

from __future__ import annotations

import json
from typing import Final, NamedTuple

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import ClientEventKind

from .hostile_run import drive, hostile_config
from .scripted import (
    Await,
    Repeat,
    Reply,
    Script,
    Send,
    Sleep,
    Upgrade,
    ack_for,
    pong_text,
    text,
    trade_text,
    upgrade_text,
)


def refuse_with(error: object, **fields: object) -> Script:
    """Connection 1 answers the trades subscribe with `error` (and `fields` over the reply)."""

    def build(request: dict[str, object]) -> bytes:
        body: dict[str, object] = {
            "time": 1,
            "channel": request.get("channel"),
            "event": request.get("event"),
            "id": request.get("id"),
            "error": error,
            "result": None,
        }
        body.update(fields)
        return text(json.dumps(body))

    return Script((Upgrade(), Await("futures.trades", "subscribe"), Reply(build)), ack=False)


class Rejection(NamedTuple):
    error: object  # the reply's error field
    fields: dict[str, object]  # other fields of the reply, replaced
    kind: type[gatetrio.ExchangeError]
    code: int
    message: str  # in the error's message


REJECTIONS: Final = [
    Rejection(
        {"code": 2, "message": "unknown contract"}, {}, gatetrio.SubscriptionRejected, 2, "unknown"
    ),
    Rejection(
        {"code": "2", "message": "unknown contract"},
        {},
        gatetrio.SubscriptionRejected,
        2,
        "unknown",
    ),
    Rejection({"code": "abc", "message": "nope"}, {}, gatetrio.SubscriptionRejected, 0, "'abc'"),
    Rejection({"code": 2.0, "message": "float"}, {}, gatetrio.SubscriptionRejected, 2, "float"),
    Rejection({"code": 2.5, "message": "x"}, {}, gatetrio.SubscriptionRejected, 0, "2.5"),
    Rejection(
        {"code": None, "message": "null code"}, {}, gatetrio.SubscriptionRejected, 0, "null code"
    ),
    Rejection({"code": {"a": 1}}, {}, gatetrio.SubscriptionRejected, 0, "unreadable code"),
    Rejection({"code": [2]}, {}, gatetrio.SubscriptionRejected, 0, "unreadable code"),
    Rejection({"code": True, "message": "bool"}, {}, gatetrio.SubscriptionRejected, 0, "bool"),
    Rejection({"code": 10**30}, {}, gatetrio.SubscriptionRejected, 0, "unreadable code"),
    Rejection({"message": "no code"}, {}, gatetrio.SubscriptionRejected, 0, "no code"),
    Rejection(
        {"code": 2, "message": {"nested": "object"}}, {}, gatetrio.SubscriptionRejected, 2, "nested"
    ),
    Rejection({"code": 2, "message": None}, {}, gatetrio.SubscriptionRejected, 2, "None"),
    Rejection("boom", {}, gatetrio.SubscriptionRejected, 0, "boom"),
    Rejection([1, 2], {}, gatetrio.SubscriptionRejected, 0, "[1, 2]"),
    Rejection({"code": 4, "message": "bad key"}, {}, gatetrio.AuthenticationError, 4, "bad key"),
    Rejection({"code": "4", "message": "bad key"}, {}, gatetrio.AuthenticationError, 4, "bad key"),
    Rejection(
        {"code": 2},
        {"time": "soon", "conn_id": 5, "trace_id": []},
        gatetrio.SubscriptionRejected,
        2,
        "",
    ),
    Rejection({"code": 2}, {"payload": "BTC_USDT"}, gatetrio.SubscriptionRejected, 2, ""),
    Rejection({"code": 2}, {"event": None}, gatetrio.SubscriptionRejected, 2, ""),
]


@pytest.mark.parametrize(
    "case", REJECTIONS, ids=[f"{c.error!r:.40}-{sorted(c.fields)}" for c in REJECTIONS]
)
async def test_a_refused_subscribe_fails_at_once_whatever_the_error_shape(
    case: Rejection, autojump_clock: trio.testing.MockClock
) -> None:
    outcome = await drive([refuse_with(case.error, **case.fields)])
    assert type(outcome.error) is case.kind, outcome.error
    assert outcome.error.code == case.code
    assert case.message in outcome.error.message
    assert outcome.error.channel == "futures.trades"
    assert outcome.ended_at == 0  # at once: no subscribe deadline waited out
    assert outcome.stats is not None
    assert outcome.stats.subscribe_timeouts == 0
    assert outcome.reasons(ClientEventKind.SUBSCRIPTION_FAILED)


@pytest.mark.parametrize("id_text", ["id_as_text", "no_id"])
async def test_a_refusal_matched_without_a_usable_id(
    id_text: str, autojump_clock: trio.testing.MockClock
) -> None:
    def build(request: dict[str, object]) -> bytes:
        rid = request.get("id")
        body = {"channel": "futures.trades", "event": "subscribe", "error": {"code": 2}}
        if id_text == "id_as_text":
            body["id"] = str(rid)
        return text(json.dumps(body))

    script = Script((Upgrade(), Await("futures.trades", "subscribe"), Reply(build)), ack=False)
    outcome = await drive([script])
    assert isinstance(outcome.error, gatetrio.SubscriptionRejected)
    assert outcome.ended_at == 0


async def test_a_refusal_for_another_id_is_not_ours(autojump_clock: trio.testing.MockClock) -> None:
    def build(request: dict[str, object]) -> bytes:
        del request  # an id of no request of ours
        body = {
            "channel": "futures.trades",
            "event": "subscribe",
            "id": 7777777,
            "error": {"code": 2},
        }
        return text(json.dumps(body))

    script = Script((Upgrade(), Await("futures.trades", "subscribe"), Reply(build)), ack=False)
    outcome = await drive([script], config=hostile_config(subscribe_deadline=5.0))
    assert isinstance(outcome.error, gatetrio.SubscribeTimeout)
    assert outcome.ended_at == 5.0
    assert outcome.stats is not None
    assert outcome.stats.unmatched_replies == 1
    assert outcome.stats.subscribe_timeouts == 1


# --------------------------------------------------------------- replies for things never asked


def _ack(channel: str, event: str, rid: int | None, payload: list[str] | None = None) -> bytes:
    return text(
        json.dumps(
            {
                "time": 1,
                "channel": channel,
                "event": event,
                "id": rid,
                "payload": payload,
                "error": None,
                "result": {"status": "success"},
            }
        )
    )


NEVER_ASKED: Final = {
    "ack with an unknown id": _ack("futures.trades", "subscribe", 99999),
    "ack for a channel never subscribed": _ack("futures.tickers", "subscribe", None, ["ETH_USDT"]),
    "unsubscribe ack never asked": _ack("futures.trades", "unsubscribe", None, ["ETH_USDT"]),
    "error never asked": text(
        '{"channel":"futures.candlesticks","event":"subscribe","id":5,"error":{"code":2}}'
    ),
    "trading reply to nothing": text(
        '{"request_id":"nope","header":{"status":"200","channel":"futures.order_place"},'
        '"data":{"result":{}}}'
    ),
    "pong without a ping": pong_text(),
}


@pytest.mark.parametrize("reply", list(NEVER_ASKED.values()), ids=list(NEVER_ASKED))
async def test_a_reply_to_nothing_is_counted_and_ignored(
    reply: bytes, autojump_clock: trio.testing.MockClock
) -> None:
    script = Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Send(reply * 3),
            Send(trade_text()),
        )
    )
    outcome = await drive([script])
    assert outcome.error is None
    assert outcome.marked
    assert outcome.stats is not None
    assert outcome.stats.unmatched_replies == 3
    assert outcome.stats.reconnects == 0
    assert outcome.stats.malformed_frames == 0


async def test_a_second_ack_for_one_subscribe(autojump_clock: trio.testing.MockClock) -> None:
    script = Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Reply(ack_for),
            Send(trade_text()),
        ),
        ack=False,
    )
    outcome = await drive([script])
    assert outcome.marked
    assert outcome.stats is not None
    assert outcome.stats.unmatched_replies == 1


async def test_an_unknown_channel_is_counted_and_ignored(
    autojump_clock: trio.testing.MockClock,
) -> None:
    unknown = text('{"time":1,"channel":"futures.new_thing","event":"update","result":[1,2]}')
    script = Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Send(unknown * 5),
            Send(trade_text()),
        )
    )
    outcome = await drive([script])
    assert outcome.marked
    assert outcome.stats is not None
    assert outcome.stats.unknown_events == 5


# ---------------------------------------------------------------------------------- pong abuse


async def test_a_server_that_never_pongs_is_dropped_and_replaced(
    autojump_clock: trio.testing.MockClock,
) -> None:
    silent = Script((Upgrade(), Await("futures.trades", "subscribe"), Reply(ack_for)), pong=False)
    outcome = await drive([silent])
    assert outcome.marked
    assert "pong" in outcome.reasons().lower()
    assert outcome.ended_at == 5.0 + 3.0 + 0.5  # ping at 5, no pong by 8, reconnect paced 0.5 s


async def test_a_pong_flood_is_counted_not_trusted(autojump_clock: trio.testing.MockClock) -> None:
    # unsolicited pongs never stand in for the answer to a ping: the liveness stays true
    flood = Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Repeat(pong_text(), 100, every=0.1),
        ),
        pong=False,
    )
    outcome = await drive([flood])
    assert outcome.marked
    assert outcome.stats is not None
    assert outcome.stats.unmatched_replies >= 50  # those before the first ping went out
    assert "pong" in outcome.reasons().lower()


@pytest.mark.parametrize(
    "pong",
    [
        '{"channel":"futures.pong","time":"x"}',
        '{"channel":"futures.pong","time_ms":-1e400}',
        '{"channel":"futures.pong","conn_id":{"a":[]}}',
    ],
)
async def test_a_malformed_pong_is_counted(
    pong: str, autojump_clock: trio.testing.MockClock
) -> None:
    script = Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Await("futures.ping"),
            Send(text(pong)),
            Sleep(1),
            Send(trade_text()),
        ),
        pong=False,
    )
    outcome = await drive([script])
    assert outcome.stats is not None
    assert outcome.stats.malformed_frames >= 1
    assert outcome.reasons(ClientEventKind.MALFORMED_FRAME)


# -------------------------------------------------------------------------- upgrade notices


@pytest.mark.parametrize("count", [1, 2, 50])
async def test_upgrade_notices_in_a_burst_make_one_handover(
    count: int, autojump_clock: trio.testing.MockClock
) -> None:
    burst = Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Send(upgrade_text() * count),
            Sleep(30),
        )
    )
    outcome = await drive([burst])
    assert outcome.error is None
    assert outcome.marked
    assert outcome.stats is not None
    assert outcome.stats.upgrades == 1  # one per connection counts; the rest are the same notice
    assert len(outcome.connections) == 2
    assert outcome.kinds(ClientEventKind.UPGRADE)


async def test_an_upgrade_notice_on_every_connection_is_followed_at_a_bounded_rate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    noisy = Script(
        (Upgrade(), Await("futures.trades", "subscribe"), Reply(ack_for), Send(upgrade_text() * 3))
    )
    outcome = await drive(
        [], then=noisy, until=20.0, config=hostile_config(min_reconnect_interval=1.0)
    )
    assert outcome.error is None
    assert outcome.stats is not None
    assert outcome.stats.upgrades >= 5
    assert (
        len(outcome.connections) <= 20 / 1.0 + 2
    )  # never more than one per min_reconnect_interval
