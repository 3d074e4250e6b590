"""Serve a `FakeGateServer` on a real TCP port: WebSocket and REST on one listener.

Each accepted stream's HTTP request head is read first. A WebSocket upgrade goes to
`FakeGateServer.serve_stream` with the bytes already read replayed; anything else is answered
as a small HTTP/1.1 REST request (its body read by `Content-Length`, at most MAX_BODY;
`FakeGateServer.serve_http`) and the socket is closed. So a
plain websocket tool, the official SDK, or httpx can all use the one URL the CLI prints.
"""

from __future__ import annotations

import functools
import json
import ssl
from typing import TYPE_CHECKING, Final, Protocol

import trio

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from ._rest_reply import RestReply


class Servable(Protocol):
    """What the loopback server serves: a `FakeGateServer` or a `ReplayServer`."""

    async def serve_stream(self, stream: trio.abc.Stream, prefix: bytes = b"") -> None: ...
    def serve_http(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> RestReply: ...


MAX_HEAD: Final = 64 * 1024
MAX_BODY: Final = 1024 * 1024  # a REST request body larger than this is refused (413)
HEAD_DEADLINE: Final = 10.0  # seconds a client gets to send its request head
WS_PATHS: Final = (
    "/v4/ws/usdt",
    "/v4/ws/btc",
    "/v4/ws/usd1",
    "/v4/ws/delivery/usdt",
    "/v4/ws/delivery/btc",
)
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
}


async def serve_tcp(
    server: Servable,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on `host:port` (0: any free port) until cancelled; `task_status` gets the port.

    `server.run` must be running (WebSocket connections live in its nursery). Cancelling
    this stops accepting; it does not close connections already handed to the server.
    `ssl_context`: serve wss:// and https:// with it (see `tls_context`).
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    task_status.started(bound)
    await trio.serve_listeners(
        functools.partial(_handle_stream, server, ssl_context=ssl_context), listeners
    )


def urls(host: str, port: int, *, tls: bool = False) -> list[str]:
    """The WebSocket URLs a loopback server on `host:port` answers."""
    scheme = "wss" if tls else "ws"
    return [f"{scheme}://{host}:{port}{path}" for path in WS_PATHS]


def tls_context(host: str, ca_path: Path) -> ssl.SSLContext:
    """A server context for `host` (and localhost, 127.0.0.1, ::1) signed by a CA made now
    (trustme, from the `serve` or `test` extra); the CA's PEM is written to `ca_path` for
    clients to trust. Test certificates only: never for anything but loopback."""
    try:
        import trustme  # noqa: PLC0415 - optional: only `serve --tls` needs it
    except ImportError:
        from gatetrio._install import install_hint  # noqa: PLC0415 - cold path

        raise RuntimeError(f"serve --tls needs trustme: {install_hint('serve')}") from None
    ca = trustme.CA()
    names = dict.fromkeys([host, "localhost", "127.0.0.1", "::1"])
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca.cert_pem.write_to_path(str(ca_path))
    return context


async def _handle_stream(
    server: Servable, raw: trio.SocketStream, *, ssl_context: ssl.SSLContext | None
) -> None:
    stream: trio.abc.Stream = raw
    if ssl_context is not None:
        stream = trio.SSLStream(raw, ssl_context, server_side=True)
    try:
        if isinstance(stream, trio.SSLStream):
            with trio.move_on_after(HEAD_DEADLINE) as scope:
                await stream.do_handshake()
            if scope.cancelled_caught:
                return
        head = b""
        with trio.move_on_after(HEAD_DEADLINE):
            while b"\r\n\r\n" not in head:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    return
                head += chunk
                if len(head) > MAX_HEAD:
                    await _respond(stream, 431, b"")
                    return
        if b"\r\n\r\n" not in head:
            await _respond(stream, 408, b"")
            return
        request_line, headers = _parse_head(head[: head.index(b"\r\n\r\n")])
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await _respond(stream, 400, b"")
            return
        method, target = parts[0], parts[1]
        if headers.get("upgrade", "").lower() == "websocket":
            # the WebSocket side reads the head again, from the replayed prefix
            await server.serve_stream(stream, prefix=head)
            return
        end = head.index(b"\r\n\r\n") + 4
        body = await _read_body(stream, head[end:], headers)
        if body is None:
            await _respond(stream, 413, b"")
            return
        reply = server.serve_http(method, target, headers, body)
        await _respond(stream, reply.status, b"" if method == "HEAD" else reply.body, reply.headers)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client went away (or failed the TLS handshake); nothing to tell it
    finally:
        await trio.aclose_forcefully(stream)


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


async def _read_body(
    stream: trio.abc.Stream, already: bytes, headers: dict[str, str]
) -> bytes | None:
    """The request body (`Content-Length` bytes; none without it), within HEAD_DEADLINE; None
    when it is larger than MAX_BODY or never completes."""
    length_text = headers.get("content-length", "0").strip()
    if not length_text.isdigit() or int(length_text) > MAX_BODY:
        return None
    length = int(length_text)
    body = already[:length]
    with trio.move_on_after(HEAD_DEADLINE):
        while len(body) < length:
            chunk = await stream.receive_some(min(65536, length - len(body)))
            if not chunk:
                return None
            body += chunk
    return body if len(body) == length else None


async def _respond(
    stream: trio.abc.Stream,
    status: int,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (("Content-Type", "application/json"),),
) -> None:
    if not body and status >= 400:
        body = json.dumps(
            {"label": _REASONS.get(status, "ERROR").upper().replace(" ", "_")}
        ).encode()
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n{lines}"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    await stream.send_all(head + body)
