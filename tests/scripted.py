"""A scripted hostile WebSocket server: raw bytes at scripted times, in memory or on loopback.

    scripts = [Script((Upgrade(), Send(frame(TEXT, b"hi", rsv=4)))), ...]   # connection 1, 2, ...
    async with open_scripted_server(scripts, then=serve_trades()) as server:
        async with gatetrio.open_client(connector=server.connector, ...) as client: ...
    async with open_scripted_server(scripts, loopback=True) as server:      # a real TCP port
        async with gatetrio.open_client(url=server.url, ...) as client: ...

Each connection the client makes runs the next `Script` (after the list, `then`, or a tuple of
them in turn for ever): a list of steps that write exactly the bytes they are given, when they
are told to, so anything a server can do on the wire can be written down, handshakes included.
The in-memory connector hands the client's end of a `gatetrio.testing.memory_socket_pair` to
the client's own transport (`connect_websocket`, as `default_connector` does after dialing), so
under `autojump_clock` a script's sleeps are virtual and exact; on loopback the same scripts run
over TCP on trio's real clock. `ScriptedRest` does the same for REST answers
(`open_client(rest_transport=...)`). Hypothesis builds scripts from `tests/strategies.py`
(`hostile_scripts`), so it draws both what the server does and when.

Steps (run in order; the connection stays open afterwards until the client leaves):

    Upgrade(respond, trickle) read the upgrade request, write respond(key) (default: a good 101;
                              with `trickle`, a byte every `trickle` s), then answer the
                              client in the background as the script says
    Send(data)                write raw bytes
    Trickle(data, every, size)  write `data` `size` bytes at a time, `every` seconds apart
    Repeat(data, times, every)  write `data` `times` times (None: until the client leaves)
    Sleep(seconds)
    Await(channel, event)     wait for the client's next text frame of that channel (and event)
    Reply(build)              write build(the frame Await matched, as JSON)
    Each(build, times, every) write build(0), build(1), ... `every` s apart
    Eof()                     close our side (TCP FIN / end of the memory stream)
    Hold()                    wait until the client leaves

After `Upgrade`, a background reader takes the client's frames: with `Script.pong` it answers
`futures.ping` with `futures.pong`, with `Script.ack` it acknowledges every subscribe and
unsubscribe, with `Script.close_reply` it answers a close frame with one; a frame that one of
the script's `Await` steps (still to run) would take is left to the script. (Those answers are
whole text frames written whenever the client asks: a script that leaves a fragmented message
open on purpose turns them off, or they break the message.) What the client did is in
`ConnectionRecord`: its request, text frames, WebSocket pongs, close code, EOF.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import struct
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import Final
from urllib.parse import urlsplit

import attrs
import trio
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Pong, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from gatetrio import Trade
from gatetrio._shell._transport import MAX_MESSAGE_SIZE
from gatetrio._shell._transport._wsproto import WebSocket, connect_websocket
from gatetrio.events import Pong as GatePong
from gatetrio.events import SubscribeAck, TradesUpdate, UpgradeRequested, encode_event
from gatetrio.testing import memory_socket_pair

PATH: Final = "/v4/ws/usdt"
MEMORY_URL: Final = f"ws://scripted.invalid{PATH}"
GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_REQUEST: Final = 65536  # an upgrade request longer than this is not read further
MAX_KEPT: Final = 2000  # client text frames kept per connection; the rest are only counted
CONTRACT: Final = "BTC_USDT"
MARK_ID: Final = 424242  # the id of the trade `serve_trades` sends: "the client is back to normal"

CONTINUATION: Final = 0x0
TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA

_GONE: Final = (
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    OSError,
    LocalProtocolError,
    RemoteProtocolError,
)


# ------------------------------------------------------------------------------ wire builders


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length_form: int = 0,
    length: int | None = None,
) -> bytes:
    """One server frame, as given: `rsv` bits, a `mask` key (servers must not mask), a length
    in the 2- or 8-byte form even when not needed (`length_form`), or a `length` field that
    does not match the payload (e.g. 2**63)."""
    first = (0x80 if fin else 0) | (rsv & 7) << 4 | opcode & 0x0F
    size = len(payload) if length is None else length
    mask_bit = 0x80 if mask is not None else 0
    if length_form == 8 or (not length_form and size >= 65536):
        header = bytes((first, mask_bit | 127)) + struct.pack("!Q", size)
    elif length_form == 2 or (not length_form and size >= 126):
        header = bytes((first, mask_bit | 126)) + struct.pack("!H", size)
    else:
        header = bytes((first, mask_bit | size))
    if mask is None:
        return header + payload
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def text(message: str | bytes) -> bytes:
    """A whole text frame (`bytes` are sent as they are: not necessarily UTF-8)."""
    return frame(TEXT, message.encode() if isinstance(message, str) else message)


def close_payload(code: int | None, reason: bytes = b"") -> bytes:
    return b"" if code is None else struct.pack("!H", code) + reason


def fragments(
    opcode: int, payload: bytes, size: int, *, between: bytes = b"", empty: int = 0
) -> bytes:
    """`payload` as one message in fragments of `size` bytes, `between` (e.g. a ping) after
    each, and `empty` empty fragments after the first."""
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
    out = [frame(opcode, pieces[0], fin=len(pieces) == 1 and not empty), between]
    out.extend(frame(CONTINUATION, b"", fin=False) for _ in range(empty))
    if empty and len(pieces) == 1:
        out.append(frame(CONTINUATION, b""))
    for i, piece in enumerate(pieces[1:], start=2):
        out.append(frame(CONTINUATION, piece, fin=i == len(pieces)))
        out.append(between)
    return b"".join(out)


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324 - RFC 6455's hash


def upgrade_response(
    key: bytes,
    *,
    status: bytes = b"HTTP/1.1 101 Switching Protocols",
    accept: bytes | None = None,
    upgrade: bytes | None = b"websocket",
    connection: bytes | None = b"Upgrade",
    extra: Sequence[tuple[bytes, bytes]] = (),
    before: bytes = b"",
) -> bytes:
    """A 101 response to `key` (or what a test makes of one): `accept` replaces the right
    Sec-WebSocket-Accept (b"" drops it), None drops the Upgrade or Connection header, `extra`
    adds headers, `before` goes first (interim 1xx responses, garbage)."""
    lines = [status]
    if upgrade is not None:
        lines.append(b"Upgrade: " + upgrade)
    if connection is not None:
        lines.append(b"Connection: " + connection)
    token = accept_key(key) if accept is None else accept
    if token:
        lines.append(b"Sec-WebSocket-Accept: " + token)
    lines.extend(name + b": " + value for name, value in extra)
    return before + b"\r\n".join(lines) + b"\r\n\r\n"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def ack_for(request: dict[str, object], *, event: str | None = None) -> bytes:
    """The success reply Gate sends to a subscribe/unsubscribe `request`."""
    rid = request.get("id")
    payload = request.get("payload")
    ms = _now_ms()
    return text(
        encode_event(
            SubscribeAck(
                channel=str(request.get("channel", "")),
                event=event or str(request.get("event", "")),
                id=rid if isinstance(rid, int) and not isinstance(rid, bool) else None,
                payload=tuple(payload)
                if isinstance(payload, list) and all(isinstance(p, str) for p in payload)
                else None,
                time=ms // 1000,
                time_ms=ms,
            )
        )
    )


def error_for(request: dict[str, object], error: object) -> bytes:
    """An error reply to `request` with `error` as the error field, whatever its shape."""
    frame_json = {
        "time": _now_ms() // 1000,
        "channel": request.get("channel"),
        "event": request.get("event"),
        "id": request.get("id"),
        "payload": request.get("payload"),
        "error": error,
        "result": None,
    }
    return text(json.dumps(frame_json))


def pong_text() -> bytes:
    ms = _now_ms()
    return text(encode_event(GatePong(time=ms // 1000, time_ms=ms)))


def trade_json(trade_id: int = MARK_ID, contract: str = CONTRACT) -> bytes:
    """A futures.trades push of one trade, as JSON text (the payload of a text frame)."""
    ms = _now_ms()
    trade = Trade(
        id=trade_id, contract=contract, price=Decimal("63994.5"), size=1, create_time=ms // 1000
    )
    return encode_event(TradesUpdate((trade,), time=ms // 1000, time_ms=ms)).encode()


def trade_text(trade_id: int = MARK_ID, contract: str = CONTRACT) -> bytes:
    """`trade_json` in a text frame."""
    return text(trade_json(trade_id, contract))


def upgrade_text() -> bytes:
    ms = _now_ms()
    notice = UpgradeRequested(msg="service upgrade", time=ms // 1000, time_ms=ms)
    return text(encode_event(notice))


# ------------------------------------------------------------------------------------ steps


def good_upgrade(key: bytes) -> bytes:
    return upgrade_response(key)


@attrs.frozen
class Upgrade:
    respond: Callable[[bytes], bytes] = good_upgrade
    trickle: float | None = None  # write the response a byte at a time, this many s apart


@attrs.frozen
class Send:
    data: bytes


@attrs.frozen
class Trickle:
    data: bytes
    every: float
    size: int = 1


@attrs.frozen
class Repeat:
    data: bytes
    times: int | None
    every: float = 0.0


@attrs.frozen
class Sleep:
    seconds: float


@attrs.frozen
class Await:
    channel: str
    event: str | None = None
    limit: float = 60.0  # seconds at most; then the script goes on without it


@attrs.frozen
class Reply:
    build: Callable[[dict[str, object]], bytes]


@attrs.frozen
class Eof:
    pass


@attrs.frozen
class Hold:
    pass


@attrs.frozen
class Each:
    """Write build(0), build(1), ... build(times - 1), `every` seconds apart (e.g. deltas with
    increasing ids)."""

    build: Callable[[int], bytes]
    times: int
    every: float = 0.0


Step = Upgrade | Send | Trickle | Repeat | Sleep | Await | Reply | Eof | Hold | Each


@attrs.frozen
class Script:
    """What one connection does: its steps, and how the background reader answers."""

    steps: tuple[Step, ...]
    pong: bool = True  # answer futures.ping with futures.pong
    ack: bool = True  # acknowledge every subscribe/unsubscribe
    close_reply: bool = True  # answer a close frame with a close frame


GOOD: Final = Script((Upgrade(),))


def serve_trades(*, extra: tuple[Step, ...] = ()) -> Script:
    """A well-behaved connection: upgrade, ack the trades subscribe, send the MARK_ID trade."""
    return Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Send(trade_text()),
            *extra,
        ),
        ack=True,
    )


# ------------------------------------------------------------------------------- the server


@attrs.define(eq=False)
class ConnectionRecord:
    """What happened on one connection (numbered from 1)."""

    index: int
    request: bytes = b""  # the client's upgrade request head
    upgraded: bool = False  # the script sent its Upgrade response
    texts: list[str] = attrs.field(factory=list)  # client text frames, up to MAX_KEPT
    frames_in: int = 0  # client data frames, all of them
    ws_pongs: list[bytes] = attrs.field(factory=list)  # payloads of its pongs, up to MAX_KEPT
    ws_pong_count: int = 0
    client_close: int | None = None  # the code of the client's close frame
    client_eof: bool = False  # the client closed its side (or the stream broke)
    bytes_out: int = 0
    steps_done: bool = False
    ended: bool = False

    def messages(self) -> list[dict[str, object]]:
        """The client's text frames that are JSON objects."""
        out = []
        for raw in self.texts:
            with contextlib.suppress(ValueError):
                obj = json.loads(raw)
                if isinstance(obj, dict):
                    out.append(obj)
        return out


