"""What a recorded frame is about, and the books a replay rebuilds (pure: no trio, no clock).

A replay routes each recorded data push to the connections subscribed to its topic: the
`(channel, key)` a push carries (`frame_topic`) matched against the keys a subscribe payload
asks for (`payload_topics`). The keys are what Gate routes by: the contract for most channels,
the stream name for obu (`ob.BTC_USDT.50`), `interval_contract` for candlesticks,
`contract.level` for order_book_update.

`TextBook` rebuilds one obu stream from its pushes, keeping Gate's wire text, so a client that
subscribes mid-replay gets a full snapshot equal to the book every earlier subscriber holds.
`UpdateBook` rebuilds one order_book_update stream as a client does (`BookSync`): from the REST
snapshots the recorder took of it (`r` lines) plus its deltas, so the replay's REST endpoint
answers with the book, and the `id`, a client's deltas continue from.
"""

from __future__ import annotations

import contextlib
import json
import typing
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import msgspec

from gatetrio._core._book import BookSync, parse_rest_snapshot
from gatetrio._core._errors import ProtocolError
from gatetrio._core._events import BookDelta

if TYPE_CHECKING:
    from collections.abc import Mapping

PUSH_EVENTS: Final = frozenset({"update", "all"})
ALL_KEY: Final = "*"  # a payload of "!all": every key of the channel


def frame_topic(msg: dict[str, Any]) -> tuple[str, str] | None:
    """`(channel, key)` of a recorded data push, or None for anything else (acks, pongs,
    errors, notices: a replay answers those itself)."""
    channel = msg.get("channel")
    if not isinstance(channel, str) or msg.get("event", "update") not in PUSH_EVENTS:
        return None
    if channel in ("futures.system", "futures.pong", "futures.ping"):
        return None
    result = msg.get("result")
    first = result[0] if isinstance(result, list) and result else result
    if not isinstance(first, dict):
        return (channel, "")
    match channel:
        case "futures.obu":
            return (channel, str(first.get("s", "")))
        case "futures.candlesticks":
            return (channel, str(first.get("n", "")))
        case "futures.order_book_update":
            return (channel, f"{first.get('s', '')}.{first.get('l', '')}")
    contract = first.get("contract", first.get("s", first.get("c", "")))
    return (channel, str(contract))


def payload_topics(channel: str, payload: object) -> list[str] | None:
    """The keys a subscribe payload asks for; None if the payload is not a list of strings."""
    if not isinstance(payload, list) or not all(isinstance(p, str) for p in payload):
        return None
    items = typing.cast("list[str]", payload)
    match channel:
        case "futures.candlesticks" if len(items) >= 2:
            return [f"{items[0]}_{items[1]}"]
        case "futures.order_book_update" if len(items) >= 3:
            return [f"{items[0]}.{items[2]}"]
        case "futures.order_book_update" if items:
            return [f"{items[0]}.100"]
        case "futures.order_book" | "futures.contract_stats" if items:
            return [items[0]]
    return [ALL_KEY if p == "!all" else p for p in items]


def _price(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


@typing.final
class TextBook:
    """One obu stream's book as Gate's text: `valid` from a full push until a gap."""

    __slots__ = ("asks", "bids", "stream", "t", "update_id")

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.update_id: int | None = None
        self.t = 0

    @property
    def valid(self) -> bool:
        return self.update_id is not None

    def apply(self, result: dict[str, Any]) -> str:
        """Take one push: "full", "delta", "duplicate" (already applied) or "gap"."""
        u = result.get("u")
        if not isinstance(u, int):
            return "gap"
        if result.get("full") or "U" not in result:
            self.bids = {}
            self.asks = {}
            self._merge(result)
            self.update_id = u
            return "full"
        start = result.get("U")
        if self.update_id is not None and isinstance(start, int) and u <= self.update_id:
            return "duplicate"
        if self.update_id is None or start != self.update_id + 1:
            self.update_id = None  # lost: only a recorded full push repairs it
            return "gap"
        self._merge(result)
        self.update_id = u
        return "delta"

    def _merge(self, result: dict[str, Any]) -> None:
        t = result.get("t")
        if isinstance(t, int):
            self.t = t
        for side, levels in ((self.bids, result.get("b")), (self.asks, result.get("a"))):
            for level in levels if isinstance(levels, list) else ():
                if not (isinstance(level, list) and len(level) == 2):
                    continue
                price, size = str(level[0]), str(level[1])
                if _price(size) == 0:
                    side.pop(price, None)
                else:
                    side[price] = size

    def levels(self, side: str, limit: int | None = None) -> list[tuple[str, str]]:
        """Best first."""
        book = self.bids if side == "b" else self.asks
        ordered = sorted(book.items(), key=lambda kv: _price(kv[0]), reverse=side == "b")
        return ordered if limit is None else ordered[:limit]

    def snapshot_frame(self, time_ms: int) -> str:
        """A full obu push of this book, shaped as Gate sends the first push of a stream."""
        result = {
            "t": self.t,
            "full": True,
            "s": self.stream,
            "u": self.update_id,
            "b": [list(level) for level in self.levels("b")],
            "a": [list(level) for level in self.levels("a")],
        }
        frame = {
            "time": time_ms // 1000,
            "time_ms": time_ms,
            "channel": "futures.obu",
            "event": "update",
            "result": result,
        }
        return json.dumps(frame, separators=(",", ":"))

    def rest_body(self, limit: int, time_ms: int) -> dict[str, object]:
        """`GET /futures/{settle}/order_book?with_id=true` as Gate answers it (spec 6.5)."""
        return {
            "id": self.update_id,
            "current": time_ms / 1000,
            "update": self.t / 1000,
            "asks": [{"p": p, "s": s} for p, s in self.levels("a", limit)],
            "bids": [{"p": p, "s": s} for p, s in self.levels("b", limit)],
        }


@typing.final
class UpdateBook:
    """One order_book_update stream's book (`contract.level`): ready from a recorded REST
    snapshot the deltas continue (or a `full` push) until a gap; the next snapshot repairs it."""

    __slots__ = ("contract", "level", "sync")

    def __init__(self, stream: str) -> None:
        contract, _, level = stream.rpartition(".")
        self.contract = contract
        self.level = int(level) if level.isdigit() else 0
        self.sync = BookSync(contract)

    @property
    def valid(self) -> bool:
        return self.sync.book.ready

    def feed(self, result: object) -> None:
        """Take one recorded delta (a push's `result`); a malformed one resets the book."""
        try:
            delta = msgspec.convert(result, BookDelta)
        except msgspec.ValidationError:
            return
        with contextlib.suppress(ProtocolError):  # the sync has reset itself
            self.sync.feed(delta)

    def load(self, body: Mapping[str, object]) -> None:
        """Take a recorded REST snapshot of this stream (a malformed one is ignored)."""
        try:
            snapshot = parse_rest_snapshot(body)
            self.sync.load_snapshot(snapshot.id, snapshot.bids, snapshot.asks, t=snapshot.t)
        except ProtocolError:
            return

    def rest_body(self, limit: int, time_ms: int) -> dict[str, object]:
        """`GET /futures/{settle}/order_book?with_id=true` of this book, as Gate answers it."""
        book = self.sync.book

        def side(levels: list[tuple[Decimal, int | Decimal]]) -> list[dict[str, object]]:
            return [{"p": str(p), "s": s if isinstance(s, int) else str(s)} for p, s in levels]

        return {
            "id": book.update_id,
            "current": time_ms / 1000,
            "update": book.t / 1000,
            "asks": side(book.asks(limit)),
            "bids": side(book.bids(limit)),
        }
