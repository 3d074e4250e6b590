"""`ReplayServer`: serve a recording (`gatetrio.recording`) to any client, with its timing.

It speaks the fake's protocol side (`_connection.serve_websocket`, `Replies`, the loopback server),
but its pushes come from the recording instead of a simulated market: each recorded data push
is sent, at its original offset divided by `speed`, to the connections subscribed to its topic
(`_replay_topics`). Subscribes are acked as Gate acks them; pings are answered. Of the sockets
a recording holds (reconnects, upgrade handovers), each topic is served from the newest one
that delivered it, so overlapping sockets do not send a push twice.

Books: every obu stream is rebuilt as it plays (`TextBook`); a client subscribing mid-replay
gets a full snapshot of it first, as live, and then the recorded deltas, so its book is exact
from its subscription point. After a gap in the recording a new subscriber waits for the next
recorded full push. Every order_book_update stream is rebuilt too (`UpdateBook`), from the REST
snapshots the recorder took of it (`r` lines: at its start and after each gap) plus its deltas.
The REST snapshot endpoint answers from these books at the current replay position, with their
`id`, so a client's `order_book(..., method="order_book_update")` syncs exactly from wherever
it subscribes (from the obu books where the recording has no order_book_update stream).
"""

from __future__ import annotations

import functools
import json
import math
import random
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlsplit

import trio

from gatetrio._core._errors import ConnectionLost
from gatetrio._core._events import Pong
from gatetrio._shell._transport._wsproto import WebSocket, connect_websocket

from ._connection import ConnectionHooks, ConnectionOptions, Liveness, serve_websocket
from ._memory import memory_dial
from ._replay_topics import ALL_KEY, TextBook, UpdateBook, frame_topic, payload_topics
from ._replies import Replies
from ._rest_reply import RestReply

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from gatetrio.recording import Line, RestSnapshotLine

    from ._connection import Connection

AFAP_YIELD_EVERY: Final = 64  # frames between checkpoints when playing as fast as possible
REPLAY_CONNECTION_OPTIONS: Final = ConnectionOptions(
    send_queue_size=10_000, transport_buffer=1 << 20
)
PING_INTERVAL: Final = 15.0  # WebSocket pings, as Gate's docs describe


