"""A scripted, hostile WebSocket server on real loopback sockets, for the client's failure tests.

    async with hostile_server(never_ack=True) as server:
        server.url            ws://127.0.0.1:PORT/v4/ws/usdt
        server.connections    TCP connections accepted (every connect attempt that reached us)
        server.handshakes     WebSocket upgrades completed
        server.log            one ConnectionLog per connection: text frames received and sent
        await server.wait_until(lambda: server.handshakes >= 2)

The in-memory fake (`gatetrio.testing`) is faithful to Gate; this one is not meant to be. It
misbehaves on purpose, the way servers and networks do, over real TCP so that kernel buffers,
the client's own transport and its deadlines are all in play. It speaks the server side with
wsproto; refusals are hand-written HTTP responses. Frames it does answer are built with
`encode_event`, as the fake builds them, so the client decodes them exactly as it would Gate's.

Tests use trio's real clock with it; every test wraps its use in a `trio.fail_after` hang guard.
For byte-exact misbehaviour (framing, close frames, handshakes, JSON, timings drawn by
Hypothesis), in memory on the virtual clock or on loopback, see `tests/scripted.py`.
"""

from __future__ import annotations

import contextlib
import http
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

import attrs
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from gatetrio.events import (
    ApiAck,
    ApiHeader,
    ApiResult,
    Pong,
    SubscribeAck,
    UpgradeRequested,
    encode_event,
)

PATH: Final = "/v4/ws/usdt"
RECEIVE_SIZE: Final = 65536
MAX_REQUEST_HEAD: Final = 65536  # an upgrade request larger than this is dropped unanswered
MAX_LOG: Final = 10_000  # text frames kept per connection and direction; the rest are counted
UPGRADE_MSG: Final = "The connection will soon be closed for a service upgrade. Please reconnect."
USER_ID: Final = "20011"
# A trade for a contract nobody subscribes to: the client counts it as unrouted, raising no event
# per frame (which would crowd the bounded events channel the tests read).
FLOOD_TEXT: Final = (
    '{"time":1786540580,"time_ms":1786540580123,"channel":"futures.trades","event":"update",'
    '"result":[{"size":"1","id":1,"create_time":1786540580,"create_time_ms":1786540580123,'
    '"price":"1.0","contract":"FLOOD_USDT"}]}'
)
FLOOD_PINGS_PER_TEXT: Final = 32

_SOCKET_ERRORS: Final = (
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    OSError,
    LocalProtocolError,
    RemoteProtocolError,
)


def _refusal_statuses(_inst: object, _attr: object, value: int | None) -> None:
    if value is not None and not (200 <= value < 600 and value != 101):
        raise ValueError(f"handshake_status must be an HTTP status other than 101, got {value}")


@attrs.frozen(kw_only=True)
class Behaviour:
    """How the server misbehaves; the defaults are a well-behaved minimal Gate.

    - `handshake_status`: answer every upgrade request with this HTTP status and close (a 301
      carries a Location, every refusal a short text body).
    - `ping_flood_no_read`: after the handshake, send WebSocket pings (and now and then a text
      frame) as fast as the socket takes them and never read again; the listening socket gets a
      small SO_RCVBUF (`rcvbuf`) so the client's sends back up soon.
    - `upgrade_on_every_connection`: ack the first subscribe of each connection, then send the
      `futures.system` upgrade notice (spec 4.4) on it.
    - `never_ack`: take subscribes and never answer them (pings are still answered).
    - `reply_on_other_socket`: answer trading requests that arrive on connection 1 (except the
      channels in `own_socket_channels`) on connection 2. Until connection 2 exists, send the
      upgrade notice on connection 1 and hold the replies; they go out on connection 2 as soon
      as its handshake completes. Requests on later connections are answered on their own socket.
    - `max_connections`: connections beyond this are closed as soon as accepted (still
      counted), so a client that reconnects in a tight loop cannot run the server out of tasks.
    """

    handshake_status: int | None = attrs.field(default=None, validator=_refusal_statuses)
    ping_flood_no_read: bool = False
    upgrade_on_every_connection: bool = False
    never_ack: bool = False
    reply_on_other_socket: bool = False
    own_socket_channels: frozenset[str] = frozenset({"futures.login"})
    max_connections: int = 200
    rcvbuf: int = 4096


