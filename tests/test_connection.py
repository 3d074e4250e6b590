"""`Connection`'s verbs are safe at any moment of its life, its end included (issue 17.3)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio._shell._connection import OUTBOX_LIMIT, Connection


class StubSocket:
    """A WebSocketLike that records sends; `stuck` sends never finish."""

    endpoint = "ws://stub.invalid/v4/ws/usdt"

    def __init__(self, *, stuck: bool = False) -> None:
        self.sent: list[str | bytes] = []
        self.stuck = stuck
        self.closed = self.aborted = False

    async def get_message(self) -> str | bytes:
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover

    def receive_nowait(self) -> str | bytes:
        raise trio.WouldBlock

    async def send_message(self, message: str | bytes) -> None:
        if self.stuck:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        self.sent.append(message)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
        self.closed = True

    async def abort(self) -> None:
        await trio.lowlevel.checkpoint()
        self.aborted = True


async def _ended_connection(ws: StubSocket) -> Connection:
    """A connection whose nursery has finished and which was reported ended."""
    async with trio.open_nursery() as nursery:
        conn = Connection(ws, 1, scope=nursery.cancel_scope, send_deadline=1.0)
        nursery.start_soon(conn.run_duties)
        nursery.cancel_scope.cancel()
    return conn


async def test_the_duties_task_sends_what_is_posted_in_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StubSocket()
    async with trio.open_nursery() as nursery:
        conn = Connection(ws, 1, scope=nursery.cancel_scope, send_deadline=1.0)
        nursery.start_soon(conn.run_duties)
        conn.post(["a", "b"])
        conn.post(["c"])
        await trio.sleep(0.1)
        assert ws.sent == ["a", "b", "c"]
        assert conn.hand_over() is True
        assert conn.hand_over() is False  # once
    assert ws.closed  # the duties task closed it politely and ended the nursery
    assert conn.closing


async def test_every_verb_is_harmless_once_the_nursery_has_finished(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StubSocket()
    conn = await _ended_connection(ws)
    # the moment the old shell started tasks here: its nursery is closed to new arrivals
    conn.post(["ping"])
    assert conn.hand_over() is True  # nothing runs it, and nothing raises
    conn.abort(gatetrio.HeartbeatTimeout("late"))
    await conn.close()
    conn.ended()
    assert conn.hand_over() is False
    conn.post(["after the end"])
    await conn.wait_gone()
    assert ws.sent == []
    assert ws.closed


async def test_a_stuck_send_aborts_the_connection_with_a_heartbeat_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StubSocket(stuck=True)
    async with trio.open_nursery() as nursery:
        conn = Connection(ws, 7, scope=nursery.cancel_scope, send_deadline=2.0)
        with pytest.raises(gatetrio.HeartbeatTimeout, match="not reading"):
            await conn.send(["x"])
        assert trio.current_time() == 2.0
    assert isinstance(conn.failure, gatetrio.HeartbeatTimeout)


async def test_a_full_outbox_aborts_instead_of_growing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StubSocket(stuck=True)
    async with trio.open_nursery() as nursery:
        conn = Connection(ws, 3, scope=nursery.cancel_scope, send_deadline=60.0)
        nursery.start_soon(conn.run_duties)
        conn.post(["first"])  # taken by the duties task, stuck in the send
        await trio.sleep(1.0)
        for _ in range(OUTBOX_LIMIT):
            conn.post(["queued"])
        failures = [conn.failure]
        conn.post(["one too many"])
        failures.append(conn.failure)
    assert failures[0] is None
    assert isinstance(failures[1], gatetrio.HeartbeatTimeout)
    assert trio.current_time() == 1.0  # aborted at once, not after the send deadline
