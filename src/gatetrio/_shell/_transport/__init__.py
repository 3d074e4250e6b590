"""The WebSocket boundary: connectors, and the one place foreign exceptions are mapped.

A `Connector` opens a WebSocket and returns something `WebSocketLike`. The default one dials a
real URL and speaks WebSocket with gatetrio's own transport (`_websocket.WebSocket`: wsproto
driven by the client's reader task, no background task). `trio_websocket_connector` dials with
trio-websocket instead, for those who prefer it. `gatetrio.testing.FakeGateServer.connector`
reaches the fake exchange over in-memory streams with the default transport. Everything that can
go wrong below this line leaves as `gatetrio.ConnectionLost`.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import urlsplit

import trio
import trio_websocket

from gatetrio._core._errors import ConnectionLost

from ._wsproto import MAX_MESSAGE_SIZE, STREAM_ERRORS, WebSocket, connect_websocket

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from trio_websocket import WebSocketConnection

__all__ = [
    "MAX_MESSAGE_SIZE",
    "MESSAGE_QUEUE_SIZE",
    "TRANSPORT_ERRORS",
    "Connector",
    "WebSocket",
    "WebSocketLike",
    "connection_lost",
    "default_connector",
    "map_transport_errors",
    "open_connection",
    "trio_websocket_connector",
]

# trio-websocket's default queue of 1 message makes its reader task hand over every frame in
# lock-step with ours; a deeper queue lets it run ahead (perf-baseline: "triows_tuned").
MESSAGE_QUEUE_SIZE: Final = 64
DEFAULT_PORTS: Final = {"ws": 80, "wss": 443}


class WebSocketLike(Protocol):
    """What the client needs of a WebSocket connection.

    gatetrio's `WebSocket` and trio-websocket's `WebSocketConnection` both fit. A connection
    that also has `receive_nowait() -> str | bytes` (raising `trio.WouldBlock` when nothing is
    parsed yet), as gatetrio's does, lets the client's reader take a whole batch per wake-up.
    """

    async def get_message(self) -> str | bytes: ...

    async def send_message(self, message: str | bytes) -> None: ...

    async def aclose(self) -> None: ...


class Connector(Protocol):
    """Opens a WebSocket connection to `url` sending `headers` in the upgrade request.

    Anything the connection runs in the background goes in `nursery` (trio-websocket's reader
    task does; gatetrio's own transport has none).
    """

    async def __call__(
        self, nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike: ...


async def default_connector(
    nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
) -> WebSocket:
    """Dial `url` (ws:// or wss://) and run the handshake with gatetrio's own transport.

    TCP (trio's streams set TCP_NODELAY), TLS with the system's default verification for wss,
    and no permessage-deflate (spec 1.1).
    """
    del nursery  # no background task: the client's reader task drives the socket
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        await trio.lowlevel.checkpoint()
        raise ConnectionLost(f"connect: not a ws:// or wss:// URL: {url!r}")
    hostname = parts.hostname
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:  # out of range or not a number
        raise ConnectionLost(f"connect: bad port in {url!r}") from exc
    with map_transport_errors("connect"):
        stream: trio.abc.Stream
        if scheme == "wss":
            stream = await trio.open_ssl_over_tcp_stream(
                hostname,
                port,
                ssl_context=ssl.create_default_context(),
                # servers often drop TCP without a TLS close_notify; that is not an attack here
                https_compatible=True,
            )
        else:
            stream = await trio.open_tcp_stream(hostname, port)
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return await connect_websocket(stream, host=host, resource=resource, headers=headers)


async def trio_websocket_connector(
    nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
) -> WebSocketConnection:
    """Dial `url` with trio-websocket (its reader task runs in `nursery`); no permessage-deflate.

    About a third slower end to end than `default_connector` (benchmarks/README.md,
    "End-to-end"): trio-websocket's reader task hands over each message separately.
    """
    ssl_context = ssl.create_default_context() if url.startswith("wss://") else None
    with map_transport_errors("connect"):
        return await trio_websocket.connect_websocket_url(
            nursery,
            url,
            ssl_context=ssl_context,
            extra_headers=[(k.encode(), v.encode()) for k, v in headers],
            message_queue_size=MESSAGE_QUEUE_SIZE,
            max_message_size=MAX_MESSAGE_SIZE,
        )


async def open_connection(
    nursery: trio.Nursery,
    connector: Connector,
    url: str,
    headers: Sequence[tuple[str, str]],
) -> WebSocketLike:
    """Connect with `connector`, hosting whatever it runs in the background in a task of ours.

    trio-websocket runs a background reader in the nursery it is given, and that task can raise
    foreign errors (e.g. wsproto's LocalProtocolError when a server ping races our close
    frame). Hosting it here maps whatever it raises to ConnectionLost at this one boundary; so
    is anything a connector raises that is not ConnectionLost. (gatetrio's own transport runs
    nothing in the background: the hosting task ends as soon as it has connected.)
    """
    ws: WebSocketLike = await nursery.start(_host_connection, connector, url, headers)
    return ws


async def _host_connection(
    connector: Connector,
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    task_status: trio.TaskStatus[WebSocketLike],
) -> None:
    try:
        async with trio.open_nursery() as own:
            with map_transport_errors("connect"):
                ws = await connector(own, url, headers)
            task_status.started(ws)
    except ConnectionLost:
        raise
    except (Exception, BaseExceptionGroup) as exc:
        cancelled = isinstance(exc, BaseExceptionGroup) and exc.split(trio.Cancelled)[1] is None
        if cancelled:
            raise
        lost = _first_connection_lost(exc)
        if lost is not None:
            raise lost from exc
        raise ConnectionLost(f"websocket failed: {_describe(_first_leaf(exc))}") from exc


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _first_connection_lost(exc: BaseException) -> ConnectionLost | None:
    if isinstance(exc, BaseExceptionGroup):
        matched = exc.subgroup(ConnectionLost)
        if matched is not None:
            leaf = _first_leaf(matched)
            return leaf if isinstance(leaf, ConnectionLost) else None
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, trio_websocket.ConnectionClosed):
        reason = exc.reason
        if reason is None:
            return "connection closed"
        return f"connection closed: {reason.code} {reason.name} {reason.reason or ''}".rstrip()
    if isinstance(exc, trio_websocket.ConnectionRejected):
        return f"handshake rejected with HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}"


TRANSPORT_ERRORS: Final = (
    trio_websocket.ConnectionClosed,
    trio_websocket.HandshakeError,
    *STREAM_ERRORS,  # trio's broken/closed stream errors, OSError (ssl too), wsproto's errors
)
"""What a connection raises when it is gone; all become ConnectionLost.

gatetrio's own `WebSocket` raises ConnectionLost itself; this is for trio-websocket ones.
"""


def connection_lost(operation: str, exc: BaseException) -> ConnectionLost:
    """The ConnectionLost for a TRANSPORT_ERRORS exception (raise it `from exc`)."""
    return ConnectionLost(f"{operation}: {_describe(exc)}")


@contextlib.contextmanager
def map_transport_errors(operation: str) -> Iterator[None]:
    """Map trio-websocket / socket / TLS / wsproto errors to ConnectionLost, with `from exc`."""
    try:
        yield
    except TRANSPORT_ERRORS as exc:
        raise connection_lost(operation, exc) from exc
