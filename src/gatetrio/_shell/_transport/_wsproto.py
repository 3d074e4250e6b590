"""gatetrio's own WebSocket client, driven by the task that reads, no background task.

    connect_websocket(stream, host=..., resource=..., headers=...)  the client handshake
    └─ WebSocket
       ├─ get_message()      next message; when none is parsed, one receive_some() + parse it all
       ├─ receive_nowait()   next already-parsed message, or trio.WouldBlock (no I/O)
       ├─ send_message()     under the send lock (pongs and close replies share the stream)
       ├─ aclose()           close handshake, then the stream; idempotent; the caller bounds it
       └─ abort()            drop the stream at once

Why not trio-websocket: its background reader task hands every message to the consumer through a
memory channel, one task switch per message on top of the consumer's own (benchmarks/README.md,
"End-to-end"). Here the caller's task parses a whole `receive_some` chunk per wake-up and the
messages wait in a deque until `receive_nowait` or `get_message` takes them. Nothing is read
while parsed messages are waiting, so a slow caller still pushes back on the server through
TCP, and at most one chunk's worth of messages is held.

The handshake is wsproto's (h11 underneath), imported when the first handshake runs: it is a
sixth of a first use's import time otherwise (benchmarks/README.md, "Import time"). It sits
behind `ResponseHead`, which drops the interim 1xx responses wsproto would take for a refusal
and bounds what is read before the final one. After it, frames are parsed by
`_frames.FrameParser` and built by `_frames.client_frame`: wsproto's per-frame machinery was
the largest cost of a flood (benchmarks/README.md, "Receive-side framing"); the parser is
fuzzed against wsproto.

Bounded whatever the server sends: parsed messages wait only until taken, a message costs its
frames' wire bytes against `max_message_size` however it is fragmented, and pings are answered
with one pong for the latest (RFC 6455 5.5.3), so a ping flood while our sends are stuck queues
nothing.

Errors: everything below this line (trio stream errors, OSError and ssl errors, wsproto's
protocol errors, a close frame, EOF) leaves as `gatetrio.ConnectionLost`, with `from exc` where
there is a foreign exception, worded by the one table in `_errors.py`. Concurrent
`get_message` calls are a usage error (`trio.BusyResourceError`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Final, final

import trio

from gatetrio._core._errors import ConnectionLost

from ._errors import TRANSPORT_ERRORS, connection_lost, is_transport_error
from ._frames import BINARY, MESSAGE_TOO_BIG, PONG, TEXT, FrameParser, client_frame, close_frame

log: Final = logging.getLogger("gatetrio.transport")

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wsproto import WSConnection

RECEIVE_SIZE: Final = 65536  # one wake-up takes in up to ~300 trade frames
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024  # a 400-level obu snapshot is ~20 kB; allow headroom
MAX_REJECT_BODY: Final = 65536  # bytes of a refused handshake's body read (and ignored)
MAX_RESPONSE_HEAD: Final = 65536  # bytes read before the final response starts (1xx ones)
_HTTP: Final = b"HTTP/"
_HEAD_END: Final = re.compile(rb"\r?\n\r?\n")  # the end of a response head (h11 takes bare LFs)


def _closed(code: int, reason: str | None) -> str:
    # int(): wsproto hands back CloseReason members for some codes
    return f"connection closed: {int(code)} {reason or ''}".rstrip()


async def connect_websocket(
    stream: trio.abc.Stream,
    *,
    host: str,
    resource: str,
    headers: Sequence[tuple[str, str]] = (),
    max_message_size: int = MAX_MESSAGE_SIZE,
    endpoint: str | None = None,
) -> WebSocket:
    """Run the client handshake over `stream` (already connected) and return the WebSocket.

    `host` is the Host header, `resource` the request target (path and query). No extensions
    are offered, so no permessage-deflate (spec 1.1). The WebSocket owns `stream` from here on:
    on failure or cancellation it is closed before this raises. `endpoint` is the URL dialed
    (`WebSocket.endpoint`); by default `ws://{host}{resource}`.

    Raises:
        ConnectionLost: the server refused the upgrade ("handshake: HTTP 503"), closed the
            stream, or sent something that is not an HTTP upgrade response.
    """
    try:
        ws = await _handshake(
            stream, host=host, resource=resource, headers=headers, max_message_size=max_message_size
        )
    except BaseException as exc:
        await trio.aclose_forcefully(stream)
        if isinstance(exc, Exception) and is_transport_error(exc):  # wsproto's errors too
            raise connection_lost("connect", exc) from exc
        raise
    ws.endpoint = f"ws://{host}{resource}" if endpoint is None else endpoint
    log.debug("handshake done: %s", ws.endpoint)
    return ws


async def _handshake(
    stream: trio.abc.Stream,
    *,
    host: str,
    resource: str,
    headers: Sequence[tuple[str, str]],
    max_message_size: int,
) -> WebSocket:
    from wsproto import ConnectionType, WSConnection  # noqa: PLC0415 - see the module docstring
    from wsproto.events import AcceptConnection, RejectConnection, Request  # noqa: PLC0415

    ws = WSConnection(ConnectionType.CLIENT)
    request = Request(
        host=host,
        target=resource,
        extra_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
    )
    await stream.send_all(ws.send(request))
    head = ResponseHead()
    while True:
        data = bytes(await stream.receive_some(RECEIVE_SIZE))
        final = head.feed(data)  # raises ConnectionLost for an endless or non-1.1 response
        if final:
            ws.receive_data(final)
        if not data:
            if not head.decided:  # (wsproto would say "Bad HTTP message")
                raise ConnectionLost("connect: connection closed during the handshake")
            ws.receive_data(None)  # EOF
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return WebSocket(stream, head.after(), max_message_size=max_message_size)
            if isinstance(event, RejectConnection):
                if event.has_body:
                    await _skip_reject_body(stream, ws)
                raise ConnectionLost(f"handshake: HTTP {event.status_code}")
        if not data:
            raise ConnectionLost("connect: connection closed during the handshake")


@final
class ResponseHead:
    """The server's answer to the upgrade request, up to the final response's head.

    wsproto takes any 1xx other than 101 for a refusal, so the interim responses HTTP allows
    before the final one (`100 Continue`, `102`, `103 Early Hints`, any number of them) are
    dropped here and wsproto sees the final response alone. The bytes read before the upgrade
    is accepted are bounded (MAX_RESPONSE_HEAD, interim responses included), so a server that
    sends endless headers or endless 1xx responses fails the handshake instead of holding it;
    a slow one is bounded by the caller's connect deadline. A 101 in anything but HTTP/1.1
    (RFC 6455 4.1) is refused: wsproto would take an HTTP/1.0 one.
    """

    __slots__ = ("_final", "_pending", "_read", "decided", "interim")

    def __init__(self) -> None:
        self._pending = bytearray()  # read, not yet known to be the final response
        self.decided = False  # the final response has begun
        self._final = b""  # given to wsproto: the final response and what follows it
        self._read = 0
        self.interim: list[int] = []  # status codes of the interim responses dropped

    def feed(self, data: bytes) -> bytes:
        """Take `data`; return the bytes that belong to the final response (for wsproto)."""
        if self.decided:  # (h11 bounds the final head itself: 16 KiB)
            self._final += data
            return data
        self._read += len(data)
        if self._read > MAX_RESPONSE_HEAD:
            raise ConnectionLost(
                f"handshake: no final response in the first {MAX_RESPONSE_HEAD} bytes "
                f"({len(self.interim)} interim responses skipped)"
            )
        self._pending += data
        if b"\n" in data or len(self._pending) - len(data) < len(_HTTP):
            return self._strip()
        return b""  # no new line, the start already judged: nothing to decide (no re-scan)

    def after(self) -> bytes:
        """The bytes behind the final (101) response's head: frames sent right after it."""
        end = _HEAD_END.search(self._final)
        return b"" if end is None else self._final[end.end() :]

    def _strip(self) -> bytes:
        """Drop complete interim responses from the front; return the final response's bytes
        once its status line is in."""
        pending = self._pending
        while True:
            if not _HTTP.startswith(pending[: len(_HTTP)]):  # a frame, a banner, noise
                raise ConnectionLost(
                    f"connect: not an HTTP response to the upgrade: {bytes(pending[:40])!r}"
                )
            line_end = pending.find(b"\n")
            if line_end < 0:
                return b""
            version, _, rest = bytes(pending[:line_end]).rstrip(b"\r").partition(b" ")
            code = rest.partition(b" ")[0]
            if not (len(code) == 3 and code.isdigit()):
                break  # not a status line: wsproto says what is wrong with it
            status = int(code)
            if status == 101 and version != b"HTTP/1.1":
                raise ConnectionLost(
                    f"handshake: {version.decode('latin-1')} 101; WebSocket needs HTTP/1.1"
                )
            if not 100 <= status < 200 or status == 101:
                break
            end = _HEAD_END.search(pending)
            if end is None:  # an interim head not complete yet
                return b""
            self.interim.append(status)
            log.debug("skipped an interim HTTP %d before the upgrade", status)
            del pending[: end.end()]
        self.decided = True
        self._final = bytes(pending)
        self._pending = bytearray()
        return self._final


