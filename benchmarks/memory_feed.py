"""A minimal in-memory Gate feed for the client: pre-built text frames, no sockets, no framing.

`MemoryFeed.connector` hands the client one `WebSocketLike` whose `get_message` /
`receive_nowait` pop from a deque. It acks every subscribe/unsubscribe (the reply shape
`benchmarks.flood_server` sends), answers `futures.ping`, and calls `on_subscribe(channel,
payload)` for the frames to queue after an ack (e.g. an obu full snapshot). Everything else is
queued by the benchmark with `push`, so what is timed is the client alone: decode, protocol
routing, dispatch into subscriptions, the consumers (live-book driver, `async for`).
"""

from __future__ import annotations

import collections
import json
from typing import TYPE_CHECKING

import trio

from gatetrio import ConnectionLost

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence


def trade_frame(contract: str, trade_id: int, wall_ms: int) -> str:
    """A one-trade `futures.trades` frame, size as a string (spec 6.2's live shape)."""
    s = wall_ms // 1000
    return (
        f'{{"time":{s},"time_ms":{wall_ms},"channel":"futures.trades","event":"update",'
        f'"result":[{{"id":{trade_id},"size":"{trade_id % 97 + 1}","create_time":{s},'
        f'"create_time_ms":{wall_ms},"price":"64000.{trade_id % 10}","contract":"{contract}"}}]}}'
    )


class MemoryFeed:
    """One in-memory connection at a time; `push` queues frames for the client."""

    endpoint = "memory://feed/v4/ws/usdt"

    def __init__(
        self, on_subscribe: Callable[[str, Sequence[object]], Iterable[str]] | None = None
    ) -> None:
        self._queue: collections.deque[str] = collections.deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._on_subscribe = on_subscribe
        self._closed = False
        self.subscribed: set[str] = set()  # "channel payload0" of every acked subscribe

    async def connector(
        self, nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> MemoryFeed:
        del nursery, url, headers
        self._closed = False
        return self

    def queued(self) -> int:
        """Frames queued and not yet taken by the client."""
        return len(self._queue)

    def push(self, frames: Iterable[str]) -> None:
        self._queue.extend(frames)
        self._lot.unpark_all()

    async def get_message(self) -> str:
        await trio.lowlevel.checkpoint()
        while not self._queue:
            if self._closed:
                raise ConnectionLost("memory feed closed")
            await self._lot.park()
        return self._queue.popleft()

    def receive_nowait(self) -> str:
        if self._queue:
            return self._queue.popleft()
        if self._closed:
            raise ConnectionLost("memory feed closed")
        raise trio.WouldBlock

    async def send_message(self, message: str | bytes) -> None:
        await trio.lowlevel.checkpoint()
        request = json.loads(message)
        channel = request.get("channel")
        now_ms = int(trio.current_time() * 1000)
        if channel == "futures.ping":
            reply = {
                "time": now_ms // 1000,
                "time_ms": now_ms,
                "conn_id": "memory",
                "channel": "futures.pong",
                "event": "",
                "result": None,
            }
            self.push([json.dumps(reply)])
            return
        event = request.get("event")
        if event not in {"subscribe", "unsubscribe"}:
            return
        payload = request.get("payload") or []
        reply = {
            "time": now_ms // 1000,
            "time_ms": now_ms,
            "conn_id": "memory",
            "trace_id": "0" * 32,
            "channel": channel,
            "event": event,
            "payload": payload,
            "result": {"status": "success"},
        }
        if request.get("id") is not None:
            reply["id"] = request["id"]
        frames = [json.dumps(reply)]
        if event == "subscribe":
            for item in payload:
                self.subscribed.add(f"{channel} {item}")
            if self._on_subscribe is not None:
                frames.extend(self._on_subscribe(channel, payload))
        self.push(frames)

    async def aclose(self) -> None:
        self._closed = True
        self._lot.unpark_all()
        await trio.lowlevel.checkpoint()

    async def abort(self) -> None:
        await self.aclose()
