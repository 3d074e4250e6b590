"""trio-websocket as a gatetrio transport: an adapter, for comparisons and interop tests.

gatetrio's own transport (`default_connector`) is what the client uses; trio-websocket costs a
task switch per message in its reader task (benchmarks/README.md, "End-to-end"). This adapter
stays for the benchmark's "gatetrio over trio-websocket" row and for tests that want a second,
independent WebSocket client. It lives in `testing`, not the library, because a full
`WebSocketLike` (`receive_nowait`, `abort`) needs trio-websocket's privates: its message queue
and its stream.

    async with gatetrio.open_client(url=..., connector=trio_websocket_connector) as client:
        ...
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Final, final
from urllib.parse import urlsplit

import trio
import trio_websocket

from gatetrio._core._errors import UsageError
from gatetrio._shell._transport import MAX_MESSAGE_SIZE, map_transport_errors

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["TrioWebSocket", "trio_websocket_connector"]

# trio-websocket's default queue of 1 message makes its reader task hand over every frame in
# lock-step with ours; a deeper queue lets it run ahead (perf-baseline: "triows_tuned").
MESSAGE_QUEUE_SIZE: Final = 64


@final
class TrioWebSocket:
    """A `trio_websocket.WebSocketConnection` as a gatetrio `WebSocketLike`.

    Every failure leaves as `gatetrio.ConnectionLost` (the transport error table words it).
    `receive_nowait` reads trio-websocket's message queue directly (no public non-blocking
    receive exists); `abort` closes its stream without a close handshake.
    """

    __slots__ = ("endpoint", "ws")

    def __init__(self, ws: trio_websocket.WebSocketConnection, endpoint: str) -> None:
        self.ws = ws
        self.endpoint = endpoint

    async def get_message(self) -> str | bytes:
        """The next message; `ConnectionLost` once the connection has ended."""
        with map_transport_errors("receive"):
            return await self.ws.get_message()

    def receive_nowait(self) -> str | bytes:
        """The next queued message, or `trio.WouldBlock` (also once the connection ended:
        the next `get_message` then says why)."""
        try:
            # trio-websocket has no public non-blocking receive: its queue is the only way
            message: str | bytes = self.ws._recv_channel.receive_nowait()  # noqa: SLF001
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise trio.WouldBlock from None
        return message

    async def send_message(self, message: str | bytes) -> None:
        """Send one message; `ConnectionLost` if the connection is closed or closing."""
        with map_transport_errors("send"):
            await self.ws.send_message(message)

    async def aclose(self) -> None:
        """Close handshake, then the stream; idempotent; bound it (it waits for the reply)."""
        with map_transport_errors("close"):
            await self.ws.aclose()

    async def abort(self) -> None:
        """Close the stream now, without a close handshake."""
        await trio.aclose_forcefully(self.ws._stream)  # noqa: SLF001 - no public abort


async def trio_websocket_connector(
    nursery: trio.Nursery,
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> TrioWebSocket:
    """A `Connector` dialing `url` with trio-websocket (its reader task runs in `nursery`).

    No permessage-deflate; TLS for wss:// with `ssl_context` (default: the system's default
    verification). Pass `functools.partial(trio_websocket_connector, ssl_context=...)` as the
    connector to choose the context. About a third slower end to end than `default_connector`.

    Raises:
        ConnectionLost: dialing, TLS or the handshake failed ("handshake: HTTP 429", ...).
        UsageError: `ssl_context` is not an `ssl.SSLContext`.
    """
    if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
        raise UsageError(f"ssl_context must be an ssl.SSLContext, not {type(ssl_context).__name__}")
    parts = urlsplit(url)
    secure = parts.scheme.lower() == "wss"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with map_transport_errors("connect", host=host):
        stream: trio.abc.Stream
        if secure:
            stream = await trio.open_ssl_over_tcp_stream(
                host, port, ssl_context=ssl_context or ssl.create_default_context()
            )
        else:
            stream = await trio.open_tcp_stream(host, port)
        try:
            ws = await trio_websocket.wrap_client_stream(
                nursery,
                stream,
                parts.netloc,
                resource,
                extra_headers=[(k.encode(), v.encode()) for k, v in headers],
                message_queue_size=MESSAGE_QUEUE_SIZE,
                max_message_size=MAX_MESSAGE_SIZE,
            )
        except BaseException:
            # a refusal is raised in trio-websocket's reader task, which leaves the socket open
            await trio.aclose_forcefully(stream)
            raise
    return TrioWebSocket(ws, url)
