from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio
from hypothesis import HealthCheck, settings

from gatetrio._shell._transport import Connector, WebSocketLike, default_connector
from gatetrio.testing import FakeGateServer
from gatetrio.testing._loopback import serve_tcp

from .helpers import CREDS
from .programs import FakeGate

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("quick", max_examples=10, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real captured Gate frames beside the clone; tests using them skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present (it sits beside the clone in CI)")
    return SHARED_DATA


@pytest.fixture
async def gate(request: pytest.FixtureRequest, nursery: trio.Nursery) -> FakeGateServer:
    """The fake exchange, running for the test; clients reach it in memory (`gate.connector`).

    `@pytest.mark.fake(**keywords)` passes `FakeGateServer` keywords (default: seed 0, checking
    signatures with `helpers.CREDS`); a module sets them for all its tests with `pytestmark`.
    Parametrised indirectly, each parameter is a dict of keywords on top of those, e.g.
    ``@pytest.mark.parametrize("gate", [{"profile": "live"}, {"profile": "docs"}], indirect=True)``.
    """
    marker = request.node.get_closest_marker("fake")
    options = {
        "seed": 0,
        "credentials": CREDS,
        **(marker.kwargs if marker is not None else {}),
        **getattr(request, "param", {}),
    }
    server = FakeGateServer(**options)
    await nursery.start(server.run)
    return server


@pytest.fixture(params=["memory", "loopback"])
async def connector(
    request: pytest.FixtureRequest, gate: FakeGateServer, nursery: trio.Nursery
) -> Connector:
    """How a client reaches `gate`: in memory, and again over a real loopback socket with the
    client's default transport (any URL's path picks the market; its host is replaced). A test
    that takes it runs on both, so it cannot use autojump_clock: real sockets take real time.
    """
    if request.param == "memory":
        return gate.connector
    port: int = await nursery.start(serve_tcp, gate, "127.0.0.1", 0)

    async def loopback(
        nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike:
        target = urlsplit(url)._replace(scheme="ws", netloc=f"127.0.0.1:{port}").geturl()
        return await default_connector(nursery, target, headers)

    return loopback


@pytest.fixture(scope="module")
def fake_gate() -> Iterator[FakeGate]:
    """`gatetrio serve` in a subprocess on a free loopback port, shared by a module's programs
    (README blocks and examples declared `gate=fake`)."""
    gate = FakeGate()
    try:
        yield gate
    finally:
        gate.close()