@attrs.define(eq=False)
class ConnectionLog:
    """What one connection (numbered from 1 in accept order) did."""

    index: int
    handshake: bool = False
    received: list[str] = attrs.field(factory=list)  # text frames, up to MAX_LOG
    sent: list[str] = attrs.field(factory=list)  # text frames, up to MAX_LOG (not the flood)
    dropped: int = 0  # frames not kept because a list was full
    flood_bytes: int = 0
    ended: str = ""  # why the server stopped serving it ("" while it runs)

    def keep(self, frames: list[str], text: str) -> None:
        if len(frames) < MAX_LOG:
            frames.append(text)
        else:
            self.dropped += 1

    def messages(self) -> list[dict[str, Any]]:
        """The received frames that are JSON objects."""
        out = []
        for text in self.received:
            with contextlib.suppress(ValueError):
                msg = json.loads(text)
                if isinstance(msg, dict):
                    out.append(msg)
        return out


@attrs.define(eq=False)
class _Peer:
    """One upgraded connection: its stream, wsproto state, and a lock shared by every sender."""

    stream: trio.SocketStream
    ws: WSConnection
    log: ConnectionLog
    send_lock: trio.Lock = attrs.field(factory=trio.Lock)
    upgrade_sent: bool = False

    @property
    def conn_id(self) -> str:
        return f"{self.log.index:016x}"

    async def send_raw(self, data: bytes) -> None:
        async with self.send_lock:
            await self.stream.send_all(data)

    async def send_text(self, text: str) -> None:
        if self.ws.state is not ConnectionState.OPEN:
            return  # closing: Gate drops what it had queued too
        self.log.keep(self.log.sent, text)
        await self.send_raw(self.ws.send(TextMessage(data=text)))


