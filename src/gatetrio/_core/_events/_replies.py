"""Replies and notices: acks, errors, pongs, system notices, trading-API replies, unknown pushes.

Frames that answer a request or tell the client something, as opposed to channel data
(`_events/__init__.py`). Frozen msgspec Structs like every event record; no validators.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from gatetrio._core._redact import redact_json


class SubscribeAck(msgspec.Struct, frozen=True, gc=False):
    """A successful subscribe or unsubscribe (`event` tells which)."""

    channel: str
    event: str
    id: int | None = None
    payload: tuple[str, ...] | None = None
    conn_id: str = ""
    trace_id: str = ""
    time: int = 0
    time_ms: int = 0  # 0 on 2023 acks


# code 4 reads `{"label":"INVALID_KEY","message":...}\n`; older auth errors embed the same object
# after other text (spec 2.4), so search rather than parse.
_LABEL_IN_MESSAGE: Final = re.compile(r'"label"\s*:\s*"([^"\\]*)"')


class ErrorReply(msgspec.Struct, frozen=True, gc=False):
    """`{"error": {"code", "message"}}`: a failed subscribe/unsubscribe or a malformed request.

    Malformed JSON from the client gets code 1 with empty `channel` and `event`.
    """

    channel: str
    event: str
    code: int
    message: str
    id: int | None = None
    payload: tuple[str, ...] | None = None
    conn_id: str = ""
    trace_id: str = ""
    time: int = 0
    time_ms: int = 0

    @property
    def label(self) -> str:
        """The `label` Gate sometimes nests as JSON inside `message` (e.g. "INVALID_KEY"), or ""."""
        found = _LABEL_IN_MESSAGE.search(self.message)
        return found.group(1) if found else ""


class Pong(msgspec.Struct, frozen=True, gc=False):
    """Reply to futures.ping."""

    time: int = 0
    time_ms: int = 0
    conn_id: str = ""


class UpgradeRequested(msgspec.Struct, frozen=True, gc=False):
    """`futures.system` upgrade notice: the server will close this connection soon."""

    msg: str = ""
    time: int = 0
    time_ms: int = 0


class SystemNotice(msgspec.Struct, frozen=True):
    """Any other `futures.system` notice (e.g. SBE schema messages)."""

    type: str
    msg: str = ""
    data: object = None
    time: int = 0
    time_ms: int = 0


class ApiHeader(msgspec.Struct, frozen=True, gc=False):
    """Trading-API response header. `status` and `response_time` are strings on the wire."""

    status: str
    channel: str
    response_time: str = ""
    event: str = "api"
    client_id: str = ""
    conn_id: str = ""
    conn_trace_id: str = ""
    trace_id: str = ""
    x_in_time: int = 0  # microseconds
    x_out_time: int = 0
    x_gate_ratelimit_requests_remain: int | None = None
    x_gate_ratelimit_limit: int | None = None
    x_gat_ratelimit_reset_timestamp: int | None = None  # Gate's own spelling (spec 8.3)
    x_gate_ratelimit_reset_timestamp: int | None = None

    @property
    def ratelimit_reset_ms(self) -> int | None:
        """The rate-limit window reset in ms, whichever spelling Gate used."""
        if self.x_gat_ratelimit_reset_timestamp is not None:
            return self.x_gat_ratelimit_reset_timestamp
        return self.x_gate_ratelimit_reset_timestamp


class ApiAck(msgspec.Struct, frozen=True):
    """First reply to order_place/order_batch_place: the request echo (`ack: true`)."""

    request_id: str
    header: ApiHeader
    result: object = None

    def __repr__(self) -> str:
        # Gate echoes the request's api_key and signature (and a login's key) in `result`
        return (
            f"{type(self).__name__}(request_id={self.request_id!r}, header={self.header!r}, "
            f"result={redact_json(self.result)!r})"
        )


class ApiResult(msgspec.Struct, frozen=True):
    """The final trading-API reply with `data.result` (plain JSON: an object or an array)."""

    request_id: str
    header: ApiHeader
    result: object = None

    def __repr__(self) -> str:
        # Gate echoes the request's api_key and signature (and a login's key) in `result`
        return (
            f"{type(self).__name__}(request_id={self.request_id!r}, header={self.header!r}, "
            f"result={redact_json(self.result)!r})"
        )


class ApiError(msgspec.Struct, frozen=True, gc=False):
    """A trading-API reply with `data.errs` (label + message)."""

    request_id: str
    header: ApiHeader
    label: str
    message: str


class UnknownEvent(msgspec.Struct, frozen=True):
    """A well-formed frame of a channel gatetrio does not model; `result` is plain JSON."""

    channel: str
    event: str = ""
    time: int = 0
    time_ms: int = 0
    result: object = None