class _Peer:
    """One connection being served: its stream, record, and the client's frames."""

    def __init__(
        self, stream: trio.abc.Stream, record: ConnectionRecord, notify: Callable[[], None]
    ) -> None:
        self.stream = stream
        self.record = record
        self.notify = notify
        self.lock = trio.Lock()
        self.ws = Connection(ConnectionType.SERVER)
        self.inbox: list[dict[str, object]] = []  # JSON frames not yet taken by an Await
        self.awaiting: list[Await] = []  # the script's Await steps still to run
        self.arrived = trio.Event()
        self.gone = trio.Event()

    async def send(self, data: bytes) -> None:
        if not data:
            await trio.lowlevel.checkpoint()
            return
        async with self.lock:
            await self.stream.send_all(data)
        self.record.bytes_out += len(data)

    def lost(self) -> None:
        self.record.client_eof = True
        self.gone.set()
        self.arrived.set()
        self.notify()


class ScriptedServer:
    """Serves `scripts` to successive connections, then `then`; see the module docstring."""

    def __init__(
        self,
        scripts: Sequence[Script],
        then: Script | tuple[Script, ...],
        *,
        max_message_size: int = MAX_MESSAGE_SIZE,
        capacity: int = 65536,
    ) -> None:
        self.scripts = tuple(scripts)
        self.then = then
        self.max_message_size = max_message_size
        self.capacity = capacity
        self.url = MEMORY_URL
        self.connections: list[ConnectionRecord] = []
        self._changed = trio.Event()
        self._nursery: trio.Nursery | None = None

    def _then(self, index: int) -> Script:
        then = self.then
        return then if isinstance(then, Script) else then[(index - len(self.scripts)) % len(then)]

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once `condition()` holds (checked whenever a connection records something)."""
        while not condition():
            await self._changed.wait()

    def scripted_done(self) -> bool:
        """Every scripted connection (not `then`) has run its steps to the end, or ended."""
        scripted = self.connections[: len(self.scripts)]
        return len(scripted) == len(self.scripts) and all(c.steps_done or c.ended for c in scripted)

    async def connector(
        self, nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocket:
        """A `Connector` reaching this server in memory, through the client's own transport."""
        del nursery
        assert self._nursery is not None, "use open_scripted_server"
        client_stream, server_stream = memory_socket_pair(self.capacity)
        self._nursery.start_soon(self.serve, server_stream)
        parts = urlsplit(url)
        return await connect_websocket(
            client_stream,
            host=parts.netloc,
            resource=parts.path or "/",
            headers=headers,
            max_message_size=self.max_message_size,
            endpoint=url,
        )

    async def serve(self, stream: trio.abc.Stream) -> None:
        """Run the next script on `stream` (in memory or an accepted TCP connection)."""
        record = ConnectionRecord(len(self.connections) + 1)
        self.connections.append(record)
        index = record.index - 1
        script = self.scripts[index] if index < len(self.scripts) else self._then(index)
        peer = _Peer(stream, record, self._notify)
        self._notify()
        try:
            async with stream, trio.open_nursery() as nursery:
                try:
                    await self._run(peer, script, nursery)
                    record.steps_done = True
                    self._notify()
                    await self._wait_gone(peer, nursery)
                except _GONE:
                    pass
                nursery.cancel_scope.cancel()
        except _GONE:
            pass
        finally:
            record.ended = True
            self._notify()

    async def _wait_gone(self, peer: _Peer, nursery: trio.Nursery) -> None:
        """Keep the connection until the client leaves (reading it, if nobody else does)."""
        if not peer.record.upgraded and not peer.gone.is_set():
            nursery.start_soon(self._drain, peer)
        await peer.gone.wait()

    async def _drain(self, peer: _Peer) -> None:
        with contextlib.suppress(*_GONE):
            while await peer.stream.receive_some(65536):
                pass
        peer.lost()

    async def _run(self, peer: _Peer, script: Script, nursery: trio.Nursery) -> None:
        last: dict[str, object] = {}
        peer.awaiting = [step for step in script.steps if isinstance(step, Await)]
        for step in script.steps:
            if peer.gone.is_set():
                return
            match step:
                case Upgrade(respond=respond, trickle=trickle):
                    key = await _read_request(peer)
                    if key is None:
                        return
                    response = respond(key)
                    if trickle is None:
                        await peer.send(response)
                    else:
                        for i in range(len(response)):
                            await peer.send(response[i : i + 1])
                            await trio.sleep(trickle)
                    peer.record.upgraded = True
                    nursery.start_soon(self._read, peer, script)
                case Send(data=data):
                    await peer.send(data)
                case Trickle(data=data, every=every, size=size):
                    for i in range(0, len(data), size):
                        await peer.send(data[i : i + size])
                        await trio.sleep(every)
                case Repeat(data=data, times=times, every=every):
                    done = 0
                    while (times is None or done < times) and not peer.gone.is_set():
                        await peer.send(data)
                        done += 1
                        if every:
                            await trio.sleep(every)
                        else:
                            await trio.lowlevel.checkpoint()
                case Sleep(seconds=seconds):
                    with trio.move_on_after(seconds):
                        await peer.gone.wait()  # (nothing left to do once the client is gone)
                case Await(channel=channel, event=event, limit=limit):
                    with trio.move_on_after(limit):
                        last = await _take(peer, channel, event)
                    peer.awaiting.remove(step)
                case Reply(build=build):
                    await peer.send(build(last))
                case Eof():
                    await peer.stream.aclose()
                    return
                case Hold():
                    await peer.gone.wait()
                case Each(build=build, times=times, every=every):
                    for i in range(times):
                        await peer.send(build(i))
                        with trio.move_on_after(every):
                            await peer.gone.wait()
                        if peer.gone.is_set():
                            return

    async def _read(self, peer: _Peer, script: Script) -> None:
        """The client's frames after the upgrade: record them, answer as the script says."""
        ws = peer.ws
        record = peer.record
        try:
            while True:
                data = await peer.stream.receive_some(65536)
                ws.receive_data(bytes(data) if data else None)
                for event in ws.events():
                    if isinstance(event, TextMessage):
                        record.frames_in += 1
                        if len(record.texts) < MAX_KEPT:
                            record.texts.append(event.data)
                        await self._on_text(peer, script, event.data)
                    elif isinstance(event, BytesMessage):
                        record.frames_in += 1
                    elif isinstance(event, Pong):
                        record.ws_pong_count += 1
                        if len(record.ws_pongs) < MAX_KEPT:
                            record.ws_pongs.append(bytes(event.payload))
                    elif isinstance(event, CloseConnection):
                        if not data or record.client_close is not None:
                            continue  # wsproto's 1006 for the EOF, or a second close
                        record.client_close = int(event.code)
                        if script.close_reply:
                            with contextlib.suppress(*_GONE):
                                await peer.send(frame(CLOSE, close_payload(int(event.code))))
                    peer.notify()
                if not data:
                    break
        except _GONE:
            pass
        peer.lost()

    async def _on_text(self, peer: _Peer, script: Script, raw: str) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        peer.inbox.append(msg)
        peer.arrived.set()
        channel, event = msg.get("channel"), msg.get("event")
        if any(a.channel == channel and a.event in (None, event) for a in peer.awaiting):
            return  # a step of the script waits for this one: the script answers it
        if channel == "futures.ping" and script.pong:
            await peer.send(pong_text())
        elif event in ("subscribe", "unsubscribe") and script.ack:
            await peer.send(ack_for(msg))


