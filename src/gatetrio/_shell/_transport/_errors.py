"""The one table of foreign transport errors: each becomes `gatetrio.ConnectionLost`.

Everything below the WebSocket boundary that means "this connection is unusable" is a row of
`_ROWS`: the type, and how to say what happened in the `ConnectionLost.reason`, which is
prefixed with the operation that failed:

    connect: [Errno 111] Connection refused
    connect: name resolution failed for fx-ws.gateio.ws
    handshake: HTTP 429
    receive: connection closed: 1011 INTERNAL_ERROR
    send: TLS: certificate verify failed: unable to get local issuer certificate

`map_transport_errors(operation)` is the context manager the transports and connectors use;
`TRANSPORT_ERRORS` the tuple for an `except`; `connection_lost` builds the exception. The first
row that matches wins, so subclasses come before their bases. Always `raise ... from exc`.

trio-websocket's rows (only its adapter in `gatetrio.testing` raises them) and wsproto's (only
the handshake, which imports wsproto when it runs) are looked up when someone has imported
that library, never imported here: a first use of the client does not load either
(benchmarks/README.md, "Import time"). `is_transport_error` and `map_transport_errors` include
them; the `TRANSPORT_ERRORS` tuple, for the own transport's `except` clauses after the
handshake, does not.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
from typing import TYPE_CHECKING, Final

import trio

from gatetrio._core._errors import ConnectionLost

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "TRANSPORT_ERRORS",
    "connection_lost",
    "describe",
    "is_transport_error",
    "map_transport_errors",
]


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _rejected(exc: BaseException, host: str | None) -> str:
    del host
    status = getattr(exc, "status_code", None)
    return f"handshake: HTTP {status}"


def _handshake(exc: BaseException, host: str | None) -> str:
    del host
    return f"handshake: {_text(exc)}"


def _closed(exc: BaseException, host: str | None) -> str:
    del host
    reason = getattr(exc, "reason", None)  # trio_websocket.CloseReason, or None
    if reason is None:
        return "connection closed"
    return f"connection closed: {reason.code} {reason.name} {reason.reason or ''}".rstrip()


def _resolution(exc: BaseException, host: str | None) -> str:
    if host:
        return f"name resolution failed for {host} ({exc})"
    return f"name resolution failed ({exc})"


def _certificate(exc: BaseException, host: str | None) -> str:
    del host
    message = getattr(exc, "verify_message", None) or str(exc)
    return f"TLS certificate verification failed: {message}"


def _tls(exc: BaseException, host: str | None) -> str:
    del host
    return f"TLS: {getattr(exc, 'reason', None) or exc}"


def _timed_out(exc: BaseException, host: str | None) -> str:
    del exc, host
    return "timed out"


def _broken(exc: BaseException, host: str | None) -> str:
    # trio wraps ssl and socket errors in BrokenResourceError: say what the cause was
    cause = exc.__cause__
    if cause is not None and cause is not exc:
        return describe(cause, host=host)
    return f"connection broken{f': {exc}' if str(exc) else ''}"


def _already_closed(exc: BaseException, host: str | None) -> str:
    del exc, host
    return "the connection is already closed"


def _websocket_protocol(exc: BaseException, host: str | None) -> str:
    del host
    return f"WebSocket protocol error: {_text(exc)}"


def _os_error(exc: BaseException, host: str | None) -> str:
    # trio.open_tcp_stream: OSError("all attempts to connect to h:p failed") from a group of
    # the per-address errors; the first of those says why
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        first = cause.exceptions[0]
        return f"{exc} ({describe(first, host=host)})"
    return str(exc) or type(exc).__name__


_Row = tuple[type[Exception], "Callable[[BaseException, str | None], str]"]

_ROWS: Final[tuple[_Row, ...]] = (
    (socket.gaierror, _resolution),
    (ssl.SSLCertVerificationError, _certificate),
    (ssl.SSLError, _tls),
    (trio.TooSlowError, _timed_out),  # a connect deadline around the dialing
    (trio.BrokenResourceError, _broken),
    (trio.ClosedResourceError, _already_closed),
    (OSError, _os_error),  # after its subclasses above (gaierror, SSLError)
)

TRANSPORT_ERRORS: Final[tuple[type[Exception], ...]] = tuple(kind for kind, _ in _ROWS)
"""What a connection or a dial raises when it is gone or cannot be made; all become
ConnectionLost (gatetrio's own WebSocket raises ConnectionLost itself). trio-websocket's and
wsproto's errors are not in it: use `is_transport_error` where they can occur."""


def _rows() -> tuple[_Row, ...]:
    # a library nobody imported cannot raise its errors: no row needed, nothing imported
    websocket = sys.modules.get("trio_websocket")
    handshake = sys.modules.get("wsproto.utilities")
    if websocket is None and handshake is None:
        return _ROWS
    rows: list[_Row] = []
    if websocket is not None:
        rows += [
            (websocket.ConnectionRejected, _rejected),
            (websocket.HandshakeError, _handshake),
            (websocket.ConnectionClosed, _closed),
        ]
    if handshake is not None:
        rows += [
            (handshake.LocalProtocolError, _websocket_protocol),
            (handshake.RemoteProtocolError, _websocket_protocol),
        ]
    return (*rows, *_ROWS)


def is_transport_error(exc: BaseException) -> bool:
    """Whether `exc` is a row of the table (trio-websocket's errors included)."""
    return any(isinstance(exc, kind) for kind, _ in _rows())


def describe(exc: BaseException, *, host: str | None = None) -> str:
    """What `exc` means for the connection, in words (the table row that matches it)."""
    for kind, say in _rows():
        if isinstance(exc, kind):
            return say(exc, host)
    return _text(exc)


def connection_lost(
    operation: str, exc: BaseException, *, host: str | None = None
) -> ConnectionLost:
    """The ConnectionLost for a TRANSPORT_ERRORS exception (raise it `from exc`).

    A handshake refusal already names its stage ("handshake: HTTP 429"), so no operation is
    prefixed to it.
    """
    text = describe(exc, host=host)
    if text.startswith("handshake:"):
        return ConnectionLost(text)
    return ConnectionLost(f"{operation}: {text}")


@contextlib.contextmanager
def map_transport_errors(operation: str, *, host: str | None = None) -> Iterator[None]:
    """Map trio / socket / TLS / wsproto / trio-websocket errors to ConnectionLost, `from exc`.

    `host` is named in a name-resolution failure.
    """
    try:
        yield
    except Exception as exc:
        if not is_transport_error(exc):
            raise
        raise connection_lost(operation, exc, host=host) from exc
