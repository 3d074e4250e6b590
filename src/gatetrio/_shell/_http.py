"""`H11Transport`: the REST helper's HTTP/1.1, on trio streams and h11.

Why not httpx (the first choice, kept until it was measured against hostile servers): a body
refused at its size cap must stop being read at once, and httpx reads a body through a chain
of five nested async generators that cannot be closed from the outside; under trio each one
left behind is reported as garbage collected unfinished. Here the body is one loop over h11
events, so stopping early just closes the socket. What else httpx gave and REST here needs is
small: a connection per request with keep-alive for GETs, TLS from the client's context, no
redirects, no proxies (as for the socket). h11 (wsproto's own dependency) bounds what it buffers:
a response head larger than MAX_HEAD is a protocol error, never a growing buffer.

Errors leave as `RestUnavailable`: `sent=False` only when the connection was never made (the
request cannot have been read), worded by the transport's one table (`_transport/_errors.py`).
h11 is imported on first use, so `import gatetrio` stays light.
"""

from __future__ import annotations

import contextlib
import ssl
import typing
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import trio

from gatetrio._core._errors import ConnectionLost, RestUnavailable, UsageError

from ._transport import map_transport_errors

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Sequence

    import h11

MAX_HEAD: Final = 64 * 1024  # bytes of status line and headers an answer may have
RECEIVE: Final = 65536
MAX_IDLE: Final = 4  # kept-alive connections per origin
CLOSE_GRACE: Final = 1.0
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
USER_AGENT: Final = "gatetrio"


@typing.final
class _Connection:
    """One HTTP/1.1 connection: a trio stream and its h11 state."""

    def __init__(self, stream: trio.abc.Stream, origin: str) -> None:
        import h11  # noqa: PLC0415 - loaded on first use

        self.stream = stream
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.received = 0  # bytes read from this connection, all requests together

    async def send(self, request: h11.Request, body: bytes) -> None:
        import h11  # noqa: PLC0415

        data = self.h11.send(request) or b""
        if body:
            data += self.h11.send(h11.Data(data=body)) or b""
        data += self.h11.send(h11.EndOfMessage()) or b""
        with self._mapped("sending"):
            await self.stream.send_all(data)

    async def next_event(self) -> object:
        """The next h11 event, reading as needed (b"" at the end of the stream)."""
        import h11  # noqa: PLC0415

        while True:
            with self._mapped("reading the answer"):
                event = self.h11.next_event()
                if event is not h11.NEED_DATA:
                    return event
                data = await self.stream.receive_some(RECEIVE)
            if not data and self.h11.their_state is h11.SEND_RESPONSE:  # (h11: "can't handle
                # event type ConnectionClosed when role=SERVER ...", which says nothing useful)
                raise RestUnavailable(f"{self.origin}: no answer, the connection closed")
            with self._mapped("reading the answer"):
                self.received += len(data)
                self.h11.receive_data(bytes(data))

    @property
    def reusable(self) -> bool:
        import h11  # noqa: PLC0415

        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    def recycle(self) -> None:
        self.h11.start_next_cycle()

    async def aclose(self) -> None:
        with trio.move_on_after(CLOSE_GRACE, shield=True):
            await trio.aclose_forcefully(self.stream)

    @contextlib.contextmanager
    def _mapped(self, stage: str) -> typing.Iterator[None]:
        import h11  # noqa: PLC0415

        try:
            with map_transport_errors(stage):
                yield
        except ConnectionLost as exc:
            raise RestUnavailable(f"{self.origin}: {exc.reason}") from exc
        except h11.RemoteProtocolError as exc:
            raise RestUnavailable(f"{self.origin}: not HTTP/1.1 as expected: {exc}") from exc
        except h11.LocalProtocolError as exc:  # a header our side cannot send, as sent
            raise RestUnavailable(f"{self.origin}: cannot send: {exc}", sent=False) from exc


