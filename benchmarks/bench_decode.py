"""Decode throughput per message kind: gatetrio's decoders against plain JSON parsing.

    python -m benchmarks.bench_decode [--rounds 11] [--repeat 5] [--kinds trades,obu] [--designs]

Frames: benchmarks/data/<kind>.jsonl, synthesized by `python -m benchmarks.make_data`
(realistic sizes; see that module). Decoders, all in one run:

- `decode_message`: the typed msgspec hot path (what the client uses);
- `msgspec alone (same types)`: its one msgspec call without gatetrio's checks, the floor;
- `reference`: `decode_message_reference`, stdlib json plus explicit construction;
- `json.loads`: to dicts, the baseline every ratio is against;
- `orjson.loads`: to dicts.

Each round times every decoder over all frames of a kind (`--repeat` passes, best pass kept),
in a rotating order so that drift on a shared machine hits all decoders alike. Reported: the
median rate over rounds, its min..max, and the median of the per-round ratios to json.loads.
Read the ratios; the absolute figures depend on the machine and its load.

`--designs` adds the rejected designs recorded in benchmarks/README.md ("Decode"), msgspec
alone in each case: attrs records instead of Structs, and tickers with eager Decimals.
`--check` exits 1 when decode_message is below 2x json.loads for some kind.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from decimal import Decimal  # noqa: TC003  # msgspec resolves the Struct annotations below
from pathlib import Path
from types import UnionType
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

import attrs
import msgspec
import orjson

from gatetrio._core._decode import _DECODE, _decode_typed, decode_message
from gatetrio._core._events import DATA_EVENT_TYPES, REQUIRED, Frame, record_classes, record_fields
from gatetrio._core._reference_decode import decode_message_reference

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("trades", "order_book_update", "obu", "tickers", "book_ticker", "orders")
CHANNELS = {kind: f"futures.{kind}" for kind in KINDS}
RECORDS = record_classes()
TARGET = 2.0  # decode_message at least this many times json.loads, for every kind

DECODERS: dict[str, Callable[[str], object]] = {
    "decode_message": decode_message,
    "msgspec alone (same types)": _DECODE,
    "reference": decode_message_reference,
    "json.loads": json.loads,
    "orjson.loads": orjson.loads,
}


# --------------------------------------------------------------- rejected designs (--designs)
# msgspec alone into the alternative types: a lower bound for each design, without the checks
# decode_message adds. Compare with "msgspec alone (same types)".


def _twin_type(annotation: Any, twins: dict[type, type]) -> Any:
    """`annotation` with every record class replaced by its attrs twin."""
    if isinstance(annotation, type) and annotation in twins:
        return twins[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _twin_type(args[0], twins)
    if origin is tuple:
        return tuple[_twin_type(args[0], twins), ...]  # type: ignore[misc]
    if origin in {Union, UnionType}:
        return Union[tuple(_twin_type(arg, twins) for arg in args)]  # noqa: UP007
    return annotation


def _attrs_twins(frame_class: type[msgspec.Struct]) -> type:
    """An @attrs.frozen copy of a frame class and every record it holds (levels stay Structs,
    as they were before the switch), with `channel` an ordinary field again."""
    twins: dict[type, type] = {}

    def twin(cls: type[msgspec.Struct]) -> type:
        if cls not in twins:
            hints = get_type_hints(cls, include_extras=True)
            for field in record_fields(cls):
                inner = field.annotation.removesuffix(" | None")
                name = inner[6:-6] if inner.startswith("tuple[") else inner
                nested = RECORDS.get(name)
                if nested is not None:
                    twin(nested)
            attributes = {
                f.name: attrs.field(type=_twin_type(hints[f.name], twins))
                if f.default is REQUIRED
                else attrs.field(type=_twin_type(hints[f.name], twins), default=f.default)
                for f in record_fields(cls)
            }
            if issubclass(cls, Frame):
                attributes["channel"] = attrs.field(type=str, default="")
            twins[cls] = attrs.make_class(cls.__name__, attributes, frozen=True)
        return twins[cls]

    return twin(frame_class)


class _EagerTicker(msgspec.Struct, frozen=True, gc=False):
    """The rejected eager ticker: every decimal field a Decimal at decode time."""

    contract: str
    last: Decimal
    change_percentage: Decimal | None = None
    total_size: Decimal | None = None
    volume_24h: Decimal | None = None
    volume_24h_base: Decimal | None = None
    volume_24h_quote: Decimal | None = None
    volume_24h_settle: Decimal | None = None
    mark_price: Decimal | None = None
    index_price: Decimal | None = None
    funding_rate: Decimal | None = None
    funding_rate_indicative: Decimal | None = None
    low_24h: Decimal | None = None
    high_24h: Decimal | None = None
    change_price: Decimal | None = None
    quanto_base_rate: str = ""
    price_type: str = ""
    change_from: str = ""
    funding_interval: int = 0
    funding_offset: int = 0
    funding_next_apply: int = 0
    t: int = 0
    event_type: str = ""


class _EagerTickers(msgspec.Struct, frozen=True, gc=False):
    result: tuple[_EagerTicker, ...]
    channel: str
    time: int = 0
    time_ms: int = 0
    event: str = "update"


def design_decoders(kind: str) -> dict[str, Callable[[str], object]]:
    frame_class = next(iter(DATA_EVENT_TYPES[CHANNELS[kind]]))
    designs: dict[str, Callable[[str], object]] = {}
    if kind == "tickers":
        designs["rejected: eager Decimal tickers"] = msgspec.json.Decoder(_EagerTickers).decode
    else:
        twin = _attrs_twins(frame_class)
        designs["rejected: attrs records"] = msgspec.json.Decoder(twin).decode
    return designs


def load(kind: str) -> list[str]:
    path = DATA / f"{kind}.jsonl"
    if not path.exists():
        sys.exit(f"{path} is missing: run `python -m benchmarks.make_data` first")
    frames = path.read_text(encoding="utf-8").splitlines()
    # Measure the typed path, not a silent fallback to the reference decoder.
    untyped = [frame for frame in frames if _decode_typed(frame) is None]
    if untyped:
        sys.exit(f"{kind}: {len(untyped)} frames miss the typed path, e.g. {untyped[0][:120]}")
    return frames


def best_pass(decode: Callable[[str], object], frames: list[str], repeat: int) -> float:
    """Seconds per message: the fastest of `repeat` passes over all frames."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for frame in frames:
            decode(frame)
        best = min(best, time.perf_counter() - start)
    return best / len(frames)


