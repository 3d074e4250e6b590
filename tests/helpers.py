"""Helpers shared by the client tests (run under autojump_clock against the fake exchange).

Waiting: a test waits on something that tells it (a client event, a subscription item, the
fake's own `wait_until`), never by polling a counter; every wait is bounded by `deadline`, so a
failure names what never came instead of reading "TooSlowError".
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Final, Generic, TypeVar

import pytest
import trio
from hypothesis import settings

import gatetrio
from gatetrio import ClientEvent, ClientEventKind, ObuDelta, ObuLevel
from gatetrio._shell._transport import Connector
from gatetrio.testing import FakeGateServer

T = TypeVar("T")


def capped_examples(n: int) -> int:
    """The loaded profile's example count, at most `n`: for a property whose examples are costly.

    CI (`CI` set: the `ci` profile, 1000 examples) runs the whole suite in under 15 minutes; a
    stateful machine of 40 steps a run at 1000 runs alone took minutes of it. The cap keeps the
    `dev` profile's count and gives CI a few times as many, not ten.
    """
    return min(settings().max_examples, n)


CREDS: Final = gatetrio.Credentials(
    key="k3y0f7e5t9a1b2c3d4e5f6a7b8c9d0e1",
    secret="s3cr37c0ffee5eed5a1ad5a1ad5a1ad5a1ad5a1ad5a1ad5a1ad5a1ad5a1ad5a",
    user_id="20011",
)
"""The account of the `gate` fixture's fake: it checks every signature with these. Key and
secret are ones no text holds by chance (nor a real account): a test that finds either in a
log, a repr or a file has found a leak."""

DOCS_KEY: Final = "KEY"
DOCS_SECRET: Final = "YOUR_API_SECRET"
DOCS_CREDS: Final = gatetrio.Credentials(key=DOCS_KEY, secret=DOCS_SECRET, user_id="20011")
"""The key and secret of Gate's documentation examples; the vectors below are signed with them."""
# Gate's docs, section 5: channel=futures.orders&event=subscribe&time=1700000000
SUBSCRIBE_VECTOR: Final = (
    "042cbe9818b2ab8225bb4dc787da425ff1e8f5d28f95db5227fa63a2d5da3186"
    "ecedb01f40303823c743b464f3bb26f9c499c74443c945186eaaf0a4bd393784"
)
# Gate's docs, section 8.2: futures.login, timestamp 1700000000
LOGIN_VECTOR: Final = (
    "f90fd80688ba5d226333f58061d6b0a3da54d976f37c875b3fccc87f274cd05a"
    "940637fbb0b421f84ded75f86a403073939182872d4dfeaf8982dd14bd042a0c"
)

DOCS_OBU_FULL: Final = ObuDelta(
    t=1743673026995,
    s="ob.BTC_USDT.400",
    u=79072179673,
    b=(ObuLevel("83705.9", "30166"),),
    a=(ObuLevel("83706", "4208"),),
    full=True,
)
"""The `result` of the full obu push in Gate's docs (section 6.6), as the decoder reads it."""

WAIT_LIMIT: Final = 120.0
"""Seconds on trio's clock (virtual under autojump_clock) any single wait in a test may take."""


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


@contextlib.contextmanager
def deadline(what: str, seconds: float = WAIT_LIMIT) -> Iterator[None]:
    """Fail the test, saying that `what` never happened, if the block outlasts `seconds`."""
    with trio.move_on_after(seconds) as scope:
        yield
    if scope.cancelled_caught:
        pytest.fail(f"{what}: not within {seconds:g} s", pytrace=False)


class Recording(Generic[T]):
    """Items a task appends as they come (`items`), and a way to wait until enough have."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._changed = trio.Event()

    def append(self, item: T) -> None:
        self.items.append(item)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(
        self, condition: Callable[[list[T]], bool], what: str, within: float = WAIT_LIMIT
    ) -> None:
        """Return once `condition(items)` holds; fail the test naming `what` after `within` s."""
        with deadline(what, within):
            while not condition(self.items):
                await self._changed.wait()


class EventLog(Recording[ClientEvent]):
    """Every client event in order, as `record_events` collects them, and a way to wait for one.

    `items` is the plain list a test asserts on after the fact; `wait` returns once an event of
    a kind is in it (the log, not a second reader, so what `wait` saw is in `items` too).
    """

    async def record(self, client: gatetrio.Client, *, task_status: trio.TaskStatus[None]) -> None:
        """Append `client`'s events until they end with the client (start with
        `nursery.start`; `record_events` does it for a block)."""
        async with client.events() as events:
            task_status.started()
            async for event in events:
                self.append(event)

    def kinds(self) -> list[ClientEventKind]:
        return [event.kind for event in self.items]

    def of(self, kind: ClientEventKind, channel: str | None = None) -> list[ClientEvent]:
        """The events of `kind` so far (about `channel`, if given)."""
        return [
            e for e in self.items if e.kind is kind and (channel is None or e.channel == channel)
        ]

    async def wait(
        self,
        kind: ClientEventKind,
        *,
        channel: str | None = None,
        count: int = 1,
        within: float = WAIT_LIMIT,
    ) -> ClientEvent:
        """The `count`-th event of `kind` (about `channel`) since the log began, waiting for it.

        Fails the test naming the event if it has not come within `within` seconds.
        """
        about = f" for {channel}" if channel is not None else ""
        await self.wait_until(
            lambda _: len(self.of(kind, channel)) >= count,
            f"client event {kind.name}{about} #{count}",
            within,
        )
        return self.of(kind, channel)[count - 1]


@contextlib.asynccontextmanager
async def record_events(client: gatetrio.Client) -> AsyncIterator[EventLog]:
    """Log `client`'s events for the block (from before it is entered: nothing is missed)."""
    log = EventLog()
    async with trio.open_nursery() as nursery:
        await nursery.start(log.record, client)
        yield log
        nursery.cancel_scope.cancel()


async def fresh_items(sub: gatetrio.Subscription[T], n: int = 2) -> None:
    """Assert that `sub` keeps streaming: `n` items arrive after what was buffered is drained."""
    while True:  # drain, so the buffer never hides a stalled stream
        try:
            sub.receive_nowait()
        except trio.WouldBlock:
            break
    with deadline(f"{n} new items on {sub.statistics().channel}"):
        for _ in range(n):
            await sub.receive()


def open_against(
    gate: FakeGateServer,
    *,
    credentials: gatetrio.Credentials | None = None,
    connector: Connector | None = None,
    **overrides: object,
) -> contextlib.AbstractAsyncContextManager[gatetrio.Client]:
    """`open_client` connected to the fake (socket in memory unless `connector` says otherwise;
    REST in memory), on the fake's wall clock."""
    return gatetrio.open_client(
        connector=gate.connector if connector is None else connector,
        rest_transport=gate.rest_transport,
        config=client_config(**overrides),
        wall_clock=gate.wall_time,
        credentials=credentials,
    )
