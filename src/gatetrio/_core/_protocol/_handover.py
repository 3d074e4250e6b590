"""Retiring connections during make-before-break (see "Handover" in `_machine.py`).

A retiring socket goes through three steps: it *overlaps* with its successor (both deliver
data, each frame once), it is *switched* once the successor is resubscribed or its deadline
passes (it delivers nothing more and waits only for replies to its own trading requests), and
it is *closed* when nothing is owed on it or its grace ends. Pure; time is an argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ._outputs import CloseConnection
from ._table import FrameDedupe, Generation

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._api import ApiCalls
    from ._outputs import Output


class Handover:
    __slots__ = (
        "_api",
        "_dedupe",
        "_grace",
        "_overlapping",
        "_switch_after",
        "duplicates",
        "retiring",
    )

    def __init__(self, api: ApiCalls, *, grace: float, switch_after: float) -> None:
        self._api = api  # which sockets still owe replies to trading requests
        self._grace = grace
        self._switch_after = switch_after  # retiring -> switched at the latest (subscribe deadline)
        self.retiring: dict[int, Generation] = {}
        self._dedupe = FrameDedupe()
        # True while a retiring socket still delivers data: only then can frames come twice
        self._overlapping = False
        self.duplicates = 0  # second copies dropped, and data from switched sockets

    def retire(self, gen: Generation, now: float) -> None:
        """`gen` has a successor from `now` on."""
        gen.retiring_since = now
        gen.server.clear()
        gen.requests.clear()  # its acks now answer nothing
        self.retiring[gen.gen_id] = gen
        self._overlapping = True

    def drop(self, gen_id: int) -> Generation | None:
        """`gen_id` closed; return it if it was retiring."""
        gen = self.retiring.pop(gen_id, None)
        self._update_overlap()
        return gen

    def second_copy(self, text: str | bytes, gen: Generation) -> bool:
        """Is this push from `gen` one that must not be delivered (again)?"""
        if gen.switched is not None or (
            self._overlapping and self._dedupe.second_copy(text, gen.gen_id)
        ):
            self.duplicates += 1  # (a switched socket's successor carries its data now)
            return True
        return False

    def switch(
        self, now: float, reason: str, gens: Iterable[Generation] | None = None
    ) -> list[Output]:
        """Switch `gens` (default: every retiring socket); report those now closable."""
        for gen in self.retiring.values() if gens is None else gens:
            if gen.switched is None:
                gen.switched = now
        self._update_overlap()
        return self.closable(reason)

    def closable(self, reason: str) -> list[Output]:
        """`CloseConnection` (once each) for switched sockets that owe no more replies."""
        out: list[Output] = []
        for gen in self.retiring.values():
            if gen.switched is not None and not self._api.owes(gen.gen_id) and not gen.closing:
                gen.closing = True
                out.append(CloseConnection(gen.gen_id, reason))
        return out

    def deadline(self, gen: Generation) -> float:
        if gen.switched is not None:
            return gen.switched + self._grace
        return cast("float", gen.retiring_since) + self._switch_after

    def deadlines(self) -> list[float]:
        return [self.deadline(g) for g in self.retiring.values() if not g.closing]

    def handle_timer(self, now: float) -> list[Output]:
        """Switch sockets past their switch deadline; lose the requests of those past grace."""
        out: list[Output] = []
        due = [g for g in self.retiring.values() if g.switched is None and now >= self.deadline(g)]
        if due:
            out.extend(self.switch(now, "handed over: the subscribe deadline passed", due))
        grace = f"{self._grace:g}s"
        for gen in self.retiring.values():
            if gen.switched is not None and now >= self.deadline(gen):
                reason = f"no reply on the handed-over connection within {grace}"
                out.extend(self._api.lose(gen.gen_id, reason))
        out.extend(self.closable(f"handed over: grace of {grace} ended"))
        return out

    def _update_overlap(self) -> None:
        self._overlapping = any(g.switched is None for g in self.retiring.values())
        if not self._overlapping:
            self._dedupe.clear()
