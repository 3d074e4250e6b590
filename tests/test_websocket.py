"""gatetrio's own WebSocket client transport (`_websocket.py`) and the default connector.

The server end is either trio-websocket's server (a real peer, for the normal flows) or wsproto
driven by hand (`RawServer`: exact frames, fragments, garbage, EOF), over the fake's in-memory
sockets; `default_connector` is also run over TCP loopback. Virtual times under
`autojump_clock` are exact.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
from typing import TYPE_CHECKING, Final

import attrs
import pytest
import trio
import trio.testing
import trio_websocket
import wsproto
from hypothesis import given
from hypothesis import strategies as st
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from gatetrio import ConnectionLost, channels, open_client
from gatetrio._shell._transport import default_connector
from gatetrio._shell._transport._wsproto import WebSocket, connect_websocket
from gatetrio.testing import PROFILES, FakeGateServer, memory_socket_pair

if TYPE_CHECKING:
    from collections.abc import Sequence

HOST = "fx-ws.gateio.ws"
RESOURCE = "/v4/ws/usdt?x=1"
HEADERS = [("X-Gate-Size-Decimal", "1")]


class RawServer:
    """The server end of a WebSocket, driven by hand with wsproto."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        self.request: Request | None = None

    async def accept(self) -> None:
        while self.request is None:
            self.ws.receive_data(bytes(await self.stream.receive_some()))
            for event in self.ws.events():
                assert isinstance(event, Request)
                self.request = event
        await self.stream.send_all(self.ws.send(AcceptConnection()))

    async def send(self, *events: Event) -> None:
        """Send `events` in one write, so the client reads them in one chunk."""
        await self.stream.send_all(b"".join(self.ws.send(e) for e in events))

    async def next_event(self) -> Event | None:
        """The next event from the client, or None at EOF."""
        while True:
            for event in self.ws.events():
                return event
            data = await self.stream.receive_some()
            if not data:
                return None
            self.ws.receive_data(bytes(data))


async def connect_raw(*, max_message_size: int = 1 << 20) -> tuple[WebSocket, RawServer]:
    client_stream, server_stream = memory_socket_pair()
    server = RawServer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.accept)
        ws = await connect_websocket(
            client_stream,
            host=HOST,
            resource=RESOURCE,
            headers=HEADERS,
            max_message_size=max_message_size,
        )
    return ws, server


async def connect_trio_websocket(
    nursery: trio.Nursery,
) -> tuple[WebSocket, trio_websocket.WebSocketConnection]:
    """Our client against trio-websocket's server (its reader task runs in `nursery`)."""
    client_stream, server_stream = memory_socket_pair()
    accepted: list[trio_websocket.WebSocketConnection] = []

    async def serve() -> None:
        request = await trio_websocket.wrap_server_stream(nursery, server_stream)
        accepted.append(await request.accept())

    nursery.start_soon(serve)
    ws = await connect_websocket(client_stream, host=HOST, resource=RESOURCE, headers=HEADERS)
    await trio.testing.wait_all_tasks_blocked()
    return ws, accepted[0]


async def read_all(ws: WebSocket) -> tuple[list[str | bytes], ConnectionLost]:
    """Every message until get_message raises ConnectionLost, and that exception."""
    got: list[str | bytes] = []
    while True:
        try:
            got.append(await ws.get_message())
        except ConnectionLost as exc:
            return got, exc


# ------------------------------------------------------------------------------ handshake


async def test_handshake_sends_host_target_and_headers_without_extensions() -> None:
    ws, server = await connect_raw()
    request = server.request
    assert request is not None
    assert (request.host, request.target) == (HOST, RESOURCE)
    headers = {k.lower(): v for k, v in request.extra_headers}
    assert headers[b"x-gate-size-decimal"] == b"1"
    assert request.extensions == []  # no permessage-deflate (spec 1.1)
    assert b"sec-websocket-extensions" not in headers
    assert ws.close_reason is None


async def test_handshake_against_trio_websocket_server(nursery: trio.Nursery) -> None:
    ws, server = await connect_trio_websocket(nursery)
    assert server.path == RESOURCE
    await ws.send_message("hello")
    assert await server.get_message() == "hello"
    await server.send_message("world")
    assert await ws.get_message() == "world"


