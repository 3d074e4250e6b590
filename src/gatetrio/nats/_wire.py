"""What goes on the bus: subjects, message ids, payloads and the stream's settings. Pure.

No trio, no asyncio, no nats-py, no clock: the publisher and the consumers call these, and the
hypothesis tests check them alone.

Subjects are ``{prefix}.{settle}.{channel}.{contract}`` (prefix ``gate.futures`` by default).
The channel token names the stream exactly, so two streams whose update ids differ never share
a subject: ``trades``, ``tickers``, ``book_ticker``, ``obu_50`` / ``obu_400``,
``order_book_update_20``, ``order_book_20``, ``candlesticks_1m`` (``candlesticks_1m_mark``),
``public_liquidates``, ``contract_stats``, ``contract_info``, ``adl_warning``. Full book snapshots
of an obu stream go to the companion subject ``..{channel}_snapshot.{contract}``.

Payloads are Gate's own frame for one item (``encode_event`` of a one-item update, e.g.
``{"channel":"futures.trades","event":"update","result":[{...}]}``): any Gate client, in any
language, already decodes them, and `decode_payload` is `decode_message`. The frame carries no
collector-local data (no receive time, no connection id), so two collectors write identical
bytes for the same event.

Message ids (JetStream's ``Nats-Msg-Id``, deduplicated within the stream's duplicate window)
come from the exchange's own identity of the event, so redundant collectors write one copy:

- exact: trades (trade id), obu and order_book_update deltas (the ``U-u`` update-id range; a
  full push by its ``u``), order_book snapshots (book id), book_ticker (book update id ``u``),
  tickers stamped with ``t`` (Gate's ms stamp), closed candles (interval + start);
- best effort (a digest of the payload): open candles, tickers without ``t``, liquidations,
  contract stats, contract info, ADL warnings. Gate gives these no id. Two collectors that see
  the same push write one copy; the catch is that two identical pushes within the window also
  collapse into one (for a state channel, the same state twice, which loses nothing).

Order (`sequence`): an item's key in the exchange's own sequence of its subject, which the
consumers' re-sequencing window (`_reorder`) orders by: a trade's id, a book delta's update-id
range, a full book's update id, a book ticker's `u`, a stamped ticker's `t`. For trades, book
tickers and tickers the publisher adds the key of the previous event it saw on the subject
(header `Gatetrio-Prev`) when it knows there was nothing between; a book delta carries its own
(`U - 1`). The other channels have no sequence from the exchange and keep arrival order.
"""

from __future__ import annotations

import hashlib
import typing
from typing import TYPE_CHECKING, Final, TypeAlias

import attrs

from gatetrio._core._catalog import CATALOG, Route
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._errors import ProtocolError, UsageError
from gatetrio._core._events import (
    AdlWarning,
    BookDelta,
    BookSnapshot,
    BookTicker,
    Candlestick,
    ContractInfo,
    ContractStats,
    ObuDelta,
    PublicLiquidation,
    Ticker,
    Trade,
)

from ._errors import StreamMismatch
from ._reorder import Kind

if TYPE_CHECKING:
    from collections.abc import Callable

    from gatetrio._core._catalog import Item
    from gatetrio._core._events import Event

__all__ = [
    "DEFAULT_PREFIX",
    "BusItem",
    "Envelope",
    "StreamReport",
    "StreamSettings",
    "StreamState",
    "check_prefix",
    "covers",
    "decode_payload",
    "encode_payload",
    "envelope",
    "exactness",
    "exchange_ms",
    "plan_stream",
    "sequence",
    "snapshot_subject",
    "stream_differences",
    "subject",
]

BusItem: TypeAlias = (
    Trade
    | Ticker
    | BookTicker
    | ObuDelta
    | BookDelta
    | BookSnapshot
    | Candlestick
    | PublicLiquidation
    | ContractStats
    | ContractInfo
    | AdlWarning
)
"""The public-channel items that can be published."""

DEFAULT_PREFIX: Final = "gate.futures"
SNAPSHOT_SUFFIX: Final = "_snapshot"
_DIGEST_BYTES: Final = 12  # 96 bits: collisions within a duplicate window are not a concern
_SETTLES: Final = frozenset({"usdt", "btc", "usd1"})
_BAD_TOKEN_CHARS: Final = frozenset(" \t\r\n.*>")


def _check_token(token: str, what: str) -> str:
    if not token or any(c in _BAD_TOKEN_CHARS for c in token) or not token.isprintable():
        raise UsageError(
            f"{what} {token!r} cannot be a NATS subject token: no dots, spaces, '*' or '>'"
        )
    return token