async def _take(peer: _Peer, channel: str, event: str | None) -> dict[str, object]:
    """The client's next JSON frame of `channel` (and `event`), waiting for it."""
    while True:
        for i, msg in enumerate(peer.inbox):
            if msg.get("channel") == channel and (event is None or msg.get("event") == event):
                del peer.inbox[: i + 1]
                return msg
        if peer.gone.is_set():
            return {}
        peer.arrived = trio.Event()
        await peer.arrived.wait()


async def _read_request(peer: _Peer) -> bytes | None:
    """Read the client's upgrade request; its Sec-WebSocket-Key, or None if it never came."""
    head = b""
    while b"\r\n\r\n" not in head:
        if len(head) > MAX_REQUEST:
            return None
        data = await peer.stream.receive_some(65536)
        if not data:
            peer.lost()
            return None
        head += data
    peer.record.request = head
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            return value.strip()
    return b""


@contextlib.asynccontextmanager
async def open_scripted_server(
    scripts: Sequence[Script],
    *,
    then: Script | tuple[Script, ...] = GOOD,
    loopback: bool = False,
    max_message_size: int = MAX_MESSAGE_SIZE,
    capacity: int = 65536,
) -> AsyncIterator[ScriptedServer]:
    """Serve `scripts` for the block: in memory (`server.connector`), or also on a loopback
    port (`server.url`, for the default connector) with `loopback=True`. After `scripts`,
    every connection runs `then`, or the next of several in turn (a tuple: for ever)."""
    server = ScriptedServer(scripts, then, max_message_size=max_message_size, capacity=capacity)
    async with trio.open_nursery() as nursery:
        server._nursery = nursery
        if loopback:
            serve = functools.partial(trio.serve_tcp, server.serve, 0, host="127.0.0.1")
            listeners: list[trio.SocketListener] = await nursery.start(serve)
            port = listeners[0].socket.getsockname()[1]
            server.url = f"ws://127.0.0.1:{port}{PATH}"
        yield server
        nursery.cancel_scope.cancel(reason="scripted server block ended")


