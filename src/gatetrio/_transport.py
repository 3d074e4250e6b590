"""The WebSocket boundary: connectors, and the one place foreign exceptions are mapped.

A `Connector` opens a trio-websocket connection whose background task runs in the given nursery.
The default one dials a real URL; `gatetrio.testing.FakeGateServer.connector` speaks real
WebSocket frames over in-memory streams. Everything that can go wrong below this line leaves as
`gatetrio.ConnectionLost`.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import TYPE_CHECKING, Final, Protocol

import trio
import trio_websocket

from ._errors import ConnectionLost

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from trio_websocket import WebSocketConnection

# trio-websocket's default queue of 1 message makes its reader task hand over every frame in
# lock-step with ours; a deeper queue lets it run ahead (perf-baseline: "triows_tuned").
MESSAGE_QUEUE_SIZE: Final = 64
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024  # a 400-level obu snapshot is ~20 kB; allow headroom


class Connector(Protocol):
    """Opens a WebSocket connection to `url` sending `headers` in the upgrade request."""

    async def __call__(
        self, nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketConnection: ...


async def default_connector(
    nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
) -> WebSocketConnection:
    """Dial `url` with trio-websocket; permessage-deflate is never offered (spec 1.1)."""
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
) -> WebSocketConnection:
    """Connect with `connector`, hosting trio-websocket's reader task in a task of our own.

    trio-websocket runs a background reader in the nursery it is given, and that task can raise
    foreign errors (e.g. wsproto's LocalProtocolError when a server ping races our close
    frame). Hosting it here maps whatever it raises to ConnectionLost at this one boundary.
    """
    ws: WebSocketConnection = await nursery.start(_host_connection, connector, url, headers)
    return ws


async def _host_connection(
    connector: Connector,
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    task_status: trio.TaskStatus[WebSocketConnection],
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
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    OSError,  # ssl.SSLError is one
)
"""What the transport raises when the connection is gone; all become ConnectionLost."""


def connection_lost(operation: str, exc: BaseException) -> ConnectionLost:
    """The ConnectionLost for a TRANSPORT_ERRORS exception (raise it `from exc`)."""
    return ConnectionLost(f"{operation}: {_describe(exc)}")


@contextlib.contextmanager
def map_transport_errors(operation: str) -> Iterator[None]:
    """Map trio-websocket / socket / TLS errors to ConnectionLost, once, with `from exc`."""
    try:
        yield
    except TRANSPORT_ERRORS as exc:
        raise connection_lost(operation, exc) from exc
