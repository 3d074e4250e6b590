"""Every counter `Client.statistics()` shows has one home, and the records are assembled from
those homes (`assemble_statistics`) and merged for a pool (`merge_statistics`) by field name."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import channels
from gatetrio._core._backoff import PacerStatistics
from gatetrio._core._protocol import GateProtocol, ProtocolStatistics
from gatetrio._shell._client_events import (
    MERGE,
    RENAMED,
    STATISTICS_FIELDS,
    assemble_statistics,
    merge_statistics,
)
from gatetrio._shell._rest import RestStatistics
from gatetrio._shell._runtime import FeedStatistics, LinkStatistics
from gatetrio.testing import FakeGateServer

from .helpers import open_against

if TYPE_CHECKING:
    from attrs import AttrsInstance

PARTS: tuple[type[AttrsInstance], ...] = (
    ProtocolStatistics,
    PacerStatistics,
    FeedStatistics,
    LinkStatistics,
)


def _public_names(part: type[AttrsInstance]) -> set[str]:
    names = {f.name for f in attrs.fields(part)}
    return {RENAMED.get(name, name) for name in names}


WHOLE = {"rest": "RestStatistics"}  # fields that are a home's statistics record as a whole


def test_every_public_counter_has_exactly_one_home() -> None:
    for name in STATISTICS_FIELDS:
        homes = [part.__name__ for part in PARTS if name in _public_names(part)]
        if name in WHOLE:
            homes.append(WHOLE[name])
        assert len(homes) == 1, f"{name} is counted in {homes or 'no part'}"


def test_renames_and_merge_rules_name_real_fields() -> None:
    protocol_names = {f.name for f in attrs.fields(ProtocolStatistics)}
    assert set(RENAMED) <= protocol_names
    assert set(RENAMED.values()) <= set(STATISTICS_FIELDS)
    assert set(MERGE) <= set(STATISTICS_FIELDS)


def test_the_shells_own_failure_counts_as_one_malformed_frame_in_the_core() -> None:
    proto = GateProtocol(ping_interval=5.0, pong_timeout=3.0)
    report = proto.frame_failed("{}", KeyError("x"))
    assert proto.statistics().malformed == 1
    assert "frame broke the client: KeyError('x')" in str(report.error)
    assert report.error.raw == "{}"


def _stats(**values: Any) -> gatetrio.ClientStatistics:
    parts = (
        ProtocolStatistics(
            connected=True,
            frames_received=10,
            malformed=1,
            unrouted=2,
            unmatched_replies=0,
            unknown_events=0,
            protocol_violations=0,
            messages_by_channel={"futures.trades": 7},
            pings_sent=1,
            pongs_received=1,
            last_rtt=0.5,
            pending_api_requests=0,
            api_requests_lost=0,
            subscriptions=1,
            ready_subscriptions=1,
            connects=1,
        ),
        PacerStatistics(connect_failures=0, reconnects=0),
        FeedStatistics(messages_dropped=3, peak_buffer_used=4, open_subscriptions=1),
        LinkStatistics(url="ws://a"),
    )
    return attrs.evolve(assemble_statistics(*parts, rest=RestStatistics()), **values)


def test_merge_sums_counters_and_applies_the_rules() -> None:
    one = _stats()
    two = _stats(
        connected=False,
        url="ws://b",
        peak_buffer_used=9,
        last_pong_rtt=None,
        messages_by_channel={"futures.trades": 1, "futures.obu": 2},
        last_latency_ms=12.0,
    )
    merged = merge_statistics([one, two])
    assert merged.messages_received == 20
    assert merged.malformed_frames == 2
    assert merged.messages_dropped == 6
    assert merged.connects == 2
    assert merged.connected is False
    assert merged.url == "ws://a"
    assert merged.peak_buffer_used == 9
    assert merged.last_pong_rtt == 0.5
    assert merged.last_latency_ms == 12.0
    assert merged.messages_by_channel == {"futures.trades": 8, "futures.obu": 2}
    empty = merge_statistics([])
    assert (empty.connected, empty.url, empty.peak_buffer_used, empty.last_pong_rtt) == (
        False,
        "",
        0,
        None,
    )


@pytest.fixture
async def gate(nursery: trio.Nursery) -> FakeGateServer:
    server = FakeGateServer(seed=3)
    await nursery.start(server.run)
    return server


async def test_client_statistics_come_from_their_homes(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_against(gate, rng=random.Random(1)) as client:
        async with client.subscribe(channels.trades("BTC_USDT"), buffer=1) as trades:
            await trio.sleep(3.0)  # trades arrive; the one-item buffer drops the older ones
            live = client.statistics()
            assert live.open_subscriptions == 1
            assert live.messages_dropped > 0
            await trades.receive()
        gate.send_malformed()
        gate.send_upgrade()
        await trio.sleep(10.0)
        stats = client.statistics()
        protocol = client._protocol.statistics()
        assert stats.open_subscriptions == 0
        assert stats.messages_dropped >= live.messages_dropped  # the closed one's drops stay
        assert stats.peak_buffer_used == 1
        assert stats.malformed_frames == protocol.malformed == 1
        assert stats.upgrades == protocol.upgrades == 1
        assert stats.connects == protocol.connects == 2  # the handover's new socket
        assert stats.reconnects == 0  # a handover is no reconnect
        assert stats.messages_received == protocol.frames_received
        assert stats.connected
        assert stats.url == client._rt.links.current().endpoint  # type: ignore[union-attr]
