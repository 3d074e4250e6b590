"""Helpers shared by the client tests (run under autojump_clock against the fake exchange)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

import trio

import gatetrio
from gatetrio.testing import FakeGateServer


def client_config(**overrides: object) -> gatetrio.ClientConfig:
    """A config with short, exact timings: ping every 5 s, pong within 3 s, no jitter."""
    base: dict[str, object] = {
        "ping_interval": 5.0,
        "pong_timeout": 3.0,
        "silence_timeout": 30.0,
        "backoff_initial": 0.5,
        "backoff_max": 8.0,
        "backoff_jitter": 0.0,
        "rng": random.Random(0),
    }
    base.update(overrides)
    return gatetrio.ClientConfig(**base)  # type: ignore[arg-type]


async def wait_for(condition: Callable[[], bool], *, limit: float = 120.0) -> None:
    """Poll `condition` on the (virtual) clock; fail the test after `limit` seconds."""
    with trio.fail_after(limit):
        while not condition():
            await trio.sleep(0.05)


async def collect_events(
    client: gatetrio.Client,
    into: list[gatetrio.ClientEvent],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Append every client event to `into` until cancelled (start with `nursery.start`)."""
    async with client.events() as events:
        task_status.started()
        async for event in events:
            into.append(event)  # noqa: PERF401 - `into` must grow while the test runs


def open_against(
    gate: FakeGateServer,
    *,
    credentials: gatetrio.Credentials | None = None,
    **overrides: object,
) -> contextlib.AbstractAsyncContextManager[gatetrio.Client]:
    """`open_client` connected to the in-memory fake (socket and REST), on the fake's wall
    clock."""
    return gatetrio.open_client(
        connector=gate.connector,
        rest_transport=gate.rest_transport,
        config=client_config(**overrides),
        wall_clock=gate.wall_time,
        credentials=credentials,
    )