# ------------------------------------------------------------------------------- REST, scripted


@attrs.frozen
class RestAnswer:
    """One scripted answer of `ScriptedRest`: after `delay` s the status and headers, then
    `body` (or body(target)) `repeat` times in `chunk`-byte pieces `every` s apart; with
    `never`, no answer at all (the caller's deadline ends it)."""

    status: int = 200
    body: bytes | Callable[[str], bytes] = b"{}"
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    repeat: int = 1
    chunk: int = 65536
    every: float = 0.0
    delay: float = 0.0
    never: bool = False


@attrs.define
class _RestReply:
    status: int
    headers: Sequence[tuple[str, str]]
    answer: RestAnswer
    target: str

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        answer = self.answer
        body = answer.body(self.target) if callable(answer.body) else answer.body
        for _ in range(answer.repeat):
            for start in range(0, len(body), answer.chunk):
                if answer.every:
                    await trio.sleep(answer.every)
                else:
                    await trio.lowlevel.checkpoint()
                yield body[start : start + answer.chunk]


class ScriptedRest:
    """A REST transport (`open_client(rest_transport=...)`) answering each request with the
    next scripted `RestAnswer`, then `then` for ever. `targets` lists what was asked.

    The contract check a live book makes first (``GET .../contracts/{name}``) is answered
    "listed" and kept apart (`checks`): the script is about what comes after it."""

    def __init__(self, answers: Sequence[RestAnswer], then: RestAnswer) -> None:
        self.answers = list(answers)
        self.then = then
        self.targets: list[str] = []
        self.checks: list[str] = []

    @contextlib.asynccontextmanager
    async def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> AsyncIterator[_RestReply]:
        del method, headers, body
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head, _, name = parts.path.rpartition("/")
        if head.endswith("/contracts"):
            self.checks.append(target)
            listed = RestAnswer(body=json.dumps({"name": name}).encode())
            yield _RestReply(200, listed.headers, listed, target)
            return
        index = len(self.targets)
        self.targets.append(target)
        answer = self.answers[index] if index < len(self.answers) else self.then
        if answer.never:
            await trio.sleep_forever()
        await trio.sleep(answer.delay)
        yield _RestReply(answer.status, answer.headers, answer, target)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
