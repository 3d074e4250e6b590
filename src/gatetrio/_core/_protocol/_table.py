"""The records behind `GateProtocol`: subscriptions, their targets, and connection generations.

Vocabulary:

- A *subscription* is one `ChannelSpec` registered with `subscribe`, named by an int `sub_id`.
- A *target* is what the server subscribes: for batched channels (trades, obu, ...) each payload
  element is its own target, shared by every subscription listing it; for positional channels
  (order_book_update, candlesticks, private channels) the whole payload tuple is the target.
  Targets are refcounted per connection so that overlapping subscriptions never send a duplicate
  subscribe (obu answers duplicates with "Alert sub", spec 6.6) and unsubscribing one never
  silently cuts another's data.
- A *generation* is one WebSocket connection, numbered from 1 by `on_connected`. At most one is
  *current* (subscriptions, heartbeat and new trading requests live there); during an upgrade
  handover older ones are *retiring*: they still deliver data (de-duplicated against the
  current one) and answer the trading requests sent on them, until they are closed.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Final, TypeAlias, cast

from gatetrio._core._catalog import CHANNELS
from gatetrio._core._encode import encode_request
from gatetrio._core._errors import UsageError
from gatetrio._core._requests import WILDCARD, ChannelSpec, Subscribe, Unsubscribe

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gatetrio._core._config import Credentials

_INT32_MAX: Final = 2**31 - 1  # Gate support told ccxt request ids must fit int32 (spec 13.15)
LIVE: Final = 0  # `Generation.server` value for an acked target; pending ones hold their req id
HANDOVER_DEDUPE: Final = 4096  # frames remembered while two connections overlap

# (channel, element) for batched channels, (channel, payload tuple) for positional ones: the two
# shapes never compare equal, so a misdeclared spec cannot alias another channel's targets.
Target: TypeAlias = tuple[str, "str | tuple[str, ...]"]

# One planned frame: (channel, private, payload, targets).
Planned: TypeAlias = tuple[str, bool, tuple[str, ...], tuple[Target, ...]]


class Sub:
    __slots__ = (
        "ack_by",
        "failed",
        "groups",
        "had_data",
        "last_data",
        "latency_ms",
        "ready",
        "silences",
        "silent",
        "snapshot_first",
        "spec",
        "sub_id",
        "targets",
    )

    def __init__(
        self, sub_id: int, spec: ChannelSpec[object], groups: tuple[tuple[Target, ...], ...]
    ) -> None:
        self.sub_id = sub_id
        self.spec = spec
        # One group per spec payload, in order: the unit of one subscribe frame. Batched groups
        # are de-duplicated across the whole spec.
        self.groups = groups
        self.targets: tuple[Target, ...] = tuple(t for group in groups for t in group)
        self.ready = False
        self.failed = False
        # Until its first ack: when it fails without one, however many connections carried its
        # frame (`GateProtocol`, "Deadlines a server cannot restart"); None once ready.
        self.ack_by: float | None = None
        self.silent = False
        self.silences = 0
        self.last_data = 0.0
        self.latency_ms: float | None = None
        self.had_data = False  # on this connection
        row = CHANNELS.get(spec.channel)
        self.snapshot_first = row is not None and row.snapshot_first


class Request:
    """A subscribe/unsubscribe frame awaiting its reply; a subscribe has a reply deadline."""

    __slots__ = ("channel", "deadline", "event", "payload", "targets")

    def __init__(
        self,
        event: str,
        channel: str,
        payload: tuple[str, ...],
        targets: tuple[Target, ...],
        deadline: float | None,
    ) -> None:
        self.event = event
        self.channel = channel
        self.payload = payload
        self.targets = targets
        self.deadline = deadline


class Generation:
    """One connection's state. Request ids are per protocol, never per generation, so a late
    reply from an old socket can never be taken for the new socket's.
    """

    __slots__ = (
        "closing",
        "gen_id",
        "requests",
        "retiring_since",
        "server",
        "switched",
        "upgrade_noted",
    )

    def __init__(self, gen_id: int) -> None:
        self.gen_id = gen_id
        self.server: dict[Target, int] = {}  # target -> pending request id, or LIVE
        self.requests: dict[int, Request] = {}  # insertion order = send order (FIFO fallback)
        self.retiring_since: float | None = None  # when a successor connected
        # when the successor was resubscribed (or the subscribe deadline passed): from then on
        # this socket only waits for replies to its own trading requests, for a grace period
        self.switched: float | None = None
        self.closing = False  # CloseConnection was reported
        self.upgrade_noted = False  # an upgrade notice came (and was reported) on this socket


# Per channel: by_key maps a routing key to its route (exact-key subs plus wildcard subs, in
# sub_id order); `wildcard` is the route for keys nobody named; `everyone` the route for
# channel-wide items.
Route: TypeAlias = tuple[Sub, ...]
ChannelRoutes: TypeAlias = tuple[dict[str, Route], Route, Route]


def groups_of(spec: ChannelSpec[object]) -> tuple[tuple[Target, ...], ...]:
    channel = spec.channel
    if not spec.batched:
        return tuple(((channel, payload),) for payload in dict.fromkeys(spec.payloads))
    seen: set[Target] = set()
    groups: list[tuple[Target, ...]] = []
    for payload in spec.payloads:
        group = tuple(t for t in dict.fromkeys((channel, e) for e in payload) if t not in seen)
        seen.update(group)
        if group:
            groups.append(group)
    return tuple(groups)


def payload_of(targets: tuple[Target, ...]) -> tuple[str, ...]:
    first = targets[0][1]
    if isinstance(first, tuple):  # positional: the group is the one payload
        return first
    return tuple(cast("str", element) for _, element in targets)


def following_id(req_id: int) -> int:
    # Ids wrap within int32 and never hit 0, which `Generation.server` uses for LIVE.
    return req_id % _INT32_MAX + 1


def check_spec(spec: ChannelSpec[object]) -> None:
    if not isinstance(spec, ChannelSpec):
        raise UsageError(f"subscribe takes a ChannelSpec (see gatetrio.channels), got {spec!r}")
    if not spec.channel or not spec.payloads or not all(spec.payloads):
        raise UsageError(f"a ChannelSpec needs a channel and non-empty payloads, got {spec!r}")
    if not all(isinstance(e, str) for payload in spec.payloads for e in payload):
        raise UsageError(f"payload elements are always strings on the wire, got {spec.payloads!r}")
    if spec.learns_user_id:
        raise UsageError(
            f"{spec.channel} was built without a user id: subscribe with Client.subscribe, which "
            "puts in the one it learns, or pass user_id=... to the builder"
        )


def plan_subscribe(subs: Iterable[Sub], server: Mapping[Target, int]) -> list[Planned]:
    """Subscribe frames for the targets of `subs` not in `server` yet, each target once."""
    plan: list[Planned] = []
    planned: set[Target] = set()
    for sub in subs:
        for group in sub.groups:
            todo = tuple(t for t in group if t not in server and t not in planned)
            if todo:
                planned.update(todo)
                plan.append((sub.spec.channel, sub.spec.private, payload_of(todo), todo))
    return plan


def encode_plan(
    first_id: int,
    credentials: Credentials | None,
    plan: list[Planned],
    event: str,
    wall_time: float,
) -> list[str]:
    """The frames of `plan`, numbered from `first_id`. Encoded before any state is committed,
    so a UsageError (a bad wall_time) leaves no trace.
    """
    request = Subscribe if event == "subscribe" else Unsubscribe
    req_id = first_id
    frames = []
    for channel, private, payload, _ in plan:
        frames.append(
            encode_request(
                request(channel=channel, payload=payload, private=private),
                wall_time=wall_time,
                req_id=req_id,
                credentials=credentials,
            )
        )
        req_id = following_id(req_id)
    return frames


def add_needs(needs: dict[Target, set[int]], sub: Sub) -> None:
    """Count `sub` among those needing each of its targets."""
    for target in sub.targets:
        needs.setdefault(target, set()).add(sub.sub_id)


def drop_needs(needs: dict[Target, set[int]], sub: Sub) -> None:
    """`sub` needs its targets no more; a target nobody needs is forgotten."""
    for target in sub.targets:
        subs = needs[target]
        subs.discard(sub.sub_id)
        if not subs:
            del needs[target]


def unready(subs: Iterable[Sub]) -> None:
    """A connection ended or began: nothing is ready, silent or has had data on it yet."""
    for sub in subs:
        sub.ready = sub.silent = sub.had_data = False


def plan_unsubscribe(
    sub: Sub, needs: Mapping[Target, set[int]], server: Mapping[Target, int]
) -> list[Planned]:
    """The unsubscribe frames for `sub`: its targets nobody else needs that the connection
    (`server`) has subscribed or pending, one frame per group of its spec."""
    dropped = {t for t in sub.targets if needs.get(t) == {sub.sub_id}}
    plan: list[Planned] = []
    for group in sub.groups:
        todo = tuple(t for t in group if t in dropped and t in server)
        if todo:
            plan.append((sub.spec.channel, sub.spec.private, payload_of(todo), todo))
    return plan


def commit_plan(
    gen: Generation, plan: list[Planned], event: str, req_id: int, deadline: float | None
) -> int:
    """Record the frames of `plan` (numbered from `req_id`, as `encode_plan` numbered them)
    as pending on `gen`; return the next request id."""
    for channel, _, payload, targets in plan:
        gen.requests[req_id] = Request(event, channel, payload, targets, deadline)
        for target in targets:
            if event == "subscribe":
                gen.server[target] = req_id
            else:
                del gen.server[target]
        req_id = following_id(req_id)
    return req_id


def find_request(
    requests: dict[int, Request],
    req_id: int | None,
    channel: str,
    event: str,
    payload: tuple[str, ...] | None,
) -> int | None:
    """The pending request a subscribe reply answers, or None.

    By the echoed `id` when there is one. Servers that echo no id (older and delivery
    endpoints, spec 13.20) answer in order, so the fallback is the oldest pending request
    with the same channel, event and (when echoed) payload.
    """
    if req_id is not None:
        request = requests.get(req_id)
        if request is None or (channel and request.channel != channel):
            return None
        return req_id
    for candidate_id, request in requests.items():
        if (
            request.channel == channel
            and (not event or request.event == event)
            and (payload is None or request.payload == payload)
        ):
            return candidate_id
    return None


def build_routes(subs: Iterable[Sub]) -> dict[str, ChannelRoutes]:
    """Precomputed so that routing an item is one or two dict lookups."""
    by_channel: dict[str, list[Sub]] = {}
    for sub in subs:  # sub_id order: dicts keep insertion order
        if not sub.failed:
            by_channel.setdefault(sub.spec.channel, []).append(sub)
    routes: dict[str, ChannelRoutes] = {}
    for channel, channel_subs in by_channel.items():
        wild = [s for s in channel_subs if WILDCARD in s.spec.keys]
        named: dict[str, list[Sub]] = {}
        for sub in channel_subs:
            for key in sub.spec.keys:
                if key != WILDCARD:
                    named.setdefault(key, []).append(sub)
        by_key = {
            key: tuple(sorted({*exact, *wild}, key=attrgetter("sub_id")))
            for key, exact in named.items()
        }
        routes[channel] = (by_key, tuple(wild), tuple(channel_subs))
    return routes


class FrameDedupe:
    """While two connections overlap both carry the same pushes: let each text through once.

    Keyed by the frame's hash (texts are identical byte for byte: one backend feeds both
    sockets), remembering which socket carried it first: the same text twice on one socket is
    two events and both pass. Bounded: the oldest keys go first, so a frame that only one
    socket ever carried costs a slot until it ages out, never memory without bound.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}

    def second_copy(self, text: str | bytes, generation: int) -> bool:
        seen = self._seen
        key = hash(text)
        first = seen.get(key)
        if first is not None and first != generation:
            del seen[key]
            return True
        seen[key] = generation
        if len(seen) > HANDOVER_DEDUPE:
            del seen[next(iter(seen))]
        return False

    def clear(self) -> None:
        self._seen.clear()
