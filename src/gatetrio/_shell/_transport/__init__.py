"""The WebSocket boundary: connectors, the connection protocol, one error table.

A `Connector` opens a WebSocket and returns something `WebSocketLike`. The default one dials a
real URL and speaks WebSocket with gatetrio's own transport (`_wsproto.WebSocket`: wsproto
driven by the client's reader task, no background task); `make_connector(ssl_context=...)`
makes one with your TLS settings. `gatetrio.testing.FakeGateServer.connector` reaches the fake
exchange over in-memory streams with the default transport, and `gatetrio.testing` also has a
trio-websocket adapter. Everything that can go wrong below this line leaves as
`gatetrio.ConnectionLost`, worded by the one table in `_errors.py`.
"""

from __future__ import annotations

import functools
import ssl
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import urlsplit

import trio

from gatetrio._core._errors import ConnectionLost, UsageError
from gatetrio._shell._excgroups import collapse, only_of

from ._errors import (
    TRANSPORT_ERRORS,
    connection_lost,
    describe,
    is_transport_error,
    map_transport_errors,
)
from ._wsproto import MAX_MESSAGE_SIZE, WebSocket, connect_websocket

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "MAX_MESSAGE_SIZE",
    "MESSAGE_QUEUE_SIZE",
    "TRANSPORT_ERRORS",
    "Connector",
    "WebSocket",
    "WebSocketLike",
    "connection_lost",
    "default_connector",
    "is_transport_error",
    "make_connector",
    "map_transport_errors",
    "open_connection",
]

# trio-websocket's default queue of 1 message makes its reader task hand over every frame in
# lock-step with ours; a deeper queue lets it run ahead (perf-baseline: "triows_tuned").
MESSAGE_QUEUE_SIZE: Final = 64
DEFAULT_PORTS: Final = {"ws": 80, "wss": 443}


class WebSocketLike(Protocol):
    """What the client needs of a WebSocket connection.

    gatetrio's `WebSocket` fits, and so does `gatetrio.testing.TrioWebSocket` (trio-websocket
    behind an adapter). Every method raises `gatetrio.ConnectionLost` once the connection is
    gone, nothing foreign.
    """

    @property
    def endpoint(self) -> str:
        """The URL actually dialed (for `Client.statistics().url`)."""
        ...

    async def get_message(self) -> str | bytes:
        """The next message; blocks until one arrives or the connection ends."""
        ...

    def receive_nowait(self) -> str | bytes:
        """The next message already received, or `trio.WouldBlock`; never does I/O.

        It lets the client's reader take a whole batch per wake-up.
        """
        ...

    async def send_message(self, message: str | bytes) -> None:
        """Send one text (str) or binary (bytes) message."""
        ...

    async def aclose(self) -> None:
        """Close politely (close handshake); idempotent; the caller bounds how long it waits."""
        ...

    async def abort(self) -> None:
        """Drop the connection now, without a close handshake."""
        ...


class Connector(Protocol):
    """Opens a WebSocket connection to `url` sending `headers` in the upgrade request.

    Anything the connection runs in the background goes in `nursery` (trio-websocket's reader
    task does; gatetrio's own transport has none).
    """

    async def __call__(
        self, nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike: ...


async def default_connector(
    nursery: trio.Nursery,
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> WebSocket:
    """Dial `url` (ws:// or wss://) and run the handshake with gatetrio's own transport.

    TCP (trio's streams set TCP_NODELAY), TLS for wss with `ssl_context` (by default
    `ssl.create_default_context()`: the system's CAs, hostname checking), and no
    permessage-deflate (spec 1.1). Use `make_connector(ssl_context=...)` to pass the context
    as a `Connector`.

    Raises:
        ConnectionLost: the URL is not ws(s)://, or dialing, TLS or the handshake failed
            ("connect: [Errno 111] Connection refused", "handshake: HTTP 429", ...).
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
    with map_transport_errors("connect", host=hostname):
        stream: trio.abc.Stream
        if scheme == "wss":
            stream = await trio.open_ssl_over_tcp_stream(
                hostname,
                port,
                ssl_context=ssl_context or ssl.create_default_context(),
                # servers often drop TCP without a TLS close_notify; that is not an attack here
                https_compatible=True,
            )
        else:
            stream = await trio.open_tcp_stream(hostname, port)
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return await connect_websocket(
        stream, host=host, resource=resource, headers=headers, endpoint=url
    )


def make_connector(*, ssl_context: ssl.SSLContext | None = None) -> Connector:
    """A `default_connector` that uses `ssl_context` for wss:// (a private CA, client
    certificates, pinned TLS versions). None: the system's default verification."""
    if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
        raise UsageError(
            f"ssl_context must be an ssl.SSLContext (ssl.create_default_context()), "
            f"not {type(ssl_context).__name__}"
        )
    connector: Connector = functools.partial(default_connector, ssl_context=ssl_context)
    return connector


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
        if isinstance(exc, BaseExceptionGroup):
            lost = only_of(exc, ConnectionLost)
            if lost is not None:  # itself, with its own cause: the group says nothing more
                raise lost from lost.__cause__
            error = collapse(exc)
            if error is exc:
                raise  # only Cancelled: the scope that cancelled absorbs it
            if not isinstance(error, Exception) or isinstance(error, ConnectionLost):
                # KeyboardInterrupt wins; one ConnectionLost is itself (its own cause, no group)
                raise error from error.__cause__
        else:
            error = exc
        if is_transport_error(error):  # e.g. trio-websocket's reader task's
            raise connection_lost("connect", error) from exc
        # a connector that fails in its own way is a connection that failed: reconnect
        raise ConnectionLost(f"websocket failed: {describe(error)}") from exc
