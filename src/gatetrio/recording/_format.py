"""The recording format: one JSON object per line, tagged by `k` (pure: no trio, no I/O).

    {"k":"f","ns":…,"s":0,"c":1,"t":"<frame text>"}     a frame, verbatim (`b`: base64 bytes)
    {"k":"e","ns":…,"s":0,"kind":"connected",…}         a connection event (ClientEvent)
    {"k":"d","ns":…,"s":0,"what":"frames","n":3}        frames the recorder could not keep up
                                                         with, counted where they were lost
    {"k":"r","ns":…,"s":0,"contract":"BTC_USDT",        a REST order-book snapshot (`body` as
     "limit":20,"body":{"id":…,"bids":…,…}}             Gate answers it, with its `id`), taken
                                                         when an order_book_update stream starts
                                                         and after each gap in it (version 2)

`ns` is the local wall clock in unix nanoseconds; `s` the shard (0 for a single client) and
`c` the connection generation within it, so frames of two overlapping sockets stay apart.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

FORMAT: Final = "gatetrio-recording"
VERSION: Final = 2  # 2: `r` lines (REST snapshots)
MANIFEST: Final = "manifest.json"
PART_PREFIX: Final = "part-"
PART_SUFFIX: Final = ".jsonl.zst"


class FrameLine(msgspec.Struct, tag="f", tag_field="k", frozen=True, omit_defaults=True):
    ns: int
    s: int
    c: int
    t: str | None = None
    b: bytes | None = None

    @property
    def text(self) -> str:
        """The frame's text (a binary frame decoded as UTF-8, errors replaced)."""
        if self.t is not None:
            return self.t
        return (self.b or b"").decode("utf-8", "replace")


class EventLine(msgspec.Struct, tag="e", tag_field="k", frozen=True, omit_defaults=True):
    ns: int
    s: int
    kind: str
    at: float = 0.0
    reason: str = ""
    channel: str = ""
    attempt: int = 0
    url: str = ""


class DropLine(msgspec.Struct, tag="d", tag_field="k", frozen=True):
    ns: int
    s: int
    what: Literal["frames", "events"]
    n: int


class RestSnapshotLine(msgspec.Struct, tag="r", tag_field="k", frozen=True):
    """A REST snapshot (`GET .../order_book?with_id=true`) of `contract`, `limit` levels a side:
    the base a replay rebuilds an order_book_update stream of level `limit` from."""

    ns: int
    s: int
    contract: str
    limit: int
    body: dict[str, Any]


Line = FrameLine | EventLine | DropLine | RestSnapshotLine


class PartInfo(msgspec.Struct):
    name: str
    lines: int = 0
    bytes: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    complete: bool = False  # closed by the recorder; False: in progress, or the recorder died


class Manifest(msgspec.Struct):
    """`manifest.json`: rewritten atomically at each rotation and at the end."""

    format: str = FORMAT
    version: int = VERSION
    created_ns: int = 0
    meta: dict[str, object] = msgspec.field(default_factory=dict)
    parts: list[PartInfo] = msgspec.field(default_factory=list)
    frames: int = 0
    events: int = 0
    frames_dropped: int = 0
    events_dropped: int = 0
    snapshots: int = 0
    closed: bool = False
    repaired: bool = False
    """Its parts and totals were recounted from the files after the recorder died."""


_encoder: Final = msgspec.json.Encoder()
_line_decoder: Final = msgspec.json.Decoder(Line)
_manifest_decoder: Final = msgspec.json.Decoder(Manifest)


def encode_line(line: Line) -> bytes:
    return _encoder.encode(line) + b"\n"


def decode_line(data: bytes) -> Line:
    return _line_decoder.decode(data)


def encode_manifest(manifest: Manifest) -> bytes:
    return msgspec.json.format(_encoder.encode(manifest), indent=2) + b"\n"


def decode_manifest(data: bytes) -> Manifest:
    return _manifest_decoder.decode(data)


def part_name(index: int) -> str:
    return f"{PART_PREFIX}{index:05d}{PART_SUFFIX}"