@typing.final
class _Answer:
    """An answer whose body is still on the connection (`RestTransport`'s `HttpAnswer`)."""

    def __init__(self, connection: _Connection, response: h11.Response) -> None:
        self._connection = connection
        self.status = response.status_code
        self.headers: Sequence[tuple[str, str]] = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in response.headers
        ]
        self.complete = False  # the whole body was read: the connection may be kept

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        import h11  # noqa: PLC0415

        while True:
            event = await self._connection.next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
                return
            else:  # ConnectionClosed before the end, or a protocol oddity h11 let through
                raise RestUnavailable(f"{self._connection.origin}: the answer was cut short")


@typing.final
class H11Transport:
    """HTTP/1.1 for the REST helper (the default `RestTransport`).

    GETs reuse kept-alive connections (at most MAX_IDLE per origin); a request that changes
    state always gets a fresh one, so a stale connection can never make it ambiguous whether it
    was sent. TLS for https:// with `ssl_context` (None: the system's CAs).
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context  # None: the system's CAs, made on first https use
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._closed = False

    @contextlib.asynccontextmanager
    async def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> AsyncIterator[_Answer]:
        import h11  # noqa: PLC0415

        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise UsageError(f"REST URL {url!r} is not http:// or https://")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise UsageError(f"REST URL {url!r} has a bad port") from exc
        # never userinfo (user:password@) in the Host header or in any message
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        origin = f"{scheme}://{host}"
        key = (scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        idempotent = method in ("GET", "HEAD")
        framing = () if idempotent and not body else (("Content-Length", str(len(body))),)
        request = h11.Request(
            method=method,
            target=target,
            headers=[("Host", host), ("User-Agent", USER_AGENT), *framing, *headers],
        )
        connection = self._take_idle(key) if idempotent else None
        if connection is not None:
            before = connection.received
            try:
                response = await self._exchange(connection, request, body)
            except RestUnavailable:
                # a kept-alive connection the server had closed before answering: a GET may
                # go again on a fresh one
                await connection.aclose()
                if connection.received != before:
                    raise
                connection = None
        if connection is None:
            connection = await self._connect(scheme, parts.hostname, port, origin)
            try:
                response = await self._exchange(connection, request, body)
            except BaseException:
                await connection.aclose()
                raise
        answer = _Answer(connection, response)
        try:
            yield answer
        finally:
            if not (answer.complete and idempotent and self._keep(key, connection)):
                await connection.aclose()

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()
        await trio.lowlevel.checkpoint()

    # ------------------------------------------------------------------------- helpers

    async def _connect(self, scheme: str, host: str, port: int, origin: str) -> _Connection:
        try:
            with map_transport_errors("connect", host=host):
                stream: trio.abc.Stream
                if scheme == "https":
                    stream = await trio.open_ssl_over_tcp_stream(
                        host,
                        port,
                        ssl_context=self._tls(),
                        https_compatible=True,  # servers drop TCP without close_notify
                    )
                else:
                    stream = await trio.open_tcp_stream(host, port)
        except ConnectionLost as exc:
            raise RestUnavailable(f"{origin}: cannot connect: {exc.reason}", sent=False) from exc
        return _Connection(stream, origin)

    @staticmethod
    async def _exchange(connection: _Connection, request: h11.Request, body: bytes) -> h11.Response:
        import h11  # noqa: PLC0415

        await connection.send(request, body)
        while True:
            event = await connection.next_event()
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # 1xx: the real one follows
                raise RestUnavailable(f"{connection.origin}: no answer, the connection closed")

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        kept = self._idle.get(key)
        return kept.pop() if kept else None

    def _keep(self, key: tuple[str, str, int], connection: _Connection) -> bool:
        """Keep `connection` for the next GET to `key` if it may be reused and there is room."""
        kept = self._idle.setdefault(key, [])
        if self._closed or not connection.reusable or len(kept) >= MAX_IDLE:
            return False
        connection.recycle()
        kept.append(connection)
        return True