@typing.final
class ReplayServer:
    """Serve a recording to clients in memory (`connector`) or on loopback (`serve_tcp`).

    Args:
        lines: the recording's lines (`gatetrio.recording.read_recording(DIR)`); see
            `from_directory`.
        speed: play this many times faster than recorded; `math.inf` as fast as possible (each
            frame waits for every subscriber's send queue instead: nothing is cut).
        start: "subscribe" starts playing `lead_in` seconds after the first subscription
            arrives (so a client's other subscriptions are in place by then); "now" when
            `run` starts; "manual" on `play()`.
        idle_timeout: close a connection with no frame either way for this long.
        connection: queue sizes (`ConnectionOptions`; the default queues 10 000 frames per
            connection): a client that falls behind a timed replay is cut (1008), as Gate
            cuts slow consumers.

    `finished` is set when the last frame was sent; `frames_sent` counts pushes queued.
    """

    def __init__(
        self,
        lines: Iterable[Line],
        *,
        speed: float = 1.0,
        start: typing.Literal["subscribe", "now", "manual"] = "subscribe",
        lead_in: float = 1.0,
        seed: int = 0,
        idle_timeout: float = 3600.0,
        connection: ConnectionOptions = REPLAY_CONNECTION_OPTIONS,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (math.inf: as fast as possible), got {speed!r}")
        self._lines = lines
        self.speed = speed
        self.start = start
        self.lead_in = lead_in
        self.connection = connection
        self._liveness = Liveness(
            ping_interval=PING_INTERVAL,
            pong_timeout=connection.pong_timeout,
            idle_timeout=idle_timeout,
            idle_abort=False,
        )
        self._rng = random.Random(f"{seed}:replay")
        self._replies = Replies(self._rng, wall_ms=self._wall_ms, enqueue=self._enqueue)
        self._hooks = ConnectionHooks(
            new_conn_id=functools.partial(self._replies.hex, 16),
            opened=self._opened,
            handle=self._handle_message,
            closed=self._forget,
        )
        self._nursery: trio.Nursery | None = None
        self._conns: dict[str, Connection] = {}
        self._subscribers: dict[tuple[str, str], set[Connection]] = {}
        self._waiting: set[tuple[Connection, str]] = set()  # obu subscribers owed a snapshot
        self._books: dict[str, TextBook] = {}
        self._update_books: dict[str, UpdateBook] = {}  # by `contract.level`
        self._source: dict[tuple[str, str], tuple[int, int]] = {}  # topic: (shard, generation)
        self._go = trio.Event()
        self._ns = 0  # the recording's clock: receive time of the latest frame played
        self._ns_at = 0.0  # trio time when it was played
        self._backlog: list[tuple[Connection, str]] = []  # as fast as possible: to send now
        self.finished = trio.Event()
        self.frames_sent = 0
        self.frames_played = 0
        self.slow_consumers_cut = 0

    @classmethod
    def from_directory(cls, directory: str | Path, **kwargs: Any) -> ReplayServer:
        """A replay of the recording in `directory` (read as it plays)."""
        from gatetrio.recording import read_manifest  # noqa: PLC0415 - optional zstandard

        read_manifest(directory)  # fail now, not later, on a directory without a recording
        return cls(_LazyLines(Path(directory)), **kwargs)

    # ------------------------------------------------------------------------ lifecycle

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve and play until cancelled (start it with `nursery.start(server.run)`)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.start == "now":
                self._go.set()
            task_status.started()
            try:
                await self._play()
                await trio.sleep_forever()
            finally:
                self._nursery = None

    def play(self) -> None:
        """Start playing now (with `start="manual"`; harmless otherwise)."""
        self._go.set()

    def wall_time(self) -> float:
        """The recording's clock, in unix seconds: pass it as a client's `wall_clock`."""
        return self._wall_ms() / 1000

    def _wall_ms(self) -> int:
        if not self._ns:
            return 0
        elapsed = (trio.current_time() - self._ns_at) * min(self.speed, 1e9)
        return self._ns // 1_000_000 + round(elapsed * 1000)

    async def _play(self) -> None:
        await self._go.wait()
        t0 = trio.current_time()
        ns0: int | None = None
        count = 0
        from gatetrio.recording import (  # noqa: PLC0415 - optional zstandard
            FrameLine,
            RestSnapshotLine,
        )

        for line in self._lines:
            if isinstance(line, RestSnapshotLine):
                self._load_snapshot(line)  # a base for the book, at its place in the recording
                continue
            if not isinstance(line, FrameLine):
                continue  # events and drop marks explain the capture; they are not sent
            if ns0 is None:
                ns0 = line.ns
                self._ns, self._ns_at = line.ns, t0
            if math.isinf(self.speed):
                count += 1
                if count % AFAP_YIELD_EVERY == 0:
                    await trio.lowlevel.checkpoint()
            else:
                await trio.sleep_until(t0 + (line.ns - ns0) / 1e9 / self.speed)
            self._ns, self._ns_at = line.ns, trio.current_time()
            self._serve(line.text, (line.s, line.c))
            if self._backlog:
                await self._send_backlog()
        await trio.lowlevel.checkpoint()
        self.finished.set()

    async def _send_backlog(self) -> None:
        """As fast as possible: wait for each subscriber's queue instead of cutting it."""
        backlog, self._backlog = self._backlog, []
        for conn, text in backlog:
            await conn.send(text)

    # ------------------------------------------------------------------------ playing

    def _serve(self, text: str, source: tuple[int, int]) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        topic = frame_topic(msg)
        if topic is None:
            return
        self.frames_played += 1
        known = self._source.get(topic)
        if known is not None and known[0] == source[0] and source[1] < known[1]:
            return  # an older socket still sending during a handover: the newer one serves
        self._source[topic] = source
        channel, key = topic
        full = False
        if channel == "futures.obu":
            book = self._books.get(key)
            if book is None:
                book = self._books[key] = TextBook(key)
            result = msg.get("result")
            status = book.apply(result if isinstance(result, dict) else {})
            if status == "duplicate":
                return
            full = status == "full"
        elif channel == "futures.order_book_update":
            update_book = self._update_books.get(key)
            if update_book is None:
                update_book = self._update_books[key] = UpdateBook(key)
            update_book.feed(msg.get("result"))
        for conn in self._audience(channel, key):
            if (conn, key) in self._waiting:
                if not full:
                    continue  # owed a snapshot: a delta would not apply
                self._waiting.discard((conn, key))
            self.frames_sent += 1
            if math.isinf(self.speed):
                self._backlog.append((conn, text))
            else:
                self._replies.send(conn, text)

    def _load_snapshot(self, line: RestSnapshotLine) -> None:
        key = f"{line.contract}.{line.limit}"
        book = self._update_books.get(key)
        if book is None:
            book = self._update_books[key] = UpdateBook(key)
        book.load(line.body)

    def _audience(self, channel: str, key: str) -> list[Connection]:
        exact = self._subscribers.get((channel, key), set())
        every = self._subscribers.get((channel, ALL_KEY), set())
        return list(exact | every) if every else list(exact)

    def _enqueue(self, conn: Connection, frame: str) -> None:
        if not conn.offer(frame):
            self.slow_consumers_cut += 1
            if self._nursery is not None:
                self._nursery.start_soon(conn.close, 1008, "slow consumer")

    # ------------------------------------------------------------------------ requests

    def _handle_message(self, conn: Connection, message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or not isinstance(msg.get("channel"), str):
            self._replies.error(conn, "", "", 1, "request message need json scheme")
            return
        channel: str = msg["channel"]
        event = msg.get("event")
        if channel == "futures.ping":
            now_ms = self._wall_ms()
            self._replies.event(
                conn, Pong(time=now_ms // 1000, time_ms=now_ms, conn_id=conn.conn_id)
            )
            return
        keys = payload_topics(channel, msg.get("payload"))
        if event not in ("subscribe", "unsubscribe") or keys is None:
            self._replies.error(
                conn, channel, event if isinstance(event, str) else "", 2, "invalid argument"
            )
            return
        if msg.get("auth") is not None:
            self._replies.error(conn, channel, event, 2, "a replay serves public channels only")
            return
        if event == "unsubscribe":
            for key in keys:
                self._unsubscribe(conn, (channel, key))
            self._replies.ack(conn, msg, channel, event)
            return
        snapshots: list[str] = []
        for key in keys:
            topic = (channel, key)
            conn.topics.add(topic)
            self._subscribers.setdefault(topic, set()).add(conn)
            if channel == "futures.obu":
                book = self._books.get(key)
                if book is not None and book.valid:
                    snapshots.append(book.snapshot_frame(self._wall_ms()))
                else:
                    self._waiting.add((conn, key))
        self._replies.ack(conn, msg, channel, event)
        for frame in snapshots:
            self.frames_sent += 1
            self._replies.send(conn, frame)
        if self.start == "subscribe" and self._nursery is not None and not self._go.is_set():
            self._nursery.start_soon(self._start_later)

    async def _start_later(self) -> None:
        await trio.sleep(self.lead_in)
        self._go.set()

    def _unsubscribe(self, conn: Connection, topic: tuple[str, str]) -> None:
        conn.topics.discard(topic)
        self._waiting.discard((conn, topic[1]))
        subscribers = self._subscribers.get(topic)
        if subscribers is not None:
            subscribers.discard(conn)
            if not subscribers:
                del self._subscribers[topic]

    # ------------------------------------------------------------------------ serving

    async def connector(
        self, nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocket:
        """A `Connector` reaching this replay in memory (as `FakeGateServer.connector`)."""
        del nursery
        if self._nursery is None:
            raise RuntimeError("start ReplayServer.run first: await nursery.start(server.run)")
        dial = memory_dial(url, self.connection.transport_buffer)
        self._nursery.start_soon(self.serve_stream, dial.server, b"")
        return await connect_websocket(
            dial.client, host=dial.host, resource=dial.resource, headers=headers
        )

    async def serve_stream(self, stream: trio.abc.Stream, prefix: bytes = b"") -> None:
        """Serve one client stream (WebSocket handshake first) until it closes."""
        await serve_websocket(
            stream,
            prefix,
            hooks=self._hooks,
            send_queue_size=self.connection.send_queue_size,
            liveness=self._liveness,
        )

    def _opened(self, conn: Connection) -> None:
        self._conns[conn.conn_id] = conn

    def _forget(self, conn: Connection) -> None:
        del self._conns[conn.conn_id]
        for topic in list(conn.topics):
            self._unsubscribe(conn, (topic[0], topic[1]))

    @property
    def connections(self) -> list[Connection]:
        return list(self._conns.values())

    def drop(self) -> None:
        """Abruptly close every connection (the client sees 1006 and reconnects)."""
        if self._nursery is not None:
            for conn in self.connections:
                self._nursery.start_soon(conn.abort, "dropped")

    # ------------------------------------------------------------------------ REST

    def rest_order_book(self, contract: str, limit: int = 10) -> dict[str, object]:
        """The order-book snapshot REST answers now (`with_id=true`): from the replayed
        order_book_update book of `contract` with the fewest levels >= `limit`; else from its
        deepest replayed obu book; else from its deepest order_book_update book.

        Raises:
            KeyError: no valid book of `contract` is replayed at this point (none yet, or a gap
                the recording has no snapshot after yet).
        """
        now_ms = self._wall_ms()
        updates = [b for b in self._update_books.values() if b.valid and b.contract == contract]
        deep = [b for b in updates if b.level >= limit]
        if deep:
            return min(deep, key=lambda b: b.level).rest_body(limit, now_ms)
        books = [b for s, b in self._books.items() if b.valid and s.split(".")[1:2] == [contract]]
        if books:
            book = max(books, key=lambda b: len(b.bids) + len(b.asks))
            return book.rest_body(limit, now_ms)
        if updates:
            return max(updates, key=lambda b: b.level).rest_body(limit, now_ms)
        raise KeyError(f"no replayed book of {contract} yet")

    async def fetch_order_book(self, contract: str, limit: int) -> dict[str, object]:
        """A snapshot fetcher for in-memory tests (`client.order_book(snapshot_fetcher=...)`).

        Raises:
            ConnectionLost: no book of `contract` is replayed at this point, as a REST request
                that failed (a client's book retries it with backoff).
        """
        await trio.lowlevel.checkpoint()
        try:
            return self.rest_order_book(contract, limit)
        except KeyError as exc:
            raise ConnectionLost(f"replay REST order_book: {exc.args[0]}") from None

    def serve_http(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> RestReply:
        """Answer a REST request (the loopback server's HTTP side)."""
        del body
        status, answer = self.handle_http(method, target, dict(headers))
        return RestReply(status, answer)

    def handle_http(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """Answer a REST request: `(status, JSON body)`."""
        del headers
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.rstrip("/").split("/")
        if method not in ("GET", "HEAD"):
            return 405, b'{"label":"METHOD_NOT_ALLOWED"}'
        if segments[:3] == ["", "api", "v4"] and segments[-1:] == ["order_book"]:
            try:
                limit = int(query.get("limit", "10"))
                body = self.rest_order_book(query.get("contract", ""), limit)
            except (KeyError, ValueError) as exc:
                message = json.dumps({"label": "INVALID_PARAM_VALUE", "message": str(exc)})
                return 400, message.encode()
            return 200, json.dumps(body).encode()
        return 404, b'{"label":"NOT_FOUND","message":"a replay serves order_book only"}'


@typing.final
class _LazyLines:
    """A recording's lines, read anew each time it is iterated."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def __iter__(self) -> Iterator[Line]:
        from gatetrio.recording import read_recording  # noqa: PLC0415 - optional zstandard

        return iter(read_recording(self._directory))
