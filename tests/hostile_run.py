"""Drive a real client against a scripted hostile server and say how it ended (`Outcome`).

    outcome = await drive([script_1, script_2], then=serve_trades())
    outcome.error        None (the body ran to its end) or the GateTrioError open_client raised
    outcome.marked       the well-behaved `then` connection's MARK_ID trade reached the subscriber
    outcome.stats        the client's statistics at the end of the body (or the last seen)
    outcome.events       every ClientEvent the body saw (events() opens once connected)
    outcome.ended_at     seconds from the start to the end of open_client's block
    outcome.peak         tracemalloc's peak bytes over the run, with `measure=True`

The body subscribes to trades of BTC_USDT and reads until the MARK_ID trade arrives (with
`stop_at_mark=False`, on), for at most `until` seconds. Anything but a GateTrioError out of
`open_client` fails the test where it is raised: that is the contract under test. The run is
capped with `trio.fail_after(limit)` on trio's clock (virtual under autojump_clock), so a wait
without end fails the test instead of hanging it.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Sequence

import attrs
import trio

import gatetrio
from gatetrio import ClientEvent, ClientEventKind, ClientStatistics, channels
from gatetrio._core._config import CLOSE_GRACE
from gatetrio._shell._transport import MAX_MESSAGE_SIZE

from .scripted import (
    CONTRACT,
    MARK_ID,
    ConnectionRecord,
    Script,
    open_scripted_server,
    serve_trades,
)

LIMIT = 600.0  # seconds (virtual in memory) a run may take before it counts as hung


def hostile_config(**overrides: object) -> gatetrio.ClientConfig:
    """Short, exact timings (as tests/helpers.client_config) with short connect deadlines."""
    base: dict[str, object] = {
        "ping_interval": 5.0,
        "pong_timeout": 3.0,
        "silence_timeout": 30.0,
        "connect_deadline": 5.0,
        "subscribe_deadline": 5.0,
        "first_connect_timeout": 60.0,
        "send_deadline": 5.0,
        "min_reconnect_interval": 0.5,
        "backoff_initial": 0.5,
        "backoff_max": 2.0,
        "backoff_jitter": 0.0,
        "rng": random.Random(0),
    }
    base.update(overrides)
    return gatetrio.ClientConfig(**base)  # type: ignore[arg-type]


def loopback_config(**overrides: object) -> gatetrio.ClientConfig:
    """Real-clock timings for loopback runs: short enough that a case takes about a second,
    long enough that a loaded machine meets them (a late pong would be a reconnect the case
    did not script)."""
    base: dict[str, object] = {
        "ping_interval": 2.0,
        "pong_timeout": 3.0,
        "connect_deadline": 2.0,
        "subscribe_deadline": 3.0,
        "first_connect_timeout": 10.0,
        "send_deadline": 3.0,
        "min_reconnect_interval": 0.1,
        "backoff_initial": 0.1,
        "backoff_max": 0.2,
    }
    base.update(overrides)
    return hostile_config(**base)


@attrs.define
class Outcome:
    error: gatetrio.GateTrioError | None = None
    marked: bool = False
    stats: ClientStatistics | None = None
    events: list[ClientEvent] = attrs.field(factory=list)
    ended_at: float = 0.0
    peak: int = 0
    connections: list[ConnectionRecord] = attrs.field(factory=list)
    items: int = 0  # items the subscription delivered
    all_closed: bool = False  # every connection was over soon after open_client's block

    def kinds(self, kind: ClientEventKind) -> list[ClientEvent]:
        return [e for e in self.events if e.kind is kind]

    def reasons(self, kind: ClientEventKind = ClientEventKind.DISCONNECTED) -> str:
        """Every reason of events of `kind`, one per line (for `in` checks and messages)."""
        return "\n".join(e.reason for e in self.kinds(kind))


async def drive(
    scripts: Sequence[Script],
    *,
    then: Script | tuple[Script, ...] | None = None,
    config: gatetrio.ClientConfig | None = None,
    loopback: bool = False,
    until: float | None = None,
    stop_at_mark: bool = True,
    subscribe: bool = True,
    measure: bool = False,
    max_message_size: int = MAX_MESSAGE_SIZE,
    limit: float = LIMIT,
) -> Outcome:
    """Run the client against `scripts` (then `then`, by default `serve_trades()`)."""
    outcome = Outcome()
    if measure:
        tracemalloc.start()
        tracemalloc.reset_peak()
    started = trio.current_time()
    try:
        with trio.fail_after(limit):
            async with open_scripted_server(
                scripts,
                then=then or serve_trades(),
                loopback=loopback,
                max_message_size=max_message_size,
            ) as server:
                outcome.connections = server.connections
                opened = (
                    gatetrio.open_client(url=server.url, config=config or hostile_config())
                    if loopback
                    else gatetrio.open_client(
                        connector=server.connector, config=config or hostile_config()
                    )
                )
                try:
                    async with opened as client:
                        await _body(
                            client,
                            outcome,
                            until=until,
                            subscribe=subscribe,
                            stop_at_mark=stop_at_mark,
                        )
                except gatetrio.GateTrioError as exc:
                    outcome.error = exc
                outcome.ended_at = trio.current_time() - started
                # the client leaves nothing open: each socket ends within the close grace
                with trio.move_on_after(CLOSE_GRACE + 1):
                    await server.wait_until(lambda: all(c.ended for c in server.connections))
                outcome.all_closed = all(c.ended for c in server.connections)
    finally:
        if measure:
            outcome.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return outcome


async def _body(
    client: gatetrio.Client,
    outcome: Outcome,
    *,
    until: float | None,
    subscribe: bool,
    stop_at_mark: bool,
) -> None:
    async with client.events(buffer=4096) as events:
        try:
            with trio.move_on_after(until if until is not None else LIMIT * 2):
                if subscribe:
                    async with client.subscribe(channels.trades(CONTRACT)) as sub:
                        async for update in sub:
                            outcome.items += 1
                            if update.id == MARK_ID:
                                outcome.marked = True
                                if stop_at_mark:
                                    break
                else:
                    await trio.sleep_forever()
        finally:
            outcome.stats = client.statistics()
            while True:  # the events so far (the channel holds 4096; no task needed)
                try:
                    outcome.events.append(events.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