@pytest.mark.parametrize(("status", "body"), [(503, b"Service Unavailable"), (404, b"")])
async def test_rejected_handshake_is_connection_lost_with_the_status(
    nursery: trio.Nursery, status: int, body: bytes
) -> None:
    client_stream, server_stream = memory_socket_pair()

    async def serve() -> None:
        request = await trio_websocket.wrap_server_stream(nursery, server_stream)
        await request.reject(status, body=body or None)

    nursery.start_soon(serve)
    with pytest.raises(ConnectionLost, match=f"^handshake: HTTP {status}$"):
        await connect_websocket(client_stream, host=HOST, resource=RESOURCE)
    with pytest.raises(trio.ClosedResourceError):  # we closed our end
        await client_stream.send_all(b"x")


async def test_eof_during_the_handshake_is_connection_lost() -> None:
    client_stream, server_stream = memory_socket_pair()

    async def hang_up() -> None:
        await server_stream.receive_some()
        await server_stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up)
        with pytest.raises(ConnectionLost, match="connect"):
            await connect_websocket(client_stream, host=HOST, resource=RESOURCE)


async def test_garbage_handshake_response_is_connection_lost() -> None:
    client_stream, server_stream = memory_socket_pair()

    async def answer_garbage() -> None:
        await server_stream.receive_some()
        await server_stream.send_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer_garbage)
        with pytest.raises(ConnectionLost, match="connect"):
            await connect_websocket(client_stream, host=HOST, resource=RESOURCE)


async def test_cancelled_handshake_closes_the_stream(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = memory_socket_pair()
    with trio.move_on_after(5):
        await connect_websocket(client_stream, host=HOST, resource=RESOURCE)
    assert trio.current_time() == 5
    assert (await server_stream.receive_some()).startswith(b"GET /v4/ws/usdt?x=1 HTTP/1.1")
    assert await server_stream.receive_some() == b""  # EOF: nothing left open


async def test_frames_right_behind_the_handshake_response_are_kept() -> None:
    client_stream, server_stream = memory_socket_pair()
    server = RawServer(server_stream)

    async def accept_and_talk() -> None:
        while server.request is None:
            server.ws.receive_data(bytes(await server_stream.receive_some()))
            for event in server.ws.events():
                assert isinstance(event, Request)
                server.request = event
        accept = server.ws.send(AcceptConnection())
        await server_stream.send_all(accept + server.ws.send(TextMessage(data="first")))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_and_talk)
        ws = await connect_websocket(client_stream, host=HOST, resource=RESOURCE)
    assert await ws.get_message() == "first"


# -------------------------------------------------------------------------------- messages


async def test_text_and_binary_messages_both_ways(nursery: trio.Nursery) -> None:
    ws, server = await connect_trio_websocket(nursery)
    messages: list[str | bytes] = ["text é€😀", b"\x00\xffbinary", "", b""]
    for message in messages:
        await server.send_message(message)
        assert await ws.get_message() == message
        await ws.send_message(message)
        assert await server.get_message() == message


async def test_fragmented_messages_are_assembled() -> None:
    ws, server = await connect_raw()
    await server.send(
        TextMessage(data="hel", message_finished=False),
        TextMessage(data="lo €", message_finished=True),
        BytesMessage(data=b"\x00\x01", message_finished=False),
        BytesMessage(data=b"", message_finished=False),
        BytesMessage(data=b"\x02", message_finished=True),
        TextMessage(data="after"),
    )
    assert [await ws.get_message() for _ in range(3)] == ["hello €", b"\x00\x01\x02", "after"]


async def test_frames_split_across_reads_byte_by_byte() -> None:
    ws, server = await connect_raw()
    text = "split é€😀 " * 30  # > 125 bytes: a 16-bit length; multi-byte characters cut apart
    data = server.ws.send(TextMessage(data=text)) + server.ws.send(BytesMessage(data=b"b" * 3))

    async def dribble() -> None:
        for i in range(len(data)):
            await server.stream.send_all(data[i : i + 1])
            await trio.testing.wait_all_tasks_blocked()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(dribble)
        assert await ws.get_message() == text
        assert await ws.get_message() == b"bbb"


async def test_receive_nowait_drains_only_parsed_messages() -> None:
    ws, server = await connect_raw()
    with pytest.raises(trio.WouldBlock):
        ws.receive_nowait()
    await server.send(*(TextMessage(data=f"m{i}") for i in range(3)))
    with pytest.raises(trio.WouldBlock):  # sent, but not read: receive_nowait never reads
        ws.receive_nowait()
    assert await ws.get_message() == "m0"  # one read takes in the whole chunk
    assert [ws.receive_nowait(), ws.receive_nowait()] == ["m1", "m2"]
    await server.send(TextMessage(data="m3"))
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(trio.WouldBlock):
        ws.receive_nowait()
    assert await ws.get_message() == "m3"