class HostileServer:
    """The server side of `hostile_server`; see the module docstring."""

    def __init__(self, behaviour: Behaviour, port: int) -> None:
        self.behaviour = behaviour
        self.port = port
        self.url = f"ws://127.0.0.1:{port}{PATH}"
        self.connections = 0
        self.handshakes = 0
        self.log: list[ConnectionLog] = []
        # (request's connection, reply's connection, req_id) for every reply sent elsewhere
        self.misrouted: list[tuple[int, int, str]] = []
        self._peers: dict[int, _Peer] = {}
        # requests of connection 1 waiting for connection 2: (channel, req_id, payload)
        self._held: list[tuple[str, str, dict[str, Any]]] = []
        self._changed = trio.Event()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once `condition()` holds; checked at each connection change and frame in."""
        while not condition():
            await self._changed.wait()

    def frames(self, channel: str, event: str | None = None) -> list[tuple[int, dict[str, Any]]]:
        """(connection index, message) for every received frame of `channel` (and `event`)."""
        return [
            (log.index, msg)
            for log in self.log
            for msg in log.messages()
            if msg.get("channel") == channel and (event is None or msg.get("event") == event)
        ]

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # ---------------------------------------------------------------------- connections

    async def handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        log = ConnectionLog(self.connections)
        self.log.append(log)
        self._notify()
        try:
            async with stream:
                if log.index > self.behaviour.max_connections:
                    log.ended = "over max_connections"
                    return
                await self._serve(stream, log)
        except _SOCKET_ERRORS as exc:
            log.ended = f"{type(exc).__name__}: {exc}"
        finally:
            log.ended = log.ended or "closed"
            self._peers.pop(log.index, None)
            self._notify()

    async def _serve(self, stream: trio.SocketStream, log: ConnectionLog) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        if not await _read_request(stream, ws):
            log.ended = "no upgrade request"
            return
        status = self.behaviour.handshake_status
        if status is not None:
            await stream.send_all(_refusal(status, self.port))
            log.ended = f"refused with HTTP {status}"
            return
        await stream.send_all(ws.send(AcceptConnection()))
        peer = _Peer(stream, ws, log)
        log.handshake = True
        self.handshakes += 1
        self._peers[log.index] = peer
        self._notify()
        if self.behaviour.reply_on_other_socket and log.index == 2:
            held, self._held = self._held, []
            for channel, req_id, payload in held:
                await self._answer_elsewhere(peer, channel, req_id, payload)
        if self.behaviour.ping_flood_no_read:
            await self._flood(peer)
        else:
            await self._read_loop(peer)

    async def _flood(self, peer: _Peer) -> None:
        """Pings and trades as fast as the socket takes them; never read again."""
        ws = peer.ws
        # server frames are not masked, so the same bytes can be sent again and again
        pings = ws.send(Ping(payload=b"p" * 125)) * FLOOD_PINGS_PER_TEXT
        chunk = pings + ws.send(TextMessage(data=FLOOD_TEXT))
        while True:
            await peer.send_raw(chunk)
            peer.log.flood_bytes += len(chunk)

    async def _read_loop(self, peer: _Peer) -> None:
        ws = peer.ws
        fragments: list[str] = []
        while True:
            data = await peer.stream.receive_some(RECEIVE_SIZE)
            ws.receive_data(bytes(data) if data else None)
            for event in ws.events():
                if isinstance(event, TextMessage):
                    fragments.append(event.data)
                    if event.message_finished:
                        text = "".join(fragments)
                        fragments.clear()
                        peer.log.keep(peer.log.received, text)
                        await self._on_text(peer, text)
                elif isinstance(event, BytesMessage):
                    peer.log.keep(peer.log.received, repr(event.data))
                elif isinstance(event, Ping):
                    await peer.send_raw(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if ws.state is ConnectionState.REMOTE_CLOSING:
                        await peer.send_raw(ws.send(event.response()))
                    peer.log.ended = f"client closed: {int(event.code)}"
                    return
            if not data:
                peer.log.ended = "client EOF"
                return

    # ------------------------------------------------------------------------- requests

    async def _on_text(self, peer: _Peer, text: str) -> None:
        self._notify()
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        channel = msg.get("channel")
        event = msg.get("event")
        if not isinstance(channel, str):
            return
        behaviour = self.behaviour
        if channel == "futures.ping":
            ms = _now_ms()
            await peer.send_text(
                encode_event(Pong(time=ms // 1000, time_ms=ms, conn_id=peer.conn_id))
            )
        elif event == "api":
            await self._on_api(peer, channel, msg)
        elif event in ("subscribe", "unsubscribe"):
            if behaviour.never_ack and event == "subscribe":
                return
            await peer.send_text(_ack(peer, msg, channel, str(event)))
            if behaviour.upgrade_on_every_connection and event == "subscribe":
                await self._send_upgrade(peer)

    async def _on_api(self, peer: _Peer, channel: str, msg: dict[str, Any]) -> None:
        payload = msg.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        req_id = str(payload.get("req_id", ""))
        behaviour = self.behaviour
        elsewhere = (
            behaviour.reply_on_other_socket
            and peer.log.index == 1
            and channel not in behaviour.own_socket_channels
        )
        if not elsewhere:
            for frame in _api_replies(peer, channel, req_id, payload):
                await peer.send_text(frame)
            return
        other = self._peers.get(2)
        if other is None:  # make the client open connection 2, then answer there
            self._held.append((channel, req_id, payload))
            await self._send_upgrade(peer)
            return
        await self._answer_elsewhere(other, channel, req_id, payload)

    async def _answer_elsewhere(
        self, other: _Peer, channel: str, req_id: str, payload: dict[str, Any]
    ) -> None:
        """Send connection 1's reply on `other`, headed as that socket's own replies are."""
        for frame in _api_replies(other, channel, req_id, payload):
            self.misrouted.append((1, other.log.index, req_id))
            await other.send_text(frame)

    async def _send_upgrade(self, peer: _Peer) -> None:
        if peer.upgrade_sent:
            return
        peer.upgrade_sent = True
        ms = _now_ms()
        notice = UpgradeRequested(msg=UPGRADE_MSG, time=ms // 1000, time_ms=ms)
        await peer.send_text(encode_event(notice))


# --------------------------------------------------------------------------------- frames


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _ack(peer: _Peer, msg: dict[str, Any], channel: str, event: str) -> str:
    ms = _now_ms()
    rid = msg.get("id")
    payload = msg.get("payload")
    echo = (
        tuple(payload)
        if isinstance(payload, list) and all(isinstance(p, str) for p in payload)
        else None
    )
    return encode_event(
        SubscribeAck(
            channel=channel,
            event=event,
            id=rid if isinstance(rid, int) and not isinstance(rid, bool) else None,
            payload=echo,
            conn_id=peer.conn_id,
            trace_id=f"{peer.log.index:032x}",
            time=ms // 1000,
            time_ms=ms,
        )
    )


def _api_replies(peer: _Peer, channel: str, req_id: str, payload: dict[str, Any]) -> list[str]:
    """The fake's replies (spec 8.3): login's uid, order_place's ack echo then its order."""
    ms = _now_ms()
    header = ApiHeader(
        status="200",
        channel=channel,
        response_time=str(ms),
        client_id=f"127.0.0.1-0x{peer.conn_id[:10]}",
        conn_id=peer.conn_id,
        trace_id=f"{peer.log.index:032x}",
        x_in_time=ms * 1000,
        x_out_time=ms * 1000 + 87,
    )
    param = payload.get("req_param")
    if channel == "futures.login":
        result: object = {"uid": USER_ID, "api_key": str(payload.get("api_key", ""))}
        return [encode_event(ApiResult(request_id=req_id, header=header, result=result))]
    if channel == "futures.order_place":
        param = param if isinstance(param, dict) else {}
        trace = {"trace_id": header.trace_id}
        echo = {"req_id": req_id, "api_key": "", "timestamp": "", "signature": "", **trace,
                "text": "", "req_header": trace, "req_param": param}  # fmt: skip
        order = {
            "id": 58_000_000_000_000_001,
            "user": int(USER_ID),
            "contract": param.get("contract", ""),
            "size": param.get("size", 0),
            "price": param.get("price", "0"),
            "tif": param.get("tif", "gtc"),
            "text": param.get("text", "api"),
            "status": "open",
            "finish_as": "_new",
            "left": param.get("size", 0),
            "fill_price": "0",
            "create_time": ms / 1000,
        }
        return [
            encode_event(ApiAck(request_id=req_id, header=header, result=echo)),
            encode_event(ApiResult(request_id=req_id, header=header, result=order)),
        ]
    result = [] if channel == "futures.order_list" else {}
    return [encode_event(ApiResult(request_id=req_id, header=header, result=result))]


