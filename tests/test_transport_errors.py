"""_shell/_transport/_errors: one table turns every foreign transport error into ConnectionLost."""

from __future__ import annotations

import contextlib
import socket
import ssl

import pytest
import trio
import trio_websocket
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from gatetrio._core._errors import ConnectionLost, UsageError
from gatetrio._shell._transport import (
    TRANSPORT_ERRORS,
    WebSocketLike,
    connection_lost,
    is_transport_error,
    make_connector,
    map_transport_errors,
    open_connection,
)
from gatetrio.testing import TrioWebSocket, trio_websocket_connector


def _with_cause(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (trio_websocket.ConnectionRejected(429, (), b""), "handshake: HTTP 429"),
        (
            socket.gaierror(-2, "Name or service not known"),
            "connect: name resolution failed for fx-ws.gateio.ws",
        ),
        (
            ConnectionRefusedError(111, "Connection refused"),
            "connect: [Errno 111] Connection refused",
        ),
        (
            _with_cause(
                OSError("all attempts to connect to h:1 failed"),
                ExceptionGroup("x", [ConnectionRefusedError(111, "Connection refused")]),
            ),
            "connect: all attempts to connect to h:1 failed ([Errno 111] Connection refused)",
        ),
        (trio.TooSlowError(), "connect: timed out"),
        (_with_cause(trio.BrokenResourceError(), ssl.SSLError(1, "bad record")), "connect: TLS: "),
        (trio.BrokenResourceError(), "connect: connection broken"),
        (trio.ClosedResourceError(), "connect: the connection is already closed"),
        (LocalProtocolError("x"), "connect: WebSocket protocol error: LocalProtocolError: x"),
        (RemoteProtocolError("y", event_hint=None), "connect: WebSocket protocol error"),
        (trio_websocket.ConnectionClosed(None), "connect: connection closed"),
    ],
)
def test_each_row_names_the_cause(exc: Exception, reason: str) -> None:
    assert is_transport_error(exc)
    # the libraries imported only when used (the fake's adapter, the handshake) are rows of
    # the table, not of the tuple the own transport catches after the handshake
    assert isinstance(exc, TRANSPORT_ERRORS) == (
        type(exc).__module__.split(".")[0] not in {"trio_websocket", "wsproto"}
    )
    with (
        pytest.raises(ConnectionLost) as info,
        map_transport_errors("connect", host="fx-ws.gateio.ws"),
    ):
        raise exc
    assert info.value.reason.startswith(reason), info.value.reason
    assert info.value.__cause__ is exc
    assert connection_lost("connect", exc, host="fx-ws.gateio.ws").reason == info.value.reason


def test_other_errors_pass_through() -> None:
    with pytest.raises(ValueError, match="mine"), map_transport_errors("send"):
        raise ValueError("mine")


def test_make_connector_checks_its_ssl_context() -> None:
    with pytest.raises(UsageError, match=r"ssl\.SSLContext"):
        make_connector(ssl_context="yes")  # type: ignore[arg-type]
    assert callable(make_connector(ssl_context=ssl.create_default_context()))


async def test_make_connector_uses_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    context = ssl.create_default_context()
    used: list[object] = []

    async def dial(host: str, port: int, *, ssl_context: object, https_compatible: bool) -> None:
        used.append((host, port, ssl_context))
        raise OSError("stop here")

    monkeypatch.setattr(trio, "open_ssl_over_tcp_stream", dial)
    async with trio.open_nursery() as nursery:
        with pytest.raises(ConnectionLost, match="connect: stop here"):
            await make_connector(ssl_context=context)(nursery, "wss://example.invalid/ws", [])
    assert used == [("example.invalid", 443, context)]


async def test_trio_websocket_adapter_is_a_full_websocketlike() -> None:
    both_sent = trio.Event()

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        server_ws = await request.accept()
        await server_ws.send_message("one")
        await server_ws.send_message("two")
        both_sent.set()
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            await server_ws.get_message()
        await server_ws.aclose(1011, "bye")

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        url = f"ws://127.0.0.1:{server.port}/v4/ws/usdt"
        with trio.fail_after(10):
            ws: WebSocketLike = await trio_websocket_connector(nursery, url, [])
            assert isinstance(ws, TrioWebSocket)
            assert ws.endpoint == url
            assert await ws.get_message() == "one"
            # The pong to a ping sent after "two" comes behind it on the same stream, and the
            # reader queues frames in order: once the pong is in, so is "two".
            await both_sent.wait()
            await ws.ws.ping()
            assert ws.receive_nowait() == "two"
            await ws.send_message("close please")
            with pytest.raises(ConnectionLost, match="receive: connection closed: 1011"):
                await ws.get_message()
            with pytest.raises(trio.WouldBlock):
                ws.receive_nowait()
            with pytest.raises(ConnectionLost, match="send"):
                await ws.send_message("late")
            await ws.abort()
        nursery.cancel_scope.cancel()


async def test_trio_websocket_refusal_is_connection_lost() -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        await request.reject(429)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        url = f"ws://127.0.0.1:{server.port}/"
        # trio-websocket raises a refusal in its reader task: open_connection hosts that task
        with trio.fail_after(10), pytest.raises(ConnectionLost, match=r"^handshake: HTTP 429$"):
            await open_connection(nursery, trio_websocket_connector, url, [])
        nursery.cancel_scope.cancel()
