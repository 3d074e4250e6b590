"""Reading JetStream: pull consumers (ephemeral or durable), their messages and their acks.

Everything here runs on the asyncio thread (`_bridge.AsyncioThread`); nats-py's exceptions
are mapped by the caller (`NatsLink`), except the checks of a durable consumer's settings,
which raise `NatsError` with what differs.

A durable consumer is the server's cursor of one reader (or, `shared`, of a group of workers
that split its messages). Its acks are explicit: a message is acknowledged once the reader has
had it (see `_consumer`), so the cursor never passes what a reader has not seen. Settings are
fixed when it is created; reattaching checks the subjects and the mode, and reports what
differs instead of silently reading something else.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import typing
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._errors import NatsError, NatsUnavailable

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient
    from nats.js.api import ConsumerConfig, ConsumerInfo
    from nats.js.client import JetStreamContext

PREV_HEADER: Final = "Gatetrio-Prev"
SHARED_KEY: Final = "gatetrio.shared"
ACK: Final = b"+ACK"
NAK: Final = b"-NAK"
STATUS_HEADER: Final = "Status"
_DESCRIPTION: Final = "Description"
_REQUEST_ENDED: Final = frozenset({"404", "408"})  # no messages (now) / the request expired
PULL_EXPIRES: Final = 1.0  # seconds a pull request lingers on the server
PULL_GRACE: Final = 2.0  # seconds past that with no word from the server: the request is lost
_V1_TOKENS: Final = 9  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>
_V2_TOKENS: Final = 11  # $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>...


@typing.final
@attrs.frozen
class BusMessage:
    """One message read off the bus, as `BusSubscription.receive_message` returns it."""

    subject: str
    stream_seq: int
    data: bytes
    prev: int | None = None
    """The key of the event before it on its subject, from the collector (see `_reorder`)."""
    reply: str = attrs.field(default="", repr=False)
    """Where its ack goes (durable consumers)."""
    delivered: int = 1
    """Times JetStream delivered it; more than 1: a redelivery."""
    time_ns: int = 0
    """When the stream stored it (unix ns)."""
    late: bool = False
    """It arrived after a later event of its subject had been delivered (see `_reorder`)."""

    @property
    def redelivered(self) -> bool:
        return self.delivered > 1


def reply_meta(reply: str | None) -> tuple[int, int, int] | None:
    """(stream sequence, times delivered, stored at unix ns) from a JetStream ack subject."""
    if not reply:
        return None
    tokens = reply.split(".")
    if len(tokens) == _V1_TOKENS:
        offset = 0
    elif len(tokens) >= _V2_TOKENS:
        offset = 2
    else:
        return None
    if tokens[0] != "$JS" or tokens[1] != "ACK":
        return None
    try:
        return (
            int(tokens[5 + offset]),
            int(tokens[4 + offset]),
            int(tokens[7 + offset]),
        )
    except ValueError:
        return None


def parse_prev(text: str | None) -> int | None:
    """The `Gatetrio-Prev` header's key; None when absent or not a decimal integer."""
    if not text or len(text) > 20 or not text.isdecimal() or not text.isascii():
        return None
    return int(text)


@typing.final
@attrs.frozen(kw_only=True)
class Start:
    """Where a new consumer starts: "new", "all", a stream sequence, a unix time, or
    ("before_last") `lookback` seconds before the last message on `subject` ("all" if none)."""

    policy: typing.Literal["new", "all", "seq", "time", "before_last"] = "new"
    seq: int = 0
    time: float = 0.0
    subject: str = ""
    lookback: float = 0.0


async def _resolve(js: JetStreamContext, stream: str, start: Start) -> Start:
    """A "before_last" start as the time it means now."""
    from nats.js.errors import NotFoundError  # noqa: PLC0415

    if start.policy != "before_last":
        return start
    try:
        last = await js.get_last_msg(stream, start.subject)
    except NotFoundError:
        return Start(policy="all")
    if last.time is None:
        return Start(policy="all")
    return Start(policy="time", time=max(last.time.timestamp() - start.lookback, 0.0))


@typing.final
@attrs.frozen(kw_only=True)
class FeedSpec:
    """What a pull consumer reads and how (built by `_consumer`, checked there)."""

    stream: str
    subjects: tuple[str, ...]
    start: Start = Start()
    durable: str | None = None
    shared: bool = False
    ack_wait: float = 10.0
    max_ack_pending: int = 20_000
    batch: int = 512


@typing.final
@attrs.frozen
class Attached:
    """What the server said about the consumer when the feed attached to it."""

    name: str
    created: bool
    ack_pending: int
    """Messages delivered to an earlier reader and not acknowledged (they come again)."""


