"""Any server behaviour at any timing ends in normal operation or a `GateTrioError` (issue 17.3).

A connection can end between any two steps of any of the client's tasks: the server closes it,
an upgrade notice hands it over, a pong is missed, a message in thousands of fragments trips the
size limit. The shell once started tasks on a connection's nursery from outside it (pings from
the timer task, the polite close of a handed-over socket from another socket's reader), and
when that nursery had just finished, trio raised an untyped "Nursery is closed to new arrivals"
out of `open_client`. Now nothing starts a task on a connection's nursery but the connection's
own `run_connection`; these tests let Hypothesis choose the server's timing to hold that.

The runs are on the in-memory streams under a MockClock that jumps (exact virtual times), plus
a few on loopback TCP with trio's real clock.
"""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing
from hypothesis import example, given, settings
from hypothesis import strategies as st

import gatetrio
from gatetrio import channels
from gatetrio._shell._client_events import ClientEventKind
from gatetrio._shell._transport import Connector

from .timed_server import ACTIONS, Script, Step, TimedServer

URL = "ws://timed.invalid/v4/ws/usdt"
HANG_GUARD = 600.0  # virtual seconds: a run that takes longer is a wait without end

# Steps land on the client's own deadlines (ping 5 s, pong 3 s, subscribe 5 s, handover grace
# 3 s, reconnect interval 0.5 s) as often as between them: the races are at equal times.
delays = st.one_of(
    st.sampled_from([0.0, 0.0, 0.001, 0.5, 1.0, 2.0, 3.0, 5.0]),
    st.floats(0.0, 10.0, allow_nan=False),
)


@st.composite
def steps(draw: st.DrawFn) -> Step:
    action = draw(st.sampled_from(ACTIONS))
    if action == "upgrade":
        n = draw(st.integers(1, 40))
    elif action == "fragments":
        n = draw(st.integers(1, 3000))
    elif action == "close":
        n = draw(st.sampled_from([1000, 1001, 1011, 4000]))
    else:
        n = 1
    return Step(draw(delays), action, n)


scripts = st.builds(
    Script,
    steps=st.lists(steps(), max_size=8).map(tuple),
    ack_delay=st.none() | st.sampled_from([0.0, 0.01, 1.0, 4.9, 6.0]),
    pong_delay=st.none() | st.sampled_from([0.0, 0.01, 1.0, 2.9, 4.0]),
    refuse=st.integers(0, 2),
)


def _config() -> gatetrio.ClientConfig:
    return gatetrio.ClientConfig(
        url=URL,
        ping_interval=5.0,
        pong_timeout=3.0,
        subscribe_deadline=5.0,
        handover_grace=3.0,
        first_connect_timeout=60.0,
        min_reconnect_interval=0.5,
        backoff_initial=0.5,
        backoff_max=4.0,
        backoff_jitter=0.0,
        send_deadline=5.0,
        rng=random.Random(0),
    )


def _choose_schedule(seed: int) -> None:
    """Let Hypothesis choose trio's scheduling order too: under Hypothesis trio shuffles each
    batch of runnable tasks with this generator (`_ALLOW_DETERMINISTIC_SCHEDULING`), which it
    otherwise reseeds the same way for every example."""
    trio._core._run._r.seed(seed)


def _tight_config(url: str) -> gatetrio.ClientConfig:
    """Deadlines of tens of milliseconds: on trio's real clock, the timers fire all the time."""
    return gatetrio.ClientConfig(
        url=url,
        ping_interval=0.05,
        pong_timeout=0.05,
        subscribe_deadline=0.2,
        handover_grace=0.05,
        first_connect_timeout=10.0,
        min_reconnect_interval=0.01,
        backoff_initial=0.01,
        backoff_max=0.05,
        backoff_jitter=0.0,
        send_deadline=0.2,
        rng=random.Random(0),
    )


async def _run_client(
    server: TimedServer, duration: float, *, subscribe: bool, loopback: bool = False
) -> list[object]:
    """Run a client against `server` for `duration`; return what came out (exceptions)."""
    out: list[object] = []
    with trio.fail_after(HANG_GUARD):
        async with trio.open_nursery() as servers:
            config = _config()
            connector: Connector | None = server.connector(servers)
            if loopback:
                config, connector = _tight_config(await server.listen(servers)), None
            try:
                async with gatetrio.open_client(connector=connector, config=config) as client:
                    # (a subscribe waits through reconnects for its ack: bounded here)
                    with trio.move_on_after(duration):
                        if subscribe:
                            async with client.subscribe(channels.trades("BTC_USDT")):
                                await trio.sleep_forever()
                        await trio.sleep_forever()
                    assert client.statistics().messages_received >= 0
            except gatetrio.GateTrioError as exc:
                out.append(exc)
            servers.cancel_scope.cancel()
    return out


