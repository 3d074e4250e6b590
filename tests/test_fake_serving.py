"""The one WebSocket-serving path both fake servers share (`testing/_connection.py`).

`FakeGateServer` and `ReplayServer` hand each stream to `serve_websocket` and reach a live
connection only through its verbs; these tests hold both servers to the same handshake, in
memory and on a real loopback port (no autojump clock there: real sockets take real time).
"""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
import trio_websocket

import gatetrio
from gatetrio.testing import FakeGateServer, ReplayServer
from gatetrio.testing._loopback import serve_tcp

Server = FakeGateServer | ReplayServer
USDT = "wss://fx-ws.gateio.ws/v4/ws/usdt"
UPGRADE = (
    b"GET /v4/ws/eur HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.fixture(params=["fake", "replay"])
async def server(request: pytest.FixtureRequest, nursery: trio.Nursery) -> Server:
    """Each server, running: the live fake, and a replay of an empty recording."""
    server: Server = FakeGateServer(seed=0) if request.param == "fake" else ReplayServer([])
    await nursery.start(server.run)
    return server


async def test_both_servers_answer_an_unknown_path_with_the_same_404(
    server: Server, nursery: trio.Nursery
) -> None:
    port: int = await nursery.start(serve_tcp, server, "127.0.0.1", 0)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    response = b""
    with trio.fail_after(10):
        async with stream:
            await stream.send_all(UPGRADE)
            while chunk := await stream.receive_some():  # the server closes after it
                response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ")
    assert json.loads(body) == {"label": "NOT_FOUND", "message": "unknown path"}


async def test_both_servers_refuse_an_unknown_path_in_memory(
    server: Server, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(gatetrio.ConnectionLost, match="404"):
        await server.connector(nursery, "wss://fx-ws.gateio.ws/v4/ws/eur", [])
    assert server.connections == []


async def test_both_servers_serve_a_connection_through_its_verbs(
    server: Server, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await server.connector(nursery, USDT, [("X-Gate-Size-Decimal", "1")])
    await ws.send_message(json.dumps({"time": 1, "channel": "futures.ping"}))
    pong = json.loads(await ws.get_message())
    (conn,) = server.connections
    assert pong["channel"] == "futures.pong"
    assert pong["conn_id"] == conn.conn_id
    assert (conn.path, conn.market_key, conn.size_decimal) == ("/v4/ws/usdt", (False, "usdt"), True)
    assert (conn.frames_received, conn.frames_sent) == (1, 1)
    server.drop()
    with pytest.raises(gatetrio.ConnectionLost):
        await ws.get_message()
    await trio.testing.wait_all_tasks_blocked()
    assert server.connections == []
    assert conn.closed
    assert conn.close_reason == "dropped"


async def test_a_connection_is_read_only_to_its_readers(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    await gate.connector(nursery, USDT, [])
    (conn,) = gate.connections
    for name, value in [
        ("closed", True),
        ("close_reason", "x"),
        ("frames_sent", 9),
        ("frames_received", 9),
        ("stalled", True),
    ]:
        with pytest.raises(AttributeError):
            setattr(conn, name, value)
    assert not conn.closed


async def test_stopping_the_fake_ends_its_loopback_connections_too() -> None:
    # A loopback connection runs in the listener's task, not in `run`'s nursery: stopping
    # `run` must still end it (as its docstring says), not leave a socket that answers nothing.
    server = FakeGateServer(seed=0)
    async with trio.open_nursery() as outer:
        port: int = await outer.start(serve_tcp, server, "127.0.0.1", 0)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            async with trio.open_nursery() as fake:
                await fake.start(server.run)
                ws = await trio_websocket.wrap_client_stream(
                    outer, stream, f"127.0.0.1:{port}", "/v4/ws/usdt"
                )
                with trio.fail_after(10):
                    await ws.send_message(json.dumps({"time": 1, "channel": "futures.ping"}))
                    assert json.loads(await ws.get_message())["channel"] == "futures.pong"
                (conn,) = server.connections
                fake.cancel_scope.cancel()
            assert conn.closed
            with trio.fail_after(10), pytest.raises(trio_websocket.ConnectionClosed):
                await ws.get_message()
        finally:
            await trio.aclose_forcefully(stream)  # the client's own socket
        outer.cancel_scope.cancel()