async def test_get_message_is_a_checkpoint_even_when_a_message_is_ready() -> None:
    ws, server = await connect_raw()
    await server.send(TextMessage(data="a"), TextMessage(data="b"))
    assert await ws.get_message() == "a"
    with trio.testing.assert_checkpoints():
        assert await ws.get_message() == "b"


async def test_concurrent_get_message_is_a_usage_error(nursery: trio.Nursery) -> None:
    ws, _server = await connect_raw()
    nursery.start_soon(ws.get_message)
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(trio.BusyResourceError):
        await ws.get_message()
    nursery.cancel_scope.cancel()


async def test_max_message_size_closes_with_1009() -> None:
    ws, server = await connect_raw(max_message_size=10)
    await server.send(TextMessage(data="ok"), TextMessage(data="x" * 11), TextMessage(data="no"))
    got, lost = await read_all(ws)
    assert got == ["ok"]  # what came before the oversized message is delivered
    assert "1009" in lost.reason
    event = await server.next_event()
    assert isinstance(event, CloseConnection)
    assert event.code == 1009


async def test_max_message_size_counts_fragments() -> None:
    ws, server = await connect_raw(max_message_size=10)
    await server.send(
        BytesMessage(data=b"123456", message_finished=False),
        BytesMessage(data=b"123456", message_finished=True),
    )
    with pytest.raises(ConnectionLost, match="1009"):
        await ws.get_message()
    event = await server.next_event()
    assert isinstance(event, CloseConnection)
    assert event.code == 1009


# --------------------------------------------------------------------------- control frames


async def test_server_ping_is_answered_while_reading(nursery: trio.Nursery) -> None:
    ws, server = await connect_trio_websocket(nursery)
    nursery.start_soon(ws.get_message)
    with trio.fail_after(1):
        await server.ping(b"are you there")  # returns once our pong arrives


async def test_pong_echoes_the_ping_payload_and_pongs_are_ignored() -> None:
    ws, server = await connect_raw()
    await server.send(Ping(payload=b"p1"), Pong(payload=b"unsolicited"), TextMessage(data="m"))
    assert await ws.get_message() == "m"
    assert await server.next_event() == Pong(payload=b"p1")


async def test_pong_waits_for_a_send_in_progress() -> None:
    # A send that blocks (the peer is not reading) holds the send lock; the pong for a ping
    # read meanwhile goes out after it, from the sending task, and the reader does not wait.
    client_stream, server_stream = memory_socket_pair(capacity=64)
    server = RawServer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.accept)
        ws = await connect_websocket(client_stream, host=HOST, resource=RESOURCE)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ws.send_message, "x" * 1000)
        await trio.testing.wait_all_tasks_blocked()
        await server.send(Ping(payload=b"p"), TextMessage(data="m"))
        with trio.fail_after(1):
            assert await ws.get_message() == "m"
        text = ""
        while True:  # the big message arrives in pieces (partial frames), then the pong
            event = await server.next_event()
            assert isinstance(event, TextMessage)
            text += event.data
            if event.message_finished:
                break
        assert text == "x" * 1000
        assert await server.next_event() == Pong(payload=b"p")


# ---------------------------------------------------------------------------------- closing


async def test_server_close_after_queued_messages(nursery: trio.Nursery) -> None:
    ws, server = await connect_trio_websocket(nursery)
    for text in ["a", "b", "c"]:
        await server.send_message(text)
    async with trio.open_nursery() as inner:
        inner.start_soon(server.aclose, 1001, "going away")
        got, lost = await read_all(ws)
    assert got == ["a", "b", "c"]
    assert lost.reason == "connection closed: 1001 going away"
    assert ws.close_reason == lost.reason
    assert server.closed is not None
    assert server.closed.code == 1001  # the server got our reply: its aclose returned
    with pytest.raises(ConnectionLost, match="1001"):  # and it stays lost
        await ws.get_message()
    with pytest.raises(ConnectionLost):
        await ws.send_message("too late")
    await ws.aclose()  # nothing left to say; closes the stream