@settings(max_examples=60, deadline=None)
@given(
    script=scripts,
    duration=st.floats(0.0, 40.0),
    subscribe=st.booleans(),
    schedule=st.integers(0, 2**32),
)
@example(  # a burst of upgrade notices, each on every new connection at once
    script=Script(steps=(Step(0.0, "upgrade", 40), Step(0.0, "upgrade", 40))),
    duration=30.0,
    subscribe=True,
    schedule=0,
)
@example(  # one message in thousands of tiny fragments, then more of them
    script=Script(steps=(Step(0.0, "fragments", 3000), Step(0.0, "fragments", 2000))),
    duration=30.0,
    subscribe=True,
    schedule=0,
)
@example(  # the server closes just as the handover's new socket resubscribes
    script=Script(steps=(Step(0.0, "upgrade", 2), Step(0.01, "close", 1001)), ack_delay=0.01),
    duration=20.0,
    subscribe=True,
    schedule=0,
)
@example(  # the old socket ends in the step that accepts its successor (issue 17.3's race:
    # the successor's handover closed a connection whose nursery had just finished)
    script=Script(steps=(Step(1.0, "eof_on_next"), Step(0.0, "upgrade"))),
    duration=5.0,
    subscribe=False,
    schedule=49,
)
@example(  # pongs late past the deadline while upgrades arrive
    script=Script(steps=(Step(5.0, "upgrade", 3), Step(3.0, "eof")), pong_delay=4.0),
    duration=40.0,
    subscribe=False,
    schedule=0,
)
def test_any_server_timing_ends_in_operation_or_a_gatetrio_error(
    script: Script, duration: float, subscribe: bool, schedule: int
) -> None:
    server = TimedServer(script)
    _choose_schedule(schedule)

    async def main() -> list[object]:
        return await _run_client(server, duration, subscribe=subscribe)

    out = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert all(isinstance(exc, gatetrio.GateTrioError) for exc in out)


async def test_a_burst_of_upgrades_hands_over_without_losing_the_subscription(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # every connection: a trade every 0.25 s, and a burst of 40 notices 1.1 s in
    quarter = Step(0.25, "trade")
    burst = Step(0.1, "upgrade", 40)
    server = TimedServer(Script(steps=(quarter, quarter, quarter, quarter, burst, quarter)))
    kinds: list[ClientEventKind] = []
    with trio.fail_after(60.0):
        async with trio.open_nursery() as servers:
            async with gatetrio.open_client(
                connector=server.connector(servers), config=_config()
            ) as client:
                async with (
                    client.events() as events,
                    client.subscribe(channels.trades("BTC_USDT")) as trades,
                ):
                    trade = await trades.receive()
                    assert trade.contract == "BTC_USDT"
                    await trio.sleep(5.0)
                    kinds.extend(e.kind for e in events.receive_batch_nowait())
                    assert trades.statistics().messages_received > 1
                stats = client.statistics()
            servers.cancel_scope.cancel()
    # One handover per burst, not one per notice: each new socket gets its own burst 1.1 s
    # after it connects, and the move it asks for waits the backoff's 0.5, 1, 2 s (a socket
    # younger than a heartbeat asking to move is paced like a loss), so by 5.25 s there were
    # sockets at 0, 1.6 and 3.7 s; the third's move is due at 6.8 s.
    assert trio.current_time() == 5.25
    assert stats.connects == server.served == 3
    assert (stats.upgrades, stats.upgrades_paced) == (3, 3)
    assert stats.reconnects == 0
    assert kinds.count(ClientEventKind.HANDED_OVER) == 2


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(script=scripts, duration=st.floats(0.0, 1.0))
def test_loopback_timings_end_in_operation_or_a_gatetrio_error(
    script: Script, duration: float
) -> None:
    """The same over real TCP on loopback, on trio's real clock with deadlines of tens of
    milliseconds (this is how the race was first seen: from outside, on loopback)."""
    quick = Script(
        steps=tuple(Step(min(s.delay, 0.05), s.action, s.n) for s in script.steps),
        ack_delay=script.ack_delay,
        pong_delay=script.pong_delay,
        refuse=script.refuse,
    )
    server = TimedServer(quick)

    async def main() -> list[object]:
        return await _run_client(server, duration, subscribe=True, loopback=True)

    out = trio.run(main)
    assert all(isinstance(exc, gatetrio.GateTrioError) for exc in out)


async def test_a_pool_used_after_its_block_says_so(autojump_clock: trio.testing.MockClock) -> None:
    """A pool's nursery takes no new shard once its block ended: a typed error, not trio's."""
    from gatetrio.testing import FakeGateServer

    gate = FakeGateServer(seed=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(gate.run)
        async with (
            gatetrio.open_pool(
                connector=gate.connector, wall_clock=gate.wall_time, streams_per_connection=1
            ) as pool,
            pool.subscribe(channels.trades("BTC_USDT")) as trades,
        ):
            await trades.receive()
        with pytest.raises(gatetrio.UsageError, match="pool is closed"):
            async with pool.subscribe(channels.trades("ETH_USDT")):
                pytest.fail("subscribed on a closed pool")  # pragma: no cover
        nursery.cancel_scope.cancel()
