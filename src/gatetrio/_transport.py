"""The WebSocket boundary: connectors, and the one place foreign exceptions are mapped.

A `Connector` opens a trio-websocket connection whose background task runs in the given nursery.
The default one dials a real URL; `gatetrio.testing.FakeGateServer.connector` speaks real
WebSocket frames over in-memory streams. Everything that can go wrong below this line leaves as
`gatetrio.ConnectionLost`.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final, Protocol

import trio
import trio_websocket

from ._errors import ConnectionLost

if TYPE_CHECKING:
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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, trio_websocket.ConnectionClosed):
        reason = exc.reason
        if reason is None:
            return "connection closed"
        return f"connection closed: {reason.code} {reason.name} {reason.reason or ''}".rstrip()
    if isinstance(exc, trio_websocket.ConnectionRejected):
        return f"handshake rejected with HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def map_transport_errors(operation: str) -> Iterator[None]:
    """Map trio-websocket / socket / TLS errors to ConnectionLost, once, with `from exc`."""
    try:
        yield
    except (
        trio_websocket.ConnectionClosed,
        trio_websocket.HandshakeError,
        trio.BrokenResourceError,
        trio.ClosedResourceError,
        OSError,
        ssl.SSLError,
    ) as exc:
        raise ConnectionLost(f"{operation}: {_describe(exc)}") from exc