def check_prefix(prefix: object) -> str:
    """Check a subject prefix such as ``gate.futures`` (dot-separated tokens, no wildcards)."""
    if not isinstance(prefix, str) or not prefix:
        raise UsageError(f"prefix must be a non-empty str like 'gate.futures', got {prefix!r}")
    for token in prefix.split("."):
        _check_token(token, "prefix token")
    return prefix


def check_settle(settle: object) -> str:
    if settle not in _SETTLES:
        raise UsageError(f"settle must be one of {', '.join(sorted(_SETTLES))}, got {settle!r}")
    return str(settle)


# ------------------------------------------------------------------------------- identities


@attrs.frozen
class Envelope:
    """Everything the publisher sends for one item: subject, message id and payload."""

    subject: str
    msg_id: str
    payload: bytes
    exact: bool
    """True when `msg_id` is the exchange's own identity of the event (see the module doc)."""
    prev: int | None = None
    """The key of the event the collector saw just before on this subject (header
    `Gatetrio-Prev`), when it knows nothing came between; see `sequence`."""
    time_ms: int = 0
    """The exchange's time of the event (unix ms; 0 unknown), to tell an event older than
    the stream's duplicate window."""


@attrs.frozen
class _Published:
    """How the bus carries one item class, from its catalogue row (`Route.stream`)."""

    token: str  # the channel's short name: "trades", "obu", "candlesticks"
    route: Route
    many: bool  # the frame's result is a tuple of items (else one item)


def _published() -> dict[type[object], _Published]:
    table: dict[type[object], _Published] = {}
    for row in CATALOG:
        for route in row.routes:
            if route.stream is None or row.private:
                continue
            result = typing.get_type_hints(route.frame)["result"]
            table[route.item] = _Published(row.short, route, typing.get_origin(result) is tuple)
    return table


_PUBLISHED: Final = _published()
"""Item class -> how it is published: every public channel's item the catalogue gives a
stream."""


def _route(item: object) -> tuple[str, str]:
    """(channel token, contract) of an item."""
    published = _PUBLISHED.get(type(item))
    if published is None or published.route.stream is None:
        raise UsageError(
            f"{type(item).__name__} cannot be published: only public-channel items can "
            "(trades, tickers, book_ticker, obu, order_book_update, order_book, candlesticks, ...)"
        )
    qualifier, contract = published.route.stream(typing.cast("Item", item))
    return (f"{published.token}_{qualifier}" if qualifier else published.token), contract


def subject(item: object, *, settle: str, prefix: str = DEFAULT_PREFIX) -> str:
    """``{prefix}.{settle}.{channel}.{contract}`` for an item."""
    channel, contract = _route(item)
    _check_token(channel, "channel")
    _check_token(contract, "contract")
    return f"{prefix}.{settle}.{channel}.{contract}"