def consumer_config(spec: FeedSpec, start: Start) -> ConsumerConfig:
    from nats.js import api  # noqa: PLC0415 - nats-py is optional

    policy = {
        "before_last": api.DeliverPolicy.ALL,  # resolved by `attach` before it gets here
        "new": api.DeliverPolicy.NEW,
        "all": api.DeliverPolicy.ALL,
        "seq": api.DeliverPolicy.BY_START_SEQUENCE,
        "time": api.DeliverPolicy.BY_START_TIME,
    }[start.policy]
    import datetime as dt  # noqa: PLC0415

    options: dict[str, Any] = {
        "deliver_policy": policy,
        "opt_start_seq": start.seq if start.policy == "seq" else None,
        "opt_start_time": (
            dt.datetime.fromtimestamp(start.time, tz=dt.UTC) if start.policy == "time" else None
        ),
        "filter_subjects": list(spec.subjects) if len(spec.subjects) > 1 else None,
        "filter_subject": spec.subjects[0] if len(spec.subjects) == 1 else None,
    }
    if spec.durable is None:
        return api.ConsumerConfig(
            **options,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,  # the server forgets it if this process goes away
            mem_storage=True,
            num_replicas=1,
        )
    return api.ConsumerConfig(
        **options,
        durable_name=spec.durable,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait,
        max_ack_pending=spec.max_ack_pending,
        metadata={SHARED_KEY: "1" if spec.shared else "0"},
    )


def durable_differences(info: ConsumerInfo, spec: FeedSpec) -> list[str]:
    """How an existing durable consumer differs from what `spec` asks (empty: it matches)."""
    from nats.js import api  # noqa: PLC0415

    config = info.config
    one = [config.filter_subject] if config.filter_subject else []
    have = sorted(config.filter_subjects or one)
    differences = []
    if have != sorted(spec.subjects):
        differences.append(f"it reads {', '.join(have) or 'every subject'}")
    policy = getattr(config.ack_policy, "value", config.ack_policy)
    if policy != api.AckPolicy.EXPLICIT.value:
        differences.append(f"its ack policy is {policy}, not explicit")
    if config.deliver_subject:
        differences.append("it is a push consumer")
    shared = (config.metadata or {}).get(SHARED_KEY)
    if shared is not None and shared != ("1" if spec.shared else "0"):
        mode = "shared by workers" if shared == "1" else "one reader's"
        differences.append(f"it is {mode} (shared={shared == '1'})")
    return differences


async def attach(
    js: JetStreamContext, spec: FeedSpec, *, resume_from: int | None
) -> tuple[str, Attached]:
    """Create or attach to the consumer of `spec`; its name and what the server said.

    `resume_from` (a durable of one reader, after its feed failed): recreate the consumer at
    that stream sequence, so what the lost feed had in flight comes again at once instead of
    after `ack_wait`, in order (the reader drops what it had already).
    """
    from nats.js.errors import NotFoundError  # noqa: PLC0415

    if resume_from is None:
        start = await _resolve(js, spec.stream, spec.start)
    else:
        start = Start(policy="seq", seq=resume_from)
    if spec.durable is None:
        created = await js.add_consumer(spec.stream, config=consumer_config(spec, start))
        return created.name, Attached(created.name, created=True, ack_pending=0)
    name = spec.durable
    info: ConsumerInfo | None
    try:
        info = await js.consumer_info(spec.stream, name)
    except NotFoundError:
        info = None
    if info is not None:
        differences = durable_differences(info, spec)
        if differences:
            raise NatsError(
                f"durable consumer {name} on {spec.stream} exists with other settings: "
                f"{'; '.join(differences)}; use another name, or delete it first "
                f"(nats consumer rm {spec.stream} {name})"
            )
        if spec.shared or resume_from is None:
            if not spec.shared:
                await _wait_alone(js, spec.stream, name, info)
            return name, Attached(name, created=False, ack_pending=info.num_ack_pending or 0)
        await js.delete_consumer(spec.stream, name)  # ours alone: recreated where we were
    await js.add_consumer(spec.stream, config=consumer_config(spec, start))
    return name, Attached(name, created=True, ack_pending=0)


