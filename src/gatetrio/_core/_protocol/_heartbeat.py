"""The futures.ping / futures.pong deadlines of the current connection (pure)."""

from __future__ import annotations

from gatetrio._core._errors import HeartbeatTimeout


class Heartbeat:
    """When the next ping is due and, while one is out, when its pong must have arrived.

    One ping at a time: a ping falls due `interval` after the previous one was sent, but is not
    sent while a pong is outstanding; a pong later than `timeout` after its ping is a dead
    connection (`HeartbeatTimeout`, raised by `check` until `stop`).
    """

    __slots__ = ("_interval", "_timeout", "next_ping", "ping_sent", "pong_deadline")

    def __init__(self, *, interval: float, timeout: float) -> None:
        self._interval = interval
        self._timeout = timeout
        self.next_ping: float | None = None
        self.ping_sent: float | None = None  # set while a ping awaits its pong
        self.pong_deadline: float | None = None

    def start(self, now: float) -> None:
        self.next_ping = now + self._interval
        self.ping_sent = self.pong_deadline = None

    def stop(self) -> None:
        self.next_ping = self.ping_sent = self.pong_deadline = None

    def deadline(self) -> float | None:
        return self.pong_deadline if self.pong_deadline is not None else self.next_ping

    def check(self, now: float) -> None:
        """Raise HeartbeatTimeout if the outstanding ping's pong is overdue."""
        if self.pong_deadline is not None and now >= self.pong_deadline:
            assert self.ping_sent is not None  # noqa: S101 - set together with pong_deadline
            raise HeartbeatTimeout(
                f"no futures.pong within {self._timeout:g}s of the last ping "
                f"(sent {now - self.ping_sent:.1f}s ago)"
            )

    def ping_due(self, now: float) -> bool:
        return self.ping_sent is None and self.next_ping is not None and now >= self.next_ping

    def sent_ping(self, now: float) -> None:
        self.ping_sent = now
        self.pong_deadline = now + self._timeout
        self.next_ping = now + self._interval

    def pong(self, now: float) -> float | None:
        """A pong arrived: its round-trip time, or None if no ping was out."""
        if self.ping_sent is None:
            return None
        rtt = now - self.ping_sent
        self.ping_sent = self.pong_deadline = None
        return rtt
