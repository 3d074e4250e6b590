"""Errors of `gatetrio.nats`, under the one root `gatetrio.GateTrioError`.

nats-py's exceptions (and asyncio's timeouts) are mapped once, in `_bridge.py`.
"""

from __future__ import annotations

from gatetrio._core._errors import GateTrioError

__all__ = ["NatsError", "NatsUnavailable", "PublishBufferFull", "StreamMismatch"]


class NatsError(GateTrioError):
    """Something on the NATS side failed (a JetStream API error, a rejected stream config)."""


class NatsUnavailable(NatsError):
    """No NATS server answered (not reachable, or an operation timed out while disconnected)."""


class PublishBufferFull(NatsError):
    """`BufferPolicy.FAIL`: the bounded publish buffer is full (NATS is down or too slow)."""

    def __init__(self, capacity: int) -> None:
        super().__init__(
            f"the NATS publish buffer is full ({capacity} messages): NATS is down or slower "
            "than the feed; use BufferPolicy.DROP_OLDEST or BLOCK to keep collecting"
        )
        self.capacity = capacity


class StreamMismatch(NatsError):
    """The stream exists and does not take the subjects to publish (or cannot be changed as
    asked); `differences` says how it differs from the settings given."""

    def __init__(
        self, stream: str, differences: tuple[str, ...], *, takes: str, detail: str = ""
    ) -> None:
        what = "; ".join(differences) or "no difference in the settings compared"
        super().__init__(
            f"stream {stream}: {detail} ({what})"
            if detail
            else f"stream {stream} does not take {takes} ({what}): publishing there would "
            "fail; pass update_stream=True (publish --update-stream) to add the subjects, or "
            "publish into another stream or prefix"
        )
        self.stream = stream
        self.differences = differences
        self.takes = takes
