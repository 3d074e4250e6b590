"""Reconnect pacing against servers that end every connection at once, and the subscribe wait
they cannot stretch (`_shell/_supervisor.py`, "Pacing"; `_core/_backoff.py`, `ReconnectPacer`).

Each server does one thing on every connection right after the handshake: an upgrade notice,
a clean close, an EOF. Before, an upgrade notice on every connection got a new connection every
`min_reconnect_interval` for ever, and a subscribe the server never acked waited for ever (each
new socket restarted its deadline). In memory on the virtual clock with jitter 0, so the times
of the connections are exact: the backoff's (0.5, 1, 2, 2, ...) after the first.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import ClientEventKind, channels

from .hostile_run import drive, hostile_config
from .scripted import (
    CLOSE,
    CONTRACT,
    Eof,
    Script,
    Send,
    Sleep,
    Upgrade,
    close_payload,
    frame,
    open_scripted_server,
    upgrade_text,
)

UPGRADE_AT_ONCE = Script((Upgrade(), Send(upgrade_text())))
CLOSE_AT_ONCE = Script((Upgrade(), Send(frame(CLOSE, close_payload(1000)))))
EOF_AT_ONCE = Script((Upgrade(), Eof()))
# hostile_config: backoff 0.5, doubling, capped at 2.0; min interval 0.5; stable after 5 + 3 s
BACKED_OFF = [0.0, 0.5, 1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5, 15.5, 17.5, 19.5]


def connected_at(events: list[gatetrio.ClientEvent], start: float) -> list[float]:
    return [e.at - start for e in events if e.kind is ClientEventKind.CONNECTED]


@pytest.mark.parametrize(
    "script", [UPGRADE_AT_ONCE, CLOSE_AT_ONCE, EOF_AT_ONCE], ids=["upgrade", "close", "eof"]
)
async def test_a_server_ending_every_connection_at_once_gets_the_backoff(
    script: Script, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    outcome = await drive([], then=script, subscribe=False, until=20.0)
    assert outcome.error is None
    assert len(outcome.connections) == len(BACKED_OFF)
    assert connected_at(outcome.events, start) == BACKED_OFF[1:]  # (events() opens after one)
    stats = outcome.stats
    assert stats is not None
    if script is UPGRADE_AT_ONCE:
        # every notice followed (make before break), each after the backoff's delay
        assert (stats.upgrades, stats.upgrades_paced, stats.reconnects) == (12, 12, 0)
        assert len(outcome.kinds(ClientEventKind.HANDED_OVER)) == 11
    else:
        assert (stats.upgrades, stats.upgrades_paced, stats.reconnects) == (0, 0, 12)


async def test_a_connection_that_serves_a_heartbeat_first_may_ask_to_move_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # up 9 s (past ping_interval + pong_timeout = 8), then the notice: no backoff, one move
    start = trio.current_time()
    outcome = await drive(
        [], then=Script((Upgrade(), Sleep(9.0), Send(upgrade_text()))), subscribe=False, until=30
    )
    assert len(outcome.connections) == 4
    assert connected_at(outcome.events, start) == [9.0, 18.0, 27.0]
    assert outcome.stats is not None
    assert outcome.stats.upgrades_paced == 0


@pytest.mark.parametrize(
    "script", [UPGRADE_AT_ONCE, CLOSE_AT_ONCE, EOF_AT_ONCE], ids=["upgrade", "close", "eof"]
)
async def test_a_subscribe_never_acked_fails_at_its_deadline_however_the_server_bounces(
    script: Script, autojump_clock: trio.testing.MockClock
) -> None:
    noack = Script(script.steps, ack=False)
    start = trio.current_time()
    outcome = await drive([], then=noack, config=hostile_config(subscribe_deadline=5.0))
    assert isinstance(outcome.error, gatetrio.SubscribeTimeout), outcome.error
    assert outcome.ended_at == 5.0  # from the call, not from the latest connection's send
    assert len(outcome.connections) == 4
    assert connected_at(outcome.events, start) == [0.5, 1.5, 3.5]
    assert outcome.stats is not None
    assert outcome.stats.subscribe_timeouts == 1
    assert outcome.stats.open_subscriptions == 0


async def test_a_subscribe_made_while_disconnected_fails_at_its_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # connection 1 serves for a second, then every later one ends before its handshake
    config = hostile_config(subscribe_deadline=5.0)
    served = Script((Upgrade(), Sleep(1.0), Eof()))
    async with (
        open_scripted_server([served], then=Script((Eof(),))) as server,
        gatetrio.open_client(connector=server.connector, config=config) as client,
    ):
        await trio.sleep(2.0)
        assert not client.statistics().connected
        start = trio.current_time()
        with pytest.raises(gatetrio.SubscribeTimeout):
            async with client.subscribe(channels.trades(CONTRACT)):
                pytest.fail("subscribed without a connection")
        assert trio.current_time() - start == 5.0
        stats = client.statistics()
        assert (stats.connects, stats.subscribe_timeouts, stats.open_subscriptions) == (1, 1, 0)
        assert stats.connect_failures > 0  # it kept trying meanwhile
