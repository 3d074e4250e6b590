"""The scripted hostile server itself (tests/scripted.py): it does what its scripts say.

Checked with a plain wsproto client over its in-memory streams and over loopback, then with the
client: a well-behaved script is a working exchange for the client, exactly on the virtual
clock, so that what the hostile suites see is the hostility they script and nothing else.
"""

from __future__ import annotations

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from gatetrio import ClientEventKind

from .hostile_run import drive
from .scripted import (
    PING,
    TEXT,
    Await,
    Eof,
    Hold,
    Repeat,
    Reply,
    Script,
    Send,
    Sleep,
    Trickle,
    Upgrade,
    ack_for,
    fragments,
    frame,
    open_scripted_server,
    serve_trades,
    upgrade_response,
)


class _Client:
    """A wsproto client over a stream: enough to see what the server wrote."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.partial = ""

    async def events(self, count: int) -> list[Event]:
        """The next `count` events, text messages whole."""
        out: list[Event] = []
        while len(out) < count:
            for event in self.ws.events():
                if isinstance(event, TextMessage) and not event.message_finished:
                    self.partial += event.data
                elif isinstance(event, TextMessage):
                    out.append(TextMessage(self.partial + event.data))
                    self.partial = ""
                else:
                    out.append(event)
            if len(out) < count:
                data = await self.stream.receive_some(65536)
                self.ws.receive_data(bytes(data) if data else None)
        return out


async def test_script_steps_write_what_they_say_at_their_times(
    autojump_clock: trio.testing.MockClock,
) -> None:
    script = Script(
        (
            Upgrade(),
            Send(frame(TEXT, b"one")),
            Sleep(2.5),
            Trickle(frame(TEXT, b"two"), every=0.5, size=2),  # 5 bytes: 3 writes, 1.5 s
            Repeat(frame(PING, b"p"), times=3, every=1.0),
            Await("futures.ping"),
            Reply(lambda request: frame(TEXT, str(request["time"]).encode())),
            Hold(),
        ),
        pong=False,  # the Reply answers the ping here
    )
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with open_scripted_server([script]) as server, trio.open_nursery() as nursery:
        nursery.start_soon(server.serve, server_stream)
        client = _Client(client_stream)
        await client_stream.send_all(client.ws.send(Request(host="h", target="/v4/ws/usdt")))
        (accept, one) = await client.events(2)
        assert isinstance(accept, AcceptConnection)
        assert isinstance(one, TextMessage)
        assert (one.data, trio.current_time()) == ("one", 0)
        (two,) = await client.events(1)
        assert isinstance(two, TextMessage)
        assert (two.data, trio.current_time()) == ("two", 2.5 + 1.0)  # the last of 3 writes
        pings = await client.events(3)
        assert [type(e) for e in pings] == [Ping] * 3
        assert trio.current_time() == 4.0 + 2.0  # 1 s between pings, the last at +2 s
        await client_stream.send_all(
            client.ws.send(TextMessage('{"time":7,"channel":"futures.ping"}'))
        )
        (reply,) = await client.events(1)
        assert isinstance(reply, TextMessage)
        assert reply.data == "7"
        await client_stream.send_all(client.ws.send(CloseConnection(1000)))
        (closed,) = await client.events(1)
        assert isinstance(closed, CloseConnection)  # close_reply: the close answered
        await client_stream.aclose()
        await server.wait_until(lambda: server.connections[0].ended)
    record = server.connections[0]
    assert record.request.startswith(b"GET /v4/ws/usdt HTTP/1.1\r\n")
    assert record.upgraded
    assert record.texts == ['{"time":7,"channel":"futures.ping"}']
    assert record.client_close == 1000
    assert record.steps_done


async def test_upgrade_response_and_interim_answers_are_written_verbatim() -> None:
    script = Script(
        (Upgrade(lambda key: upgrade_response(key, before=b"HTTP/1.1 100 Continue\r\n\r\n")),)
    )
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with open_scripted_server([script]) as server, trio.open_nursery() as nursery:
        nursery.start_soon(server.serve, server_stream)
        ws = WSConnection(ConnectionType.CLIENT)
        await client_stream.send_all(ws.send(Request(host="h", target="/")))
        data = bytes(await client_stream.receive_some(65536))
        assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n")
        ws.receive_data(data)
        # wsproto itself takes the 100 for a refusal: what the client's transport fixes (17.6)
        assert isinstance(next(ws.events()), RejectConnection)
        nursery.cancel_scope.cancel()


async def test_a_script_without_upgrade_writes_raw_bytes_and_eof() -> None:
    script = Script((Send(b"SSH-2.0-OpenSSH_9.6\r\n"), Eof()))
    async with open_scripted_server([script], loopback=True) as server:
        port = int(server.url.split(":")[2].split("/")[0])
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            received = b""
            with trio.fail_after(10):
                while chunk := await stream.receive_some(65536):
                    received += chunk
    assert received == b"SSH-2.0-OpenSSH_9.6\r\n"
    assert not server.connections[0].upgraded


def test_fragments_builds_one_message_in_pieces() -> None:
    data = fragments(TEXT, b"abcdef", 4, between=frame(PING, b""), empty=2)
    assert data == (
        frame(TEXT, b"abcd", fin=False)
        + frame(PING, b"")
        + frame(0, b"", fin=False) * 2
        + frame(0, b"ef")
        + frame(PING, b"")
    )


# -------------------------------------------------------------------------- with the client


async def test_the_client_works_against_the_well_behaved_script(
    autojump_clock: trio.testing.MockClock,
) -> None:
    outcome = await drive([], then=serve_trades(extra=(Sleep(20),)))
    assert outcome.error is None
    assert outcome.marked
    assert outcome.stats is not None
    assert (outcome.stats.connects, outcome.stats.reconnects, outcome.stats.malformed_frames) == (
        1,
        0,
        0,
    )
    assert outcome.ended_at == 0  # in memory, nothing waits: the trade came at once
    assert not outcome.kinds(ClientEventKind.DISCONNECTED)


async def test_the_client_pings_and_the_script_pongs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    outcome = await drive([], then=serve_trades(), until=16.0, stop_at_mark=False)
    assert outcome.error is None
    assert outcome.stats is not None
    assert outcome.stats.last_pong_rtt == 0
    (record,) = outcome.connections
    pings = [m for m in record.messages() if m.get("channel") == "futures.ping"]
    assert len(pings) == 3  # at 5, 10 and 15 s
    assert outcome.ended_at == 16.0


async def test_a_scripted_connection_then_the_good_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hangs_up = Script(
        (Upgrade(), Await("futures.trades", "subscribe"), Reply(ack_for), Sleep(1), Eof())
    )
    outcome = await drive([hangs_up])
    assert outcome.error is None
    assert outcome.marked
    assert [c.index for c in outcome.connections] == [1, 2]
    assert "1006" in outcome.reasons()
    assert outcome.stats is not None
    assert outcome.stats.reconnects == 1
