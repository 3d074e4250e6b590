"""Which order_book_update streams need a REST snapshot recorded (pure: no trio, no I/O).

A `futures.order_book_update` stream carries deltas only: a client builds its book from a REST
snapshot (`order_book?with_id=true`) plus the deltas after it. A recording of the stream alone
has no base, so the recorder watches the deltas it records (`StreamWatch`) and, when a stream
first shows up and after each gap in its update ids (a reconnect, lost updates), fetches a
snapshot of that contract at the stream's level and records it as an `r` line. A replay loads
each one into that stream's book, as a client does, and answers its REST endpoint from there.
"""

from __future__ import annotations

import json
import typing
from typing import Final

UPDATE_MARK: Final = '"futures.order_book_update"'


@typing.final
class StreamWatch:
    """The last update id of every order_book_update stream seen, by `contract.level`."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def needs_snapshot(self, text: str | bytes) -> tuple[str, int] | None:
        """`(contract, level)` when this frame starts an order_book_update stream or shows a gap
        in it (`U` past the last `u` + 1); None for any other frame, a duplicate (`u` already
        seen: two sockets overlapping) or a `full` push (a base itself)."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if UPDATE_MARK not in text:
            return None
        try:
            msg = json.loads(text)
        except ValueError:
            return None
        if not isinstance(msg, dict) or msg.get("event") != "update":
            return None
        result = msg.get("result")
        if not isinstance(result, dict):
            return None
        contract, level = result.get("s"), result.get("l")
        first, last_id = result.get("U"), result.get("u")
        if not (isinstance(contract, str) and isinstance(level, str) and level.isdigit()):
            return None
        if not isinstance(last_id, int):
            return None
        key = f"{contract}.{level}"
        last = self._last.get(key)
        if last is not None and last_id <= last:
            return None
        self._last[key] = last_id
        if result.get("full") or not isinstance(first, int):
            return None
        if last is None or first > last + 1:
            return contract, int(level)
        return None
