"""A scripted WebSocket server whose every step happens at a time the test chose.

    script = Script(steps=(Step(0.5, "upgrade", 3), Step(0.0, "fragments", 2000), ...))
    server = TimedServer(script)
    async with gatetrio.open_client(connector=server.connector(nursery), ...) as client: ...

Over in-memory streams (or loopback TCP with `serve_tcp`), so under `autojump_clock` every
step lands at an exact virtual time and the whole run is deterministic but for trio's own
scheduling order, which is what these tests are after: a connection that ends between any two
steps of the client's tasks. It speaks the server side with wsproto, answers subscribes and
`futures.ping` (each after a drawn delay, or never), and plays each connection's script: bursts
of upgrade notices, messages cut into many tiny fragments, WebSocket pings, malformed frames,
close frames and abrupt ends. It is not the fake exchange: it is faithful only where a script
needs it to be.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Sequence
from typing import Final, Literal

import attrs
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from gatetrio._shell._transport import Connector, WebSocketLike
from gatetrio._shell._transport._wsproto import connect_websocket
from gatetrio.events import Pong, SubscribeAck, UpgradeRequested, encode_event

Action = Literal[
    "upgrade", "fragments", "ping", "malformed", "close", "eof", "eof_on_next", "trade"
]
ACTIONS: Final[tuple[Action, ...]] = (
    "upgrade",
    "fragments",
    "ping",
    "malformed",
    "close",
    "eof",
    "eof_on_next",  # end this socket the moment the next one is accepted (a handover race)
    "trade",
)
UPGRADE_TEXT: Final = "The connection will soon be closed for a service upgrade."
_ERRORS: Final = (
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    LocalProtocolError,
    RemoteProtocolError,
)


@attrs.frozen
class Step:
    """After `delay` seconds, do `action` (`n`: notices in a burst, fragments, close code)."""

    delay: float
    action: Action
    n: int = 1


@attrs.frozen
class Script:
    """What every connection does: its steps, then nothing (it stays open, answering)."""

    steps: tuple[Step, ...] = ()
    ack_delay: float | None = 0.0  # None: subscribes are never answered
    pong_delay: float | None = 0.0  # None: pings are never answered
    refuse: int = 0  # connections refused (EOF before the handshake) before one is served


def trade_text(contract: str = "BTC_USDT", *, pad: int = 0) -> str:
    """A futures.trades push; `pad` extra characters in its text (a longer message)."""
    trade = {
        "size": 1,
        "id": 1,
        "create_time": 1786540580,
        "create_time_ms": 1786540580123,
        "price": "1.0" + "0" * pad,
        "contract": contract,
    }
    return json.dumps(
        {
            "time": 1786540580,
            "time_ms": 1786540580123,
            "channel": "futures.trades",
            "event": "update",
            "result": [trade],
        }
    )


@attrs.define(eq=False)
class _Peer:
    stream: trio.abc.Stream
    ws: WSConnection = attrs.field(factory=lambda: WSConnection(ConnectionType.SERVER))
    lock: trio.Lock = attrs.field(factory=trio.Lock)
    done: bool = False
    ended: trio.Event = attrs.field(factory=trio.Event)  # end it now (eof_on_next)

    async def send(self, data: bytes) -> None:
        async with self.lock:
            await self.stream.send_all(data)

    async def text(self, text: str, *, fragments: int = 1) -> None:
        if self.ws.state is not ConnectionState.OPEN:
            return
        size = max(1, math.ceil(len(text) / fragments))
        chunks = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        data = b"".join(
            self.ws.send(TextMessage(data=chunk, message_finished=i == len(chunks) - 1))
            for i, chunk in enumerate(chunks)
        )
        await self.send(data)


class TimedServer:
    """Serves `script` on every connection; counts what happened (`connections`, `served`)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.served = 0
        self._ending_on_next: list[_Peer] = []

    def connector(self, servers: trio.Nursery) -> Connector:
        """A gatetrio `Connector` over in-memory streams; the server side runs in `servers`."""

        async def connect(
            nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
        ) -> WebSocketLike:
            del nursery, headers
            client, server = trio.testing.memory_stream_pair()
            servers.start_soon(self.serve, server)
            return await connect_websocket(
                client, host="timed.invalid", resource="/v4/ws/usdt", endpoint=url
            )

        return connect

    async def listen(self, nursery: trio.Nursery) -> str:
        """Serve on a free loopback TCP port (tasks in `nursery`); return the URL to dial."""
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, self.serve, 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/v4/ws/usdt"

    async def serve(self, stream: trio.abc.Stream) -> None:
        """Serve one connection until its script ends it or the client goes."""
        self.connections += 1
        try:
            if self.connections <= self.script.refuse:
                return
            peer = _Peer(stream)
            if not await self._handshake(peer):
                return
            self.served += 1
            for older in self._ending_on_next:  # in the very step that accepted this one
                older.ended.set()
            self._ending_on_next.clear()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._answer, peer, nursery.cancel_scope)
                nursery.start_soon(_end_when_told, peer, nursery.cancel_scope)
                await self._play(peer)
                if peer.done:
                    nursery.cancel_scope.cancel()
        except* _ERRORS:
            pass  # the client went away: so does this connection
        finally:
            await trio.aclose_forcefully(stream)

    async def _handshake(self, peer: _Peer) -> bool:
        while True:
            data = await peer.stream.receive_some(65536)
            if not data:
                return False
            peer.ws.receive_data(bytes(data))
            for event in peer.ws.events():
                if isinstance(event, Request):
                    await peer.send(peer.ws.send(AcceptConnection()))
                    return True

    async def _play(self, peer: _Peer) -> None:
        for step in self.script.steps:
            await trio.sleep(step.delay)
            if peer.done:
                return
            match step.action:
                case "upgrade":
                    notice = encode_event(UpgradeRequested(msg=UPGRADE_TEXT))
                    for _ in range(step.n):
                        await peer.text(notice)
                case "fragments":
                    await peer.text(trade_text(pad=2 * step.n), fragments=step.n)
                case "trade":
                    await peer.text(trade_text())
                case "ping":
                    if peer.ws.state is ConnectionState.OPEN:
                        await peer.send(peer.ws.send(Ping(payload=b"p")))
                case "malformed":
                    await peer.text("{not json")
                case "close":
                    if peer.ws.state is ConnectionState.OPEN:
                        await peer.send(peer.ws.send(CloseConnection(code=step.n)))
                    peer.done = True
                    return
                case "eof":
                    peer.done = True
                    return
                case "eof_on_next":
                    self._ending_on_next.append(peer)

    async def _answer(self, peer: _Peer, scope: trio.CancelScope) -> None:
        """Read the client: answer subscribes and pings (after the script's delays)."""
        async with trio.open_nursery() as replies:
            while True:
                data = await peer.stream.receive_some(65536)
                if not data:
                    scope.cancel()
                    return
                peer.ws.receive_data(bytes(data))
                for event in peer.ws.events():
                    if isinstance(event, CloseConnection):
                        if peer.ws.state is ConnectionState.REMOTE_CLOSING:
                            await peer.send(peer.ws.send(event.response()))
                        scope.cancel()
                        return
                    if isinstance(event, Ping):
                        await peer.send(peer.ws.send(event.response()))
                    elif isinstance(event, TextMessage):
                        replies.start_soon(self._reply, peer, event.data)

    async def _reply(self, peer: _Peer, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        channel, event = msg.get("channel"), msg.get("event")
        if channel == "futures.ping" and self.script.pong_delay is not None:
            await trio.sleep(self.script.pong_delay)
            reply = encode_event(Pong(time=msg.get("time", 0), time_ms=0))
        elif event == "subscribe" and self.script.ack_delay is not None:
            await trio.sleep(self.script.ack_delay)
            reply = encode_event(
                SubscribeAck(
                    time=msg.get("time", 0),
                    time_ms=0,
                    id=msg.get("id"),
                    channel=channel,
                    event="subscribe",
                    payload=tuple(msg.get("payload", ())),
                )
            )
        else:
            return
        with contextlib.suppress(*_ERRORS):
            await peer.text(reply)


async def _end_when_told(peer: _Peer, scope: trio.CancelScope) -> None:
    await peer.ended.wait()
    peer.done = True
    await trio.aclose_forcefully(peer.stream)  # EOF now, not after the task unwinds
    scope.cancel()