async def test_our_close_with_a_concurrent_reader_is_prompt(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws, server = await connect_trio_websocket(nursery)
    reader_result: list[ConnectionLost] = []

    async def reader() -> None:
        reader_result.append((await read_all(ws))[1])

    async with trio.open_nursery() as inner:
        inner.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        await ws.aclose(4000, "bye")
        assert trio.current_time() == 0  # the reader saw the reply and handed it over at once
    assert reader_result[0].reason.startswith("connection closed")
    assert server.closed is not None
    assert (server.closed.code, server.closed.reason) == (4000, "bye")
    with pytest.raises(ConnectionLost):
        await ws.send_message("after close")
    await ws.aclose()  # idempotent


async def test_our_close_without_a_reader_reads_the_reply_itself(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws, server = await connect_trio_websocket(nursery)
    await server.send_message("unread")
    await ws.aclose()
    assert trio.current_time() == 0
    assert server.closed is not None
    assert server.closed.code == 1000
    with pytest.raises(ConnectionLost):  # data not taken before the close is discarded
        await ws.get_message()


async def test_close_reply_that_never_comes_is_bounded_by_the_caller(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server = await connect_raw()
    with trio.move_on_after(2):
        await ws.aclose()
    assert trio.current_time() == 2
    event = await server.next_event()
    assert isinstance(event, CloseConnection)
    assert event.code == 1000
    assert await server.next_event() is None  # the stream was closed anyway


async def test_close_handed_from_reader_to_aclose_when_the_reader_is_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server = await connect_raw()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ws.get_message)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(ws.aclose)
        assert isinstance(await server.next_event(), CloseConnection)
        nursery.cancel_scope.cancel()  # the reader goes; aclose is cancelled too
    assert await server.next_event() is None  # the stream is closed however it ended

    ws, server = await connect_raw()

    async def read_then_leave() -> None:
        with trio.move_on_after(1):
            await ws.get_message()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_then_leave)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(ws.aclose)
        assert isinstance(await server.next_event(), CloseConnection)
        await trio.sleep(2)  # the reader has left: aclose reads on its own
        await server.stream.send_all(b"\x81\x04late")  # data after our close: discarded
        await server.send(CloseConnection(code=1000))
    assert trio.current_time() == 2
    assert await server.next_event() is None


async def test_eof_without_close_is_1006() -> None:
    ws, server = await connect_raw()
    await server.send(TextMessage(data="last words"))
    await server.stream.aclose()
    got, lost = await read_all(ws)
    assert got == ["last words"]
    assert lost.reason == "connection closed: 1006 abnormal closure"


async def test_abort_closes_the_stream_under_a_reader(nursery: trio.Nursery) -> None:
    ws, server = await connect_raw()
    lost: list[ConnectionLost] = []

    async def reader() -> None:
        lost.append((await read_all(ws))[1])

    nursery.start_soon(reader)
    await trio.testing.wait_all_tasks_blocked()
    await ws.abort()
    await trio.testing.wait_all_tasks_blocked()
    assert lost[0].reason == "connection aborted"
    assert await server.next_event() is None  # no close frame, just EOF


async def test_send_after_our_close_is_connection_lost() -> None:
    ws, server = await connect_raw()
    with trio.move_on_after(0.1):  # the raw server does not answer the close
        await ws.aclose()
    with pytest.raises(ConnectionLost, match="send"):
        await ws.send_message("x")
    with pytest.raises(ConnectionLost):
        await ws.get_message()
    del server


async def test_broken_stream_on_send_is_connection_lost() -> None:
    ws, server = await connect_raw()
    await server.stream.aclose()
    with pytest.raises(ConnectionLost, match="send") as info:
        await ws.send_message("x")
    assert isinstance(info.value.__cause__, trio.BrokenResourceError)


async def test_protocol_violation_closes_with_1002() -> None:
    ws, server = await connect_raw()
    await server.send(TextMessage(data="fine"))
    await server.stream.send_all(b"\x83\x00")  # reserved opcode 0x3
    got, lost = await read_all(ws)
    assert got == ["fine"]
    assert "1002" in lost.reason
    event = await server.next_event()
    assert isinstance(event, CloseConnection)
    assert event.code == 1002


# ---------------------------------------------------------------------------- never crash


async def _feed_garbage(handshake_ok: bool, chunks: Sequence[bytes]) -> None:
    client_stream, server_stream = memory_socket_pair()
    server = RawServer(server_stream)

    async def serve() -> None:
        if handshake_ok:
            await server.accept()
        else:
            await server_stream.receive_some()
        with contextlib.suppress(trio.BrokenResourceError):  # the client may hang up first
            for chunk in chunks:
                await server_stream.send_all(chunk)
                await trio.testing.wait_all_tasks_blocked()
        await server_stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        try:
            ws = await connect_websocket(
                client_stream, host=HOST, resource=RESOURCE, max_message_size=4096
            )
        except ConnectionLost:
            return
        with trio.fail_after(10):
            await read_all(ws)
            with trio.move_on_after(1):
                await ws.aclose()


@given(handshake_ok=st.booleans(), chunks=st.lists(st.binary(min_size=1), max_size=5))
def test_garbage_from_the_server_only_ever_raises_connection_lost(
    handshake_ok: bool, chunks: list[bytes]
) -> None:
    """Anything a server sends ends in ConnectionLost (or messages), never another error."""
    trio.run(
        _feed_garbage, handshake_ok, chunks, clock=trio.testing.MockClock(autojump_threshold=0)
    )


@given(
    frames=st.lists(
        st.tuples(st.integers(0, 15), st.booleans(), st.binary(max_size=200)), max_size=6
    ),
    split=st.integers(1, 50),
)
def test_random_frames_from_the_server_only_ever_raise_connection_lost(
    frames: list[tuple[int, bool, bytes]], split: int
) -> None:
    """Well-framed but arbitrary frames (any opcode, fin bit, payload), cut into pieces."""
    data = b"".join(
        bytes(((0x80 if fin else 0) | opcode, len(payload))) + payload
        if len(payload) < 126
        else bytes(((0x80 if fin else 0) | opcode, 126)) + len(payload).to_bytes(2, "big") + payload
        for opcode, fin, payload in frames
    )
    chunks = [data[i : i + split] for i in range(0, len(data), split)]
    trio.run(_feed_garbage, True, chunks, clock=trio.testing.MockClock(autojump_threshold=0))


# ------------------------------------------------------------------------- the connectors


async def test_fake_server_connector_uses_this_transport(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeGateServer(seed=0, profile=attrs.evolve(PROFILES["live"], idle_timeout=1000))
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.run)
        ws = await fake.connector(nursery, "wss://fx-ws.gateio.ws/v4/ws/usdt", HEADERS)
        assert isinstance(ws, WebSocket)
        reader_lost: list[ConnectionLost] = []

        async def reader() -> None:
            reader_lost.append((await read_all(ws))[1])

        nursery.start_soon(reader)
        await trio.sleep(100)  # protocol pings every 15 s, each answered within 10 s
        (conn,) = fake.connections
        assert not conn.closed
        assert conn.headers["x-gate-size-decimal"] == "1"
        fake.close(code=1000, reason="maintenance")
        await trio.testing.wait_all_tasks_blocked()
        assert reader_lost[0].reason == "connection closed: 1000 maintenance"
        assert fake.connections == []
        nursery.cancel_scope.cancel()


async def test_fake_server_connector_refusals_are_connection_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeGateServer(seed=0)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.run)
        fake.refuse(1)
        with pytest.raises(ConnectionLost, match="HTTP 503"):
            await fake.connector(nursery, "wss://fx-ws.gateio.ws/v4/ws/usdt", [])
        with pytest.raises(ConnectionLost, match="HTTP 404"):
            await fake.connector(nursery, "wss://fx-ws.gateio.ws/v4/ws/nope", [])
        ws = await fake.connector(nursery, "wss://fx-ws.gateio.ws/v4/ws/usdt", [])
        fake.drop()
        with pytest.raises(ConnectionLost, match="1006"):
            await ws.get_message()
        nursery.cancel_scope.cancel()


