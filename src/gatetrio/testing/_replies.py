"""The fake's answers to client requests: acks, error replies and events, sent to one connection.

Every frame goes through the server's `enqueue` (the connection's bounded send queue), so a
reply keeps its place among the pushes. Trace and connection ids come from the server's seeded
generator: one seed, one session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatetrio._core._encode import encode_event
from gatetrio._core._events import ErrorReply, SubscribeAck

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from gatetrio._core._events import Event

    from ._connection import Connection


class Replies:
    """Builds and queues the frames that answer a client; shared by every request handler."""

    def __init__(
        self,
        rng: random.Random,
        *,
        wall_ms: Callable[[], int],
        enqueue: Callable[[Connection, str], None],
    ) -> None:
        self._rng = rng
        self.wall_ms = wall_ms
        """The server's wall time in unix ms, as frames carry it."""
        self.send = enqueue
        """Queue one frame for a connection (dropped if it is closing; cut if it is slow)."""

    def hex(self, digits: int) -> str:
        """A seeded hex id: conn ids (16 digits) and trace ids (32)."""
        return f"{self._rng.getrandbits(digits * 4):0{digits}x}"

    def event(self, conn: Connection, event: Event) -> None:
        self.send(conn, encode_event(event))

    def ack(self, conn: Connection, msg: dict[str, Any], channel: str, event: str) -> None:
        now_ms = self.wall_ms()
        self.event(
            conn,
            SubscribeAck(
                channel=channel,
                event=event,
                id=_request_id(msg),
                payload=_payload_echo(msg),
                conn_id=conn.conn_id,
                trace_id=self.hex(32),
                time=now_ms // 1000,
                time_ms=now_ms,
            ),
        )

    def error(
        self,
        conn: Connection,
        channel: str,
        event: str,
        code: int,
        message: str,
        *,
        msg: dict[str, Any] | None = None,
    ) -> None:
        now_ms = self.wall_ms()
        self.event(
            conn,
            ErrorReply(
                channel=channel,
                event=event,
                code=code,
                message=message,
                id=None if msg is None else _request_id(msg),
                payload=None if msg is None else _payload_echo(msg),
                conn_id=conn.conn_id,
                trace_id=self.hex(32),
                time=now_ms // 1000,
                time_ms=now_ms,
            ),
        )


def _request_id(msg: dict[str, Any]) -> int | None:
    rid = msg.get("id")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None


def _payload_echo(msg: dict[str, Any]) -> tuple[str, ...] | None:
    payload = msg.get("payload")
    if isinstance(payload, list) and all(isinstance(p, str) for p in payload):
        return tuple(payload)
    return None
