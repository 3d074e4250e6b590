"""Faults as the `--fault` option spells them, and applying them to a server on a schedule.

The faults themselves are `FakeGateServer` methods (`drop`, `stall`, `inject_gap`, ...); this
module only parses their spelling and calls them, through `FaultTarget`, at their times.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Final, Protocol

import attrs
import trio

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


@typing.final
@attrs.frozen
class FaultSpec:
    """A fault as the `--fault` option spells it: ``KIND[:ARG...][@AT[/EVERY]]``.

    Kinds: ``drop``, ``stall``, ``resume``, ``gap:CONTRACT[:SIZE]``, ``upgrade[:GRACE]``,
    ``refuse:N``, ``malformed``, ``cut-slow``. `at` is seconds after start (default 0), `every`
    repeats it. Example: ``gap:BTC_USDT:5@10/30`` skips 5 ids on BTC_USDT at 10 s, 40 s, ...
    """

    kind: str
    args: tuple[str, ...] = ()
    at: float = 0.0
    every: float | None = None


FAULT_KINDS: Final = (
    "drop",
    "stall",
    "resume",
    "gap",
    "upgrade",
    "refuse",
    "malformed",
    "cut-slow",
)


def parse_fault(text: str) -> FaultSpec:
    """Parse a `--fault` value; ValueError says what is wrong."""
    spec, _, when = text.partition("@")
    kind, *args = spec.split(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}")
    at_text, _, every_text = when.partition("/")
    try:
        at = float(at_text) if at_text else 0.0
        every = float(every_text) if every_text else None
    except ValueError:
        raise ValueError(f"bad time in fault {text!r}: use KIND@SECONDS[/EVERY]") from None
    if kind == "gap" and not 1 <= len(args) <= 2:
        raise ValueError("gap needs a contract: gap:BTC_USDT[:SIZE]")
    if kind == "refuse" and len(args) != 1:
        raise ValueError("refuse needs a count: refuse:3")
    try:
        for arg in args[1:] if kind == "gap" else args:
            float(arg)
    except ValueError:
        raise ValueError(f"bad number in fault {text!r}") from None
    if every is not None and every <= 0:
        raise ValueError("the repeat interval must be > 0")
    return FaultSpec(kind, tuple(args), at, every)


class FaultTarget(Protocol):
    """The fault methods of `FakeGateServer` that a `FaultSpec` names."""

    def drop(self) -> None: ...
    def stall(self) -> None: ...
    def resume(self) -> None: ...
    def inject_gap(self, contract: str, size: int) -> tuple[int, int]: ...
    def send_upgrade(self, grace: float) -> None: ...
    def refuse(self, n: int) -> None: ...
    def send_malformed(self) -> None: ...
    def cut_slow_consumers(self) -> list[str]: ...


def apply_fault(target: FaultTarget, fault: FaultSpec) -> None:
    """Apply a parsed `--fault` once (its schedule is the caller's business)."""
    args = fault.args
    match fault.kind:
        case "drop":
            target.drop()
        case "stall":
            target.stall()
        case "resume":
            target.resume()
        case "gap":
            target.inject_gap(args[0], int(args[1]) if len(args) > 1 else 5)
        case "upgrade":
            target.send_upgrade(float(args[0]) if args else 5.0)
        case "refuse":
            target.refuse(int(args[0]))
        case "malformed":
            target.send_malformed()
        case "cut-slow":
            target.cut_slow_consumers()


async def run_faults(
    target: FaultTarget, faults: Sequence[FaultSpec], *, start_time: Callable[[], float]
) -> None:
    """Apply each fault at `start_time() + at` (trio's clock), repeating as asked."""
    async with trio.open_nursery() as nursery:
        for fault in faults:
            nursery.start_soon(_run_fault, target, fault, start_time)


async def _run_fault(
    target: FaultTarget, fault: FaultSpec, start_time: Callable[[], float]
) -> None:
    at = fault.at
    while True:
        await trio.sleep_until(start_time() + at)
        apply_fault(target, fault)
        if fault.every is None:
            return
        at += fault.every