@attrs.frozen
class Row:
    decoder: str
    rates: list[float]  # messages per second, one per round
    ratios: list[float]  # per-round ratio to json.loads


def measure(kind: str, rounds: int, repeat: int, *, designs: bool = False) -> list[Row]:
    frames = load(kind)
    decoders = DECODERS | (design_decoders(kind) if designs else {})
    names = list(decoders)
    per_msg: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in order:
            per_msg[name].append(best_pass(decoders[name], frames, repeat))
    base = per_msg["json.loads"]
    return [
        Row(
            decoder=name,
            rates=[1 / seconds for seconds in per_msg[name]],
            ratios=[b / seconds for b, seconds in zip(base, per_msg[name], strict=True)],
        )
        for name in names
    ]


def rate_text(rate: float) -> str:
    return f"{rate / 1e6:.2f} M" if rate >= 1e6 else f"{rate / 1e3:.0f} k"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--designs", action="store_true", help="also time rejected designs")
    parser.add_argument("--check", action="store_true", help="exit 1 below the 2x target")
    args = parser.parse_args(argv)
    kinds = args.kinds.split(",")
    print(
        f"Python {sys.version.split()[0]} ({platform.python_implementation()}), "
        f"msgspec {msgspec.__version__}, attrs {attrs.__version__}, orjson {orjson.__version__}, "
        f"{platform.machine()} {platform.processor() or platform.system()}; "
        f"{args.rounds} rounds x best of {args.repeat} passes"
    )
    missed = []
    summary = []
    for kind in kinds:
        frames = load(kind)
        size = sum(map(len, frames)) / len(frames)
        rows = measure(kind, args.rounds, args.repeat, designs=args.designs)
        print(f"\n### {kind} ({len(frames)} frames, mean {size:.0f} B)\n")
        print("| decoder | msgs/s (median) | min..max | µs/msg | ratio vs json.loads |")
        print("|---|---:|---:|---:|---:|")
        for row in rows:
            median = statistics.median(row.rates)
            ratio = statistics.median(row.ratios)
            print(
                f"| {row.decoder} | {rate_text(median)} | {rate_text(min(row.rates))}.."
                f"{rate_text(max(row.rates))} | {1e6 / median:.2f} | {ratio:.2f} |"
            )
            if row.decoder == "decode_message":
                summary.append((kind, ratio))
                if ratio < TARGET:
                    missed.append(kind)
    print("\n| kind | decode_message vs json.loads |\n|---|---:|")
    for kind, ratio in summary:
        print(f"| {kind} | {ratio:.2f}x |")
    if missed:
        print(f"\nbelow the {TARGET}x target: {', '.join(missed)}")
        return 1 if args.check else 0
    print(f"\nevery kind at or above the {TARGET}x target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