async def test_default_connector_over_tcp_loopback() -> None:
    requests: list[Request] = []

    async def handler(stream: trio.SocketStream) -> None:
        server = RawServer(stream)
        await server.accept()
        assert server.request is not None
        requests.append(server.request)
        await server.send(TextMessage(data="hi"))
        event = await server.next_event()
        assert isinstance(event, CloseConnection)
        await server.send(event.response())
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        (listener,) = await nursery.start(
            functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1")
        )
        port = listener.socket.getsockname()[1]
        url = f"ws://127.0.0.1:{port}/v4/ws/usdt?a=1"
        with trio.fail_after(10):
            ws = await default_connector(nursery, url, HEADERS)
            assert isinstance(ws, WebSocket)
            assert await ws.get_message() == "hi"
            await ws.aclose()
            assert ws.close_reason == "connection closed: 1000"
        nursery.cancel_scope.cancel()
    (request,) = requests
    assert (request.host, request.target) == (f"127.0.0.1:{port}", "/v4/ws/usdt?a=1")
    assert (b"x-gate-size-decimal", b"1") in request.extra_headers  # (h11 lowercases names)
    assert request.extensions == []


async def test_default_connector_against_trio_websocket_server() -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        server_ws = await request.accept()
        await server_ws.send_message(request.path)
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            await server_ws.get_message()

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        with trio.fail_after(10):
            ws = await default_connector(nursery, f"ws://127.0.0.1:{server.port}", [])
            assert await ws.get_message() == "/"
            await ws.aclose()
        nursery.cancel_scope.cancel()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("https://fx-ws.gateio.ws/v4/ws/usdt", "not a ws"),
        ("ws:///v4/ws/usdt", "not a ws"),
        ("ws://127.0.0.1:99999/", "bad port"),
        (f"ws://127.0.0.1:{_closed_port()}/v4/ws/usdt", "connect"),
    ],
)
async def test_default_connector_failures_are_connection_lost(url: str, match: str) -> None:
    async with trio.open_nursery() as nursery:
        with trio.fail_after(10), pytest.raises(ConnectionLost, match=match):
            await default_connector(nursery, url, [])