async def _wait_alone(js: JetStreamContext, stream: str, name: str, info: ConsumerInfo) -> None:
    """A one-reader durable must have no other reader: a pull request still waiting on it is
    another process's (or a killed one's, which expires within PULL_EXPIRES)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PULL_EXPIRES + 0.5
    while (info.num_waiting or 0) > 0:
        if loop.time() > deadline:
            raise NatsError(
                f"durable consumer {name} on {stream} is being read by another process; "
                "one reader per durable, or open it with shared=True (consume --shared) to "
                "split its events among workers"
            )
        await asyncio.sleep(0.1)
        info = await js.consumer_info(stream, name)


async def send_acks(nc: NatsClient, replies: list[str], *, nak: bool = False) -> None:
    """Acknowledge delivered messages (core publishes to their reply subjects); `nak` gives
    them back instead, for redelivery at once."""
    payload = NAK if nak else ACK
    for reply in replies:
        await nc.publish(reply, payload)


class PullFeed:
    """A JetStream pull consumer read continuously, through nats-py's public core API.

    One pull request (`batch` messages, expiring after PULL_EXPIRES) is outstanding at a time;
    the server delivers messages to our inbox as soon as they are stored (no waiting for the
    batch to fill), and the next request goes out once the last one is done and fewer than
    `batch` messages wait here, so at most 2 x `batch` are held. This replaces nats-py's
    `PullSubscription.fetch`, which spends two asyncio tasks and a timer on every message.
    A status other than "no messages"/"expired"/heartbeat (the consumer was deleted, a leader
    changed, no responders), or silence past the request's expiry, is an error: the owner
    drops the feed and attaches again.
    """

    def __init__(self, nc: NatsClient, stream: str, batch: int) -> None:
        self._nc = nc
        self._stream = stream
        self._batch = batch
        self._sub: Any = None
        self._next_subject = ""
        self._inbox = ""
        # Filled on the asyncio thread, emptied on trio's (`drain`): deque appends and pops
        # are atomic, and a trio cancellation between the two leaves the messages here.
        self._buffer: collections.deque[BusMessage] = collections.deque()
        self._wakeup = asyncio.Event()
        self._open = False  # a request is outstanding
        self._owed = 0  # messages the outstanding request may still bring
        self._last_word = 0.0  # loop time of the last message or status for this feed
        self._error: str | None = None

    async def start(
        self, js: JetStreamContext, spec: FeedSpec, resume_from: int | None
    ) -> Attached:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)
        name, attached = await attach(js, spec, resume_from=resume_from)
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{name}"
        await self._request()  # pulling starts now, whenever the reader first takes
        return attached

    async def _on_msg(self, msg: Any) -> None:
        self._last_word = asyncio.get_running_loop().time()
        headers = msg.headers
        status = headers.get(STATUS_HEADER) if headers else None
        if status is None:
            meta = reply_meta(msg.reply)
            if meta is None:  # not a JetStream delivery: nothing to order or acknowledge by
                meta = (0, 1, 0)
            self._buffer.append(
                BusMessage(
                    msg.subject,
                    meta[0],
                    msg.data,
                    parse_prev(headers.get(PREV_HEADER)) if headers else None,
                    msg.reply or "",
                    meta[1],
                    meta[2],
                )
            )
            self._owed -= 1
            if self._owed <= 0:
                self._open = False
        elif status == "100":  # idle heartbeat
            return
        elif status in _REQUEST_ENDED or (
            status == "409" and "Batch Completed" in (headers.get(_DESCRIPTION) or "")
        ):
            self._open = False
        else:
            self._error = f"JetStream status {status} {headers.get(_DESCRIPTION) or ''}".strip()
        if not self._open and self._error is None and len(self._buffer) < self._batch:
            # Renew at once, here rather than when the reader next takes: a request is
            # outstanding all the time the reader keeps up (what arrives meanwhile waits in
            # the buffer, at most 2 x batch), and the server sees this reader as present.
            with contextlib.suppress(Exception):  # a failed publish: `take` tries again
                await self._request()
        self._wakeup.set()

    async def _request(self) -> None:
        request = {"batch": self._batch, "expires": int(PULL_EXPIRES * 1e9)}
        await self._nc.publish(self._next_subject, json.dumps(request).encode(), reply=self._inbox)
        self._open, self._owed = True, self._batch
        self._last_word = asyncio.get_running_loop().time()

    def _check(self, now: float) -> None:
        if self._error is not None:
            raise NatsUnavailable(f"pull consumer on {self._stream}: {self._error}")
        if self._open and now - self._last_word > PULL_EXPIRES + PULL_GRACE:
            raise NatsUnavailable(f"pull consumer on {self._stream}: no response")

    async def wait_ready(self, wait: float) -> None:
        """Return once messages wait in the buffer (or `wait` seconds passed); `drain` them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            self._check(loop.time())
            if not self._open and len(self._buffer) < self._batch:
                await self._request()
            if self._buffer:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), min(remaining, PULL_EXPIRES))

    def drain(self) -> list[BusMessage]:
        """Take what waits in the buffer (any thread: trio's, after `wait_ready`)."""
        buffer = self._buffer
        return [buffer.popleft() for _ in range(len(buffer))]

    async def ack(self, replies: list[str]) -> None:
        await send_acks(self._nc, replies)

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sub.unsubscribe(), timeout=1.0)