def book_subject(contract: str, level: str, *, settle: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The subject of an obu stream's deltas: ``{prefix}.{settle}.obu_{level}.{contract}``."""
    _check_token(contract, "contract")
    return f"{prefix}.{settle}.obu_{level}.{contract}"


def snapshot_subject(delta_subject: str) -> str:
    """The companion subject of a book stream's full snapshots."""
    head, _, contract = delta_subject.rpartition(".")
    return f"{head}{SNAPSHOT_SUFFIX}.{contract}"


def _digest(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=_DIGEST_BYTES).hexdigest()


def _identity(item: object, payload: bytes) -> tuple[str, bool]:
    """(id within the subject, exact?)"""
    match item:
        case Trade(id=trade_id):
            return str(trade_id), True
        case ObuDelta(full=True, u=u) | BookDelta(full=True, u=u):
            return f"full:{u}", True
        case ObuDelta(U=first, u=last) | BookDelta(U=first, u=last):
            return f"{first}-{last}", True
        case BookSnapshot(id=book_id):
            return f"id:{book_id}", True
        case BookTicker(u=u):
            return str(u), True
        case Ticker() if item.t:
            return f"t:{item.t}", True
        case Candlestick(t=start, w=True):
            return f"{start}:closed", True
    return _digest(payload), False


def frame_for(item: BusItem) -> Event:
    """The one-item Gate frame carrying `item` (no collector-local envelope fields)."""
    published = _PUBLISHED.get(type(item))
    if published is None:  # pragma: no cover - BusItem is exactly the published classes
        raise UsageError(f"{type(item).__name__} cannot be published")
    make = typing.cast("Callable[..., Event]", published.route.frame)  # one field: result
    return make(result=(item,) if published.many else item)


def encode_payload(item: BusItem) -> bytes:
    """Gate's JSON frame for one item, as bytes."""
    return encode_event(frame_for(item)).encode()


def decode_payload(payload: bytes) -> BusItem:
    """The item a bus payload carries.

    Raises:
        ProtocolError: not a one-item frame of a publishable channel.
    """
    frame = decode_message(payload)
    result = getattr(frame, "result", None)
    if isinstance(result, tuple):
        if len(result) != 1:
            raise ProtocolError(f"a bus payload holds one item, got {len(result)}", raw=payload)
        result = result[0]
    try:
        _route(result)
    except UsageError:
        raise ProtocolError(
            f"not a publishable item: {type(frame).__name__}", raw=payload[:200]
        ) from None
    return result  # type: ignore[return-value]  # _route accepted it: a BusItem


def envelope(
    item: BusItem, *, settle: str, prefix: str = DEFAULT_PREFIX, prev: int | None = None
) -> Envelope:
    """Subject, message id and payload of one item (`prev`: see `Envelope.prev`)."""
    subj = subject(item, settle=settle, prefix=prefix)
    payload = encode_payload(item)
    identity, exact = _identity(item, payload)
    return Envelope(
        subject=subj,
        msg_id=f"{subj}:{identity}",
        payload=payload,
        exact=exact,
        prev=prev,
        time_ms=exchange_ms(item),
    )


def snapshot_envelope(snapshot: ObuDelta, delta_subject: str) -> Envelope:
    """A full book (an `ObuDelta` with ``full=True``) on the companion snapshot subject.

    Two collectors snapshotting at the same update id write one copy.
    """
    if not snapshot.full:
        raise UsageError("a book snapshot is an ObuDelta with full=True")
    subj = snapshot_subject(delta_subject)
    payload = encode_payload(snapshot)
    return Envelope(
        subject=subj,
        msg_id=f"{subj}:{snapshot.u}",
        payload=payload,
        exact=True,
        time_ms=snapshot.t,
    )


def sequence(item: BusItem) -> tuple[Kind, int, int | None]:
    """(how `item` is ordered on its subject, its key, its own predecessor's key if it has one).

    See the module doc; `Kind.CHAIN` items take their predecessor from the collector. Book keys
    are twice the update id, plus one for a full book: a snapshot taken at update id `u` comes
    right after the delta that ends at `u`, and a delta at or below it is covered by it.
    """
    match item:
        case Trade(id=trade_id):
            return Kind.CHAIN, trade_id, None
        case ObuDelta(full=True, u=u) | BookDelta(full=True, u=u):
            return Kind.RESET, 2 * u + 1, None
        case ObuDelta(U=first, u=last) | BookDelta(U=first, u=last):
            return Kind.RANGE, 2 * last, 2 * (first - 1)
        case BookSnapshot(id=int() as book_id):
            return Kind.RESET, 2 * book_id + 1, None
        case BookTicker(u=u):
            return Kind.CHAIN, u, None
        case Ticker() if item.t:
            return Kind.CHAIN, item.t, None
    return Kind.NONE, 0, None


def exchange_ms(item: BusItem) -> int:
    """The exchange's time of the event in unix ms, or 0 when the item carries none."""
    match item:
        case Trade(create_time_ms=ms, create_time=seconds):
            return ms or seconds * 1000
        case ObuDelta(t=ms) | BookDelta(t=ms) | BookSnapshot(t=ms) | BookTicker(t=ms):
            return ms
        case Ticker():
            return item.t
        case PublicLiquidation():
            return item.time_ms
        case AdlWarning(update_time=ms):
            return ms
    return 0  # candles (a bucket's start, not the event's), contract stats and info


def exactness(item: BusItem) -> bool:
    """True when `item`'s message id is the exchange's identity (deduplication is exact)."""
    return _identity(item, encode_payload(item))[1]


# ---------------------------------------------------------------------------------- stream


@attrs.frozen(kw_only=True)
class StreamSettings:
    """The JetStream stream the publisher writes to; created if missing, updated if different.

    Defaults keep a day or 1 GiB, whichever is reached first, and deduplicate within 2 minutes:
    redundant collectors must lag each other by less than `duplicate_window` seconds.
    `replicas=3` on a 3-node cluster survives a node loss.
    """

    name: str = "GATE_FUTURES"
    subjects: tuple[str, ...] = (f"{DEFAULT_PREFIX}.>",)
    max_age: float = 24 * 3600.0  # seconds
    max_bytes: int = 1 << 30
    duplicate_window: float = 120.0  # seconds
    replicas: int = 1
    storage: str = "file"  # or "memory"

    def __attrs_post_init__(self) -> None:
        if not self.name or any(c in _BAD_TOKEN_CHARS for c in self.name):
            raise UsageError(f"stream name {self.name!r}: no dots, spaces, '*' or '>'")
        if not self.subjects:
            raise UsageError("a stream needs at least one subject, e.g. 'gate.futures.>'")
        if not self.max_age > 0 or not self.duplicate_window > 0:
            raise UsageError("max_age and duplicate_window are seconds > 0")
        if self.duplicate_window > self.max_age:
            raise UsageError("duplicate_window cannot exceed max_age")
        if self.max_bytes < 1:
            raise UsageError(f"max_bytes must be >= 1, got {self.max_bytes}")
        if self.replicas not in {1, 2, 3, 4, 5}:
            raise UsageError(f"replicas must be 1 to 5 (3 on a 3-node cluster), {self.replicas}")
        if self.storage not in {"file", "memory"}:
            raise UsageError(f"storage must be 'file' or 'memory', got {self.storage!r}")

    @classmethod
    def for_prefix(cls, prefix: str, **options: object) -> StreamSettings:
        """Settings capturing every subject under `prefix`."""
        return cls(subjects=(f"{check_prefix(prefix)}.>",), **options)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class StreamState:
    """What an existing stream is set to (from the server), in `StreamSettings`' terms."""

    subjects: tuple[str, ...]
    max_age: float  # seconds; 0 is unlimited
    max_bytes: int  # -1 is unlimited
    duplicate_window: float
    replicas: int
    storage: str


@attrs.frozen(kw_only=True)
class StreamReport:
    """What the publisher found when it set the stream up."""

    created: bool = False
    updated: bool = False
    differences: tuple[str, ...] = ()
    """How the existing stream differs from the settings asked for (left as it is unless
    `update_stream`)."""
    duplicate_window: float = 0.0
    """The stream's duplicate window in seconds, as it is now."""


def _seconds(value: float) -> str:
    return f"{value:g}s" if value else "unlimited"


def stream_differences(want: StreamSettings, have: StreamState) -> tuple[str, ...]:
    """Each setting of `have` that differs from `want`, as "replicas 3 (asked 1)"."""
    out = []
    if sorted(have.subjects) != sorted(want.subjects):
        out.append(f"subjects {', '.join(have.subjects)} (asked {', '.join(want.subjects)})")
    if have.replicas != want.replicas:
        out.append(f"replicas {have.replicas} (asked {want.replicas})")
    if have.duplicate_window != want.duplicate_window:
        out.append(
            f"duplicate window {_seconds(have.duplicate_window)} "
            f"(asked {_seconds(want.duplicate_window)})"
        )
    if have.max_age != want.max_age:
        out.append(f"max age {_seconds(have.max_age)} (asked {_seconds(want.max_age)})")
    if have.max_bytes != want.max_bytes:
        have_bytes = "unlimited" if have.max_bytes < 0 else str(have.max_bytes)
        out.append(f"max bytes {have_bytes} (asked {want.max_bytes})")
    if have.storage != want.storage:
        out.append(f"storage {have.storage} (asked {want.storage})")
    return tuple(out)


def _token_covers(pattern: list[str], subject: list[str]) -> bool:
    """Whether every subject matching `subject` (a pattern itself) matches `pattern`."""
    for i, part in enumerate(pattern):
        if part == ">":
            return i < len(subject)
        if i >= len(subject):
            return False
        wanted = subject[i]
        if wanted == ">":
            return False  # `subject` goes on with any number of tokens; `pattern` does not
        if part not in {"*", wanted}:
            return False
    return len(pattern) == len(subject)


def covers(patterns: tuple[str, ...] | list[str], subject: str) -> bool:
    """Whether a stream taking `patterns` takes every subject matching `subject`."""
    wanted = subject.split(".")
    return any(_token_covers(p.split("."), wanted) for p in patterns)


def plan_stream(
    want: StreamSettings, have: StreamState, *, takes: str, update: bool
) -> StreamReport:
    """What to do with an existing stream: leave it (reporting what differs) unless `update`.

    Raises:
        StreamMismatch: the stream does not take `takes` (what will be published) and
            `update` is not set, or `update` would have to change its storage.
    """
    differences = stream_differences(want, have)
    if not update:
        if not covers(have.subjects, takes):
            raise StreamMismatch(want.name, differences, takes=takes)
        return StreamReport(differences=differences, duplicate_window=have.duplicate_window)
    if have.storage != want.storage:
        raise StreamMismatch(
            want.name,
            differences,
            takes=takes,
            detail="JetStream cannot change a stream's storage; publish into another stream",
        )
    if not differences:
        return StreamReport(duplicate_window=have.duplicate_window)
    return StreamReport(
        differences=differences, updated=True, duplicate_window=want.duplicate_window
    )