# ------------------------------------------------------------------ through the whole client

BURST_ID: Final = 10**12  # far above the fake market's own trade ids


def _trade_frame(trade_id: int) -> str:
    return (
        '{"time":1786540578,"time_ms":1786540578123,"channel":"futures.trades",'
        '"event":"update","result":[{"id":' + str(trade_id) + ',"size":"1",'
        '"create_time":1786540578,"create_time_ms":1786540578123,"price":"64000.1",'
        '"contract":"BTC_USDT"}]}'
    )


async def _serve_burst(server: RawServer, burst: int) -> None:
    """Accept, ack the client's subscribe, then write `burst` trade frames in one go."""
    await server.accept()
    while True:
        event = await server.next_event()
        assert isinstance(event, TextMessage)
        request = json.loads(event.data)
        if request.get("event") == "subscribe":
            break
    ack = {
        "time": 1786540578,
        "time_ms": 1786540578000,
        "id": request["id"],
        "channel": "futures.trades",
        "event": "subscribe",
        "payload": request["payload"],
        "result": {"status": "success"},
    }
    await server.send(TextMessage(data=json.dumps(ack)))
    await server.send(*(TextMessage(data=_trade_frame(BURST_ID + i)) for i in range(burst)))
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        while await server.next_event() is not None:  # pings, the unsubscribe, the close
            pass


@pytest.mark.parametrize("consumer", ["item", "nowait", "batch"])
async def test_client_delivers_every_frame_of_a_burst(
    autojump_clock: trio.testing.MockClock, consumer: str
) -> None:
    """A burst of many frames per read reaches the consumer whole and in order.

    The reader takes up to MAX_BATCH frames per wake-up but yields once a subscription is half
    full, so an `async for` consumer, taking one item per scheduler pass, keeps up.
    """
    burst = 3000  # ~650 kB: many reads of ~300 frames each
    async with trio.open_nursery() as outer:

        async def connector(
            nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
        ) -> WebSocket:
            client_stream, server_stream = memory_socket_pair(capacity=1 << 16)
            outer.start_soon(_serve_burst, RawServer(server_stream), burst)
            return await connect_websocket(
                client_stream, host=HOST, resource="/v4/ws/usdt", headers=headers
            )

        async with (
            open_client(url="ws://fake/v4/ws/usdt", connector=connector) as client,
            client.subscribe(channels.trades("BTC_USDT")) as trades,
        ):
            got: list[int] = []
            while len(got) < burst:
                if consumer == "batch":
                    got.extend(t.id - BURST_ID for t in await trades.receive_batch())
                    continue
                items = [await trades.receive()]
                if consumer == "nowait":
                    with contextlib.suppress(trio.WouldBlock):
                        while True:
                            items.append(trades.receive_nowait())
                got.extend(t.id - BURST_ID for t in items)
            assert got == list(range(burst))
            stats = trades.statistics()
            assert stats.messages_dropped == 0
            assert stats.peak_buffer_used < 256  # the buffer never filled up