async def _skip_reject_body(stream: trio.abc.Stream, ws: WSConnection) -> None:
    """Read a refused handshake's body to its end (or EOF, or MAX_REJECT_BODY), ignoring it.

    Reading it lets the server finish its response before we close; nothing in it is used.
    """
    from wsproto.events import RejectData  # noqa: PLC0415 - loaded by the handshake already

    read = 0
    while read < MAX_REJECT_BODY:
        for event in ws.events():
            if isinstance(event, RejectData) and event.body_finished:
                return
        data = await stream.receive_some(RECEIVE_SIZE)
        if not data:
            return
        read += len(data)
        ws.receive_data(bytes(data))


@final
class WebSocket:
    """A client WebSocket over a `trio.abc.Stream`, read by whichever task calls `get_message`.

    Made by `connect_websocket`. One task reads (`get_message`, `receive_nowait`); any task may
    send. Server pings are answered while reading. Messages received before the server's close
    frame are delivered before `get_message` raises `ConnectionLost`.
    """

    __slots__ = (
        "_changed",
        "_closing",
        "_getting",
        "_lost",
        "_lost_cause",
        "_max_message_size",
        "_messages",
        "_outgoing",
        "_parser",
        "_pong",
        "_receiving",
        "_send_lock",
        "_sent_close",
        "_stream",
        "_unparsed",
        "endpoint",
    )

    def __init__(self, stream: trio.abc.Stream, unparsed: bytes, *, max_message_size: int) -> None:
        self._stream = stream
        self.endpoint = ""  # the URL dialed; connect_websocket sets it
        self._max_message_size = max_message_size
        self._messages: collections.deque[str | bytes] = collections.deque()
        self._parser = FrameParser(self._messages, max_message_size=max_message_size)
        self._sent_close = False  # our close frame is out: no pong, nothing more sent
        self._outgoing = bytearray()  # control replies queued while the send lock was taken
        self._pong: bytes | None = None  # the payload of the latest ping not yet answered
        self._send_lock = trio.Lock()
        self._lost: str | None = None  # set once nothing more will be read: why
        self._lost_cause: BaseException | None = None
        self._closing = False  # aclose() was called
        self._getting = False  # a task is inside get_message()
        self._receiving = False  # a task is inside receive_some()
        self._changed: trio.Event | None = None  # set when a receive ends or a reader leaves
        # the handshake's response may have arrived with frames behind it
        self._unparsed = unparsed

    @property
    def close_reason(self) -> str | None:
        """Why the connection ended ("connection closed: 1000 ..."), or None while it is open."""
        return self._lost

    # ----------------------------------------------------------------------------- reading

    async def get_message(self) -> str | bytes:
        """Return the next message, reading from the stream only when none is parsed yet.

        Raises:
            ConnectionLost: the connection ended (close frame, EOF, error, or our `aclose`),
                once every message received before that has been returned.
            trio.BusyResourceError: another task is already waiting in get_message.
        """
        messages = self._messages
        if messages:
            await trio.lowlevel.checkpoint()  # a checkpoint even when a message is ready
            if messages:
                return messages.popleft()
        if self._getting:
            raise trio.BusyResourceError("another task is already reading this WebSocket")
        self._getting = True
        try:
            while not messages:
                if self._lost is not None:
                    raise ConnectionLost(self._lost) from self._lost_cause
                if self._receiving:  # aclose() is reading for the close reply
                    await self._wait_changed()
                else:
                    await self._receive()
            return messages.popleft()
        finally:
            self._getting = False
            self._notify()

    def receive_nowait(self) -> str | bytes:
        """Return the next already-parsed message, or raise trio.WouldBlock; never reads."""
        try:
            return self._messages.popleft()
        except IndexError:
            raise trio.WouldBlock from None

    async def _receive(self) -> None:
        """Read one chunk from the stream and parse every frame in it."""
        if self._unparsed:
            data: bytes | bytearray = self._unparsed
            self._unparsed = b""
        else:
            self._receiving = True
            try:
                data = await self._stream.receive_some(RECEIVE_SIZE)
            except TRANSPORT_ERRORS as exc:
                self._lose(connection_lost("receive", exc).reason, exc)
                raise ConnectionLost(self._lost or "") from exc
            finally:
                self._receiving = False
                self._notify()
            if not data:
                self._lose("connection closed: 1006 abnormal closure")
                return
        # (trio streams may hand back a bytearray; the parser slices bytes)
        self._parse(data if type(data) is bytes else bytes(data))
        if self._closing:
            self._messages.clear()  # after our close frame, data is of no interest
        if (self._outgoing or self._pong is not None) and not self._send_lock.locked():
            # (when the lock is taken, its holder sends these after its own bytes: _write)
            try:
                async with self._send_lock:
                    await self._flush()
            except TRANSPORT_ERRORS as exc:
                self._lose(connection_lost("send", exc).reason, exc)

    def _parse(self, data: bytes) -> None:
        """Parse `data` into queued messages, and queue the control replies it calls for."""
        parser = self._parser
        parser.feed(data)
        if parser.pings:
            if not self._sent_close:
                # RFC 6455 5.5.3: a pong for the latest ping is enough. So a ping flood, even
                # while our sends are stuck, holds one pending pong, not one per ping.
                self._pong = parser.pings[-1]
            parser.pings.clear()
        ended = parser.ended
        if ended is None or self._lost is not None:
            return
        if ended.remote_close:
            if not self._sent_close:  # the server started it: answer in kind
                self._send_close_frame(ended.code, ended.reason)
            self._lose(_closed(ended.code, ended.reason))
            return
        self._send_close_frame(ended.code, ended.reason)  # close with the violation's code
        if ended.code == MESSAGE_TOO_BIG:
            self._lose(
                f"connection closed: {MESSAGE_TOO_BIG} message too big "
                f"(over {self._max_message_size} bytes)"
            )
        else:
            self._lose(f"server broke the WebSocket protocol: {ended.code} {ended.reason}")

    def _send_close_frame(self, code: int, reason: str) -> None:
        if not self._sent_close:
            self._sent_close = True
            self._queue_pong()  # before the close frame: nothing goes after it
            self._outgoing += close_frame(code, reason)

    def _queue_pong(self) -> None:
        if self._pong is not None:
            self._outgoing += client_frame(PONG, self._pong)
            self._pong = None

    def _lose(self, reason: str, cause: BaseException | None = None) -> None:
        if self._lost is None:
            self._lost = reason
            self._lost_cause = cause
            log.debug("%s: %s", self.endpoint, reason)  # close codes, EOF, errors
        self._notify()

    # ------------------------------------------------------------------- waiting for others

    async def _wait_changed(self) -> None:
        if self._changed is None:
            self._changed = trio.Event()
        await self._changed.wait()

    def _notify(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    # ----------------------------------------------------------------------------- sending

    async def send_message(self, message: str | bytes) -> None:
        """Send one text (str) or binary (bytes) message.

        Raises:
            ConnectionLost: the connection is closed or closing.
        """
        if self._closing or self._lost is not None:
            await trio.lowlevel.checkpoint()
            raise ConnectionLost(f"send: {self._lost or 'the connection is closing'}")
        if self._sent_close or self._parser.ended is not None:
            await trio.lowlevel.checkpoint()
            raise ConnectionLost("send: the server is closing the connection")
        try:
            if isinstance(message, str):
                data = client_frame(TEXT, message.encode())
            else:
                data = client_frame(BINARY, bytes(message))
            await self._write(data)
        except TRANSPORT_ERRORS as exc:
            raise connection_lost("send", exc) from exc

    async def _write(self, data: bytes) -> None:
        async with self._send_lock:
            self._outgoing += data
            await self._flush()

    async def _flush(self) -> None:
        """Send everything queued; the send lock is held. The reader may add more meanwhile."""
        outgoing = self._outgoing
        while True:
            self._queue_pong()
            if not outgoing:
                return
            chunk = bytes(outgoing)
            outgoing.clear()
            await self._stream.send_all(chunk)

    # ----------------------------------------------------------------------------- closing

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close politely: send a close frame, wait for the server's reply, close the stream.

        Idempotent. Waits as long as the server takes to reply, so bound it (the client uses a
        shielded `move_on_after(CLOSE_GRACE)`, then `abort`); the stream is closed however it
        ends, even if cancelled. A task inside `get_message` meanwhile sees the reply and gets
        `ConnectionLost`; data received after the close frame is discarded.
        """
        if self._closing:
            await trio.lowlevel.checkpoint()
            return
        self._closing = True
        self._messages.clear()
        try:
            if self._lost is None and not self._sent_close:
                self._sent_close = True
                self._queue_pong()  # a pending pong goes before the close frame
                await self._write(close_frame(code, reason))
            while self._lost is None:
                if self._receiving:  # the reader will see the reply: let it
                    await self._wait_changed()
                else:
                    await self._receive()
        except ConnectionLost:
            pass  # the stream is gone: nothing left to say politely
        except TRANSPORT_ERRORS:
            pass  # the stream is gone: nothing left to say politely
        finally:
            self._lose(_closed(code, reason))
            self._messages.clear()
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await self._stream.aclose()  # closed is closed

    async def abort(self) -> None:
        """Close the stream now, without a close handshake."""
        self._closing = True
        self._lose("connection aborted")
        await trio.aclose_forcefully(self._stream)