# ------------------------------------------------------------------------------ handshake


async def _read_request(stream: trio.SocketStream, ws: WSConnection) -> bool:
    """Read until wsproto has the upgrade request; False on EOF or an oversized head."""
    read = 0
    while read <= MAX_REQUEST_HEAD:
        data = await stream.receive_some(RECEIVE_SIZE)
        if not data:
            return False
        read += len(data)
        ws.receive_data(bytes(data))
        for event in ws.events():
            if isinstance(event, Request):
                return True
    return False


def _refusal(status: int, port: int) -> bytes:
    phrase = http.HTTPStatus(status).phrase
    body = f"{status} {phrase}: the hostile test server refuses this upgrade\n".encode()
    headers = [
        f"HTTP/1.1 {status} {phrase}",
        "Content-Type: text/plain",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if 300 <= status < 400:
        headers.append(f"Location: ws://127.0.0.1:{port}/v4/ws/elsewhere")
    if status in (429, 503):
        headers.append("Retry-After: 1")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body


# -------------------------------------------------------------------------------- fixture


async def _listen(behaviour: Behaviour) -> trio.SocketListener:
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
    try:
        if behaviour.ping_flood_no_read:
            # set before listen(): accepted sockets inherit it, and the window it advertises
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, behaviour.rcvbuf)
        await sock.bind(("127.0.0.1", 0))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(sock)


@contextlib.asynccontextmanager
async def hostile_server(
    behaviour: Behaviour | None = None, /, **options: Any
) -> AsyncIterator[HostileServer]:
    """Serve `behaviour` (or `Behaviour(**options)`) on a free loopback port for the block."""
    if behaviour is None:
        behaviour = Behaviour(**options)
    elif options:
        behaviour = attrs.evolve(behaviour, **options)
    listener = await _listen(behaviour)
    port = listener.socket.getsockname()[1]
    server = HostileServer(behaviour, port)
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, server.handle, [listener])
        yield server
        nursery.cancel_scope.cancel(reason="hostile_server block ended")


@contextlib.contextmanager
def refusing_port() -> Iterator[str]:
    """A ws:// URL whose port refuses TCP: bound, so nobody else takes it, but not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    finally:
        sock.close()
