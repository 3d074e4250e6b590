"""Servers whose actions and timings Hypothesis draws: the client ends normally or typed.

Each example is up to three scripted connections (tests/strategies.py `hostile_scripts`: a
handshake, maybe the subscribe answered or refused, then moves drawn from every class of
hostile thing a server can put on the wire, with sleeps drawn around the client's deadlines),
then the well-behaved `serve_trades`. The contract under test, whatever the script:

- `open_client` ends normally or with a `GateTrioError` (anything else fails where raised);
- in bounded virtual time, and every socket is closed soon after the block;
- what happened is counted where the user sees it: the client's events agree with its
  statistics;
- once the scripted connections are spent, the client is back to normal: the well-behaved
  connection's MARK_ID trade reaches the subscriber.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings

from gatetrio import ClientEventKind

from . import strategies
from .hostile_run import drive, loopback_config

UNTIL = 400.0  # virtual seconds the body runs at most: longer than any drawn script takes
LOOPBACK_UNTIL = 3.0  # real seconds, the same over TCP with short sleeps and deadlines


async def _run(scripts: list[Any], *, loopback: bool = False) -> None:
    until = LOOPBACK_UNTIL if loopback else UNTIL
    config = loopback_config() if loopback else None
    outcome = await drive(scripts, until=until, limit=until + 60, loopback=loopback, config=config)
    stats = outcome.stats
    assert outcome.ended_at <= until + 10
    assert outcome.all_closed, [c for c in outcome.connections if not c.ended]
    if outcome.error is None:
        assert stats is not None
        reached_then = len(outcome.connections) > len(scripts)
        if reached_then and not loopback:  # (on loopback `until` may come first)
            assert outcome.marked, "back on a good connection, but no data came through"
        connected = len(outcome.kinds(ClientEventKind.CONNECTED))
        assert connected <= stats.connects  # (events open once the first connection is up)
        assert len(outcome.kinds(ClientEventKind.MALFORMED_FRAME)) <= stats.malformed_frames
        assert stats.connects <= len(outcome.connections)


def _trio_run(scripts: list[Any]) -> None:
    trio.run(_run, scripts, clock=trio.testing.MockClock(autojump_threshold=0))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scripts=strategies.hostile_scripts)
def test_any_server_ends_in_normal_operation_or_a_typed_error(scripts: list[Any]) -> None:
    _trio_run(scripts)


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scripts=strategies.hostile_scripts)
def test_any_server_many_examples(scripts: list[Any]) -> None:
    _trio_run(scripts)


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scripts=strategies.loopback_hostile_scripts)
def test_any_server_over_loopback(scripts: list[Any]) -> None:
    """The same contract over TCP with the default connector, on trio's real clock: timings
    the scheduler and the kernel choose, not the virtual clock."""
    trio.run(functools.partial(_run, scripts, loopback=True))
