"""nats-py (asyncio) under trio: a dedicated thread running its own asyncio loop.

Why a thread and not trio-asyncio, by measurement (benchmarks/README.md, "NATS"): the pipelined
publish runs 1.6x faster through the thread than through trio-asyncio's loop (nats-py's many
small callbacks stay on the stock asyncio loop it is tested on), the thread adds one hop per
*batch* (a publish batch, a pull hand-over), not per message, and it needs no loop policy or
`aio_as_trio` wrapping in user code. trio awaits a coroutine run there through
`AsyncioThread.run`: the result comes back with `TrioToken.run_sync_soon`, and a trio
cancellation cancels the asyncio task.

`NatsLink` is everything that touches nats-py; its coroutines run only on the asyncio thread,
and every nats-py or asyncio exception is mapped here, once, to `NatsUnavailable`/`NatsError`.
Credentials live in `NatsOptions` fields that are kept out of its repr, and are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import trio

from gatetrio._core._errors import UsageError
from gatetrio._core._redact import redact_url

from ._errors import NatsError, NatsUnavailable

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Callable, Coroutine, Sequence

    from nats.aio.client import Client as NatsClient
    from nats.js.client import JetStreamContext

    from ._wire import Envelope, StreamSettings

T = TypeVar("T")
log: Final = logging.getLogger("gatetrio.nats")

MSG_ID_HEADER: Final = "Nats-Msg-Id"
CLOSE_TIMEOUT: Final = 2.0  # seconds for nats-py's close before the socket is aborted


def _abort_transport(nc: NatsClient) -> None:
    """Abort the asyncio transports under `nc` (TLS and the TCP beneath it), if still open.

    nats-py keeps them in private attributes (`_transport`, its `_io_writer` and, under TLS,
    `_bare_io_writer`); read defensively, so another nats-py layout only skips the abort.
    """
    transport = getattr(nc, "_transport", None)
    for name in ("_io_writer", "_bare_io_writer"):
        writer = getattr(transport, name, None)
        raw = getattr(writer, "transport", None)
        if isinstance(raw, asyncio.BaseTransport) and hasattr(raw, "abort"):
            raw.abort()


def _check_servers(servers: object) -> tuple[str, ...]:
    if isinstance(servers, str):
        servers = tuple(s.strip() for s in servers.split(",") if s.strip())
    if (
        not isinstance(servers, tuple | list)
        or not servers
        or not all(isinstance(s, str) and "://" in s for s in servers)
    ):
        raise UsageError(
            f"NATS servers are URLs like 'nats://127.0.0.1:4222' (a list, or comma-separated), "
            f"got {_servers_repr(servers)}"
        )
    return tuple(servers)


def _servers_repr(servers: object) -> str:
    """The servers without the password or token a URL may carry (`nats://user:pw@host`)."""
    if isinstance(servers, str):
        return repr(redact_url(servers))
    if isinstance(servers, tuple | list):
        return repr(tuple(redact_url(s) if isinstance(s, str) else s for s in servers))
    return repr(servers)


@attrs.frozen(kw_only=True)
class NatsOptions:
    """How to reach NATS. Secrets (and a password or token in a server URL) are passed to
    nats-py as given and kept out of `repr`."""

    servers: tuple[str, ...] = attrs.field(converter=_check_servers, repr=_servers_repr)
    name: str = "gatetrio"
    user: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    user_credentials: str | None = attrs.field(default=None, repr=False)  # a .creds file path
    nkeys_seed: str | None = attrs.field(default=None, repr=False)  # a seed file path
    tls: ssl.SSLContext | None = None
    tls_hostname: str | None = None
    connect_timeout: float = 2.0
    reconnect_time_wait: float = 0.5

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "servers": list(self.servers),
            "name": self.name,
            "connect_timeout": self.connect_timeout,
            "reconnect_time_wait": self.reconnect_time_wait,
            "max_reconnect_attempts": -1,  # once connected, reconnect forever
            "allow_reconnect": True,
        }
        for key in ("user", "password", "token", "user_credentials", "nkeys_seed", "tls"):
            value = getattr(self, key)
            if value is not None:
                kwargs[key] = value
        if self.tls_hostname is not None:
            kwargs["tls_hostname"] = self.tls_hostname
        return kwargs


def nats_options(nats: NatsOptions | str | Sequence[str]) -> NatsOptions:
    """A `NatsOptions` from options, one URL, a comma-separated list or a list of URLs."""
    if isinstance(nats, NatsOptions):
        return nats
    return NatsOptions(servers=nats)  # the converter checks it


# ---------------------------------------------------------------------------------- thread


class AsyncioThread:
    """A daemon thread running an asyncio loop, for the lifetime of `open_asyncio_thread`."""

    def __init__(self) -> None:
        # The stock loop from a fresh policy, whatever policy is installed: trio-asyncio, once
        # imported, makes `asyncio.new_event_loop()` raise inside trio.
        self.loop: Final = asyncio.DefaultEventLoopPolicy().new_event_loop()
        self._thread = threading.Thread(target=self._main, name="gatetrio-nats", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._abort_transports()
            self.loop.close()

    def _abort_transports(self) -> None:
        """Abort every socket transport still open on this loop, then let them finish.

        The loop is ours alone, so whatever is still open here is a leftover of nats-py: a
        transport of a reconnect attempt it replaced without closing (a node that accepted
        the TCP connection and died during the handshake), or one whose close waits forever
        for a dead peer to take its write buffer. Left alone they would be garbage-collected
        after the loop is closed, as "unclosed transport" ResourceWarnings. The selector loop
        tracks its transports (weakly) in the private `_transports`; read defensively.
        """
        transports = getattr(self.loop, "_transports", None)
        if not transports:
            return
        for transport in list(transports.values()):
            if isinstance(transport, asyncio.BaseTransport) and hasattr(transport, "abort"):
                transport.abort()
        self.loop.run_until_complete(asyncio.sleep(0))  # connection_lost callbacks run
        self.loop.run_until_complete(asyncio.sleep(0))

    def start(self) -> None:
        self._thread.start()

    async def run(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `factory()` on the asyncio loop and return its result (or raise its error)."""
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()

        def wake(_: object) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(done.set)

        future = asyncio.run_coroutine_threadsafe(factory(), self.loop)
        future.add_done_callback(wake)
        try:
            await done.wait()
        except BaseException:
            future.cancel()  # a trio cancellation cancels the asyncio task
            raise
        return future.result()

    async def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        await trio.to_thread.run_sync(self._thread.join)


@contextlib.asynccontextmanager
async def open_asyncio_thread() -> AsyncIterator[AsyncioThread]:
    thread = AsyncioThread()
    thread.start()
    try:
        yield thread
    finally:
        with trio.CancelScope(shield=True):
            await thread.stop()


# ------------------------------------------------------------------------------------ link


def _map_error(exc: BaseException, what: str) -> NatsError:
    """The one place nats-py's and asyncio's exceptions become gatetrio errors."""
    import nats.errors  # noqa: PLC0415 - nats-py is optional; only loaded with gatetrio.nats
    import nats.js.errors  # noqa: PLC0415

    if isinstance(exc, nats.js.errors.APIError) and not isinstance(
        exc, nats.js.errors.ServiceUnavailableError
    ):
        return NatsError(f"{what}: JetStream said {exc.description or exc} (code {exc.code})")
    if isinstance(
        exc,
        nats.errors.Error | nats.js.errors.Error | TimeoutError | asyncio.TimeoutError | OSError,
    ):
        return NatsUnavailable(f"{what}: {type(exc).__name__} {exc}".strip())
    return NatsError(f"{what}: {type(exc).__name__}: {exc}")


@attrs.frozen
class PublishOutcome:
    ok: bool
    duplicate: bool = False
    stream_seq: int = 0
    error: str = ""


@attrs.frozen
class BusMessage:
    subject: str
    stream_seq: int
    data: bytes


class NatsLink:
    """One nats-py connection; every coroutine here runs on the asyncio thread."""

    def __init__(
        self, options: NatsOptions, *, on_state: Callable[[str, str], None] | None = None
    ) -> None:
        self.options = options
        self._on_state = on_state
        self.nc: NatsClient | None = None
        self.js: JetStreamContext | None = None
        self._send_lock: asyncio.Lock | None = None  # created on the asyncio thread
        self._acks: dict[str, asyncio.Future[PublishOutcome]] = {}  # by reply token
        self._acks_prefix: str | None = None
        self._ack_tokens = itertools.count()

    def _state(self, state: str, detail: str) -> None:
        """Report "connected", "disconnected" or "error" (a failed attempt) to the owner."""
        if self._on_state is not None:
            self._on_state(state, detail)

    async def connect(self) -> None:
        from nats.aio.client import Client  # noqa: PLC0415

        async def disconnected() -> None:
            self._state("disconnected", "disconnected")

        async def reconnected() -> None:
            url = self.nc.connected_url if self.nc is not None else None
            where = f"{url.hostname}:{url.port}" if url is not None else "?"
            self._state("connected", f"reconnected to {where}")

        async def error(exc: Exception) -> None:
            # nats-py retries by itself (also the first connect); each failure is reported.
            # Only the type: the text may hold a URL with a password in it.
            self._state("error", type(exc).__name__)

        # The client is ours before it connects: if connecting fails or is cancelled, `close`
        # still finds it and closes whatever transport it had opened.
        self.nc = nc = Client()
        try:
            await nc.connect(
                **self.options.connect_kwargs(),
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, "connecting to NATS") from None
        self.js = nc.jetstream()
        self._state("connected", "connected")

    def _js(self) -> JetStreamContext:
        if self.js is None:
            raise NatsUnavailable("not connected to NATS")
        return self.js

    async def close(self) -> None:
        """Close the connection, always: a close that fails or times out aborts the socket.

        nats-py's `close` flushes what is pending first; to a node that just died that can
        hang (or the transport's own close waits for its write buffer to drain), leaving the
        socket open until the loop is gone, an "unclosed transport" ResourceWarning. So the
        transport is aborted after every close attempt (a no-op once it is closed).
        """
        nc, self.nc, self.js = self.nc, None, None
        if nc is None:
            return
        self._on_state = None  # closing is not a disconnect to report
        self._acks_prefix = None
        for future in self._acks.values():
            future.cancel()
        self._acks.clear()
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), timeout=CLOSE_TIMEOUT)
        finally:
            _abort_transport(nc)
            await asyncio.sleep(0)  # let the aborted transports run connection_lost

    async def ensure_stream(self, settings: StreamSettings) -> None:
        """Create the stream if missing, update it if its settings differ; idempotent."""
        from nats.js import api  # noqa: PLC0415
        from nats.js.errors import NotFoundError  # noqa: PLC0415

        js = self._js()
        config = api.StreamConfig(
            name=settings.name,
            subjects=list(settings.subjects),
            retention=api.RetentionPolicy.LIMITS,
            max_age=settings.max_age,
            max_bytes=settings.max_bytes,
            duplicate_window=settings.duplicate_window,
            num_replicas=settings.replicas,
            storage=api.StorageType.FILE if settings.storage == "file" else api.StorageType.MEMORY,
            discard=api.DiscardPolicy.OLD,
        )
        try:
            try:
                info = await js.stream_info(settings.name)
            except NotFoundError:
                await js.add_stream(config)
                return
            have = info.config
            if (
                sorted(have.subjects or []) != sorted(settings.subjects)
                or have.max_age != settings.max_age
                or have.max_bytes != settings.max_bytes
                or have.duplicate_window != settings.duplicate_window
                or have.num_replicas != settings.replicas
            ):
                await js.update_stream(config)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, f"setting up stream {settings.name}") from None

    async def _ack_prefix(self, nc: NatsClient) -> str:
        if self._acks_prefix is None:
            prefix = nc.new_inbox() + "."
            await nc.subscribe(prefix + "*", cb=self._on_ack)
            self._acks_prefix = prefix
        return self._acks_prefix

    async def _on_ack(self, msg: Any) -> None:
        future = self._acks.pop(msg.subject.rpartition(".")[2], None)
        if future is None or future.done():
            return  # late: the batch already counted it as failed (it is retried, same id)
        headers = msg.headers
        status = headers.get(_STATUS) if headers else None
        if status is not None:  # 503 no responders: no stream takes the subject (yet)
            future.set_result(PublishOutcome(ok=False, error=f"publish: no stream ({status})"))
            return
        try:
            reply = json.loads(msg.data)
            outcome = (
                PublishOutcome(
                    ok=False,
                    error=f"publish: JetStream said {reply['error'].get('description')} "
                    f"(code {reply['error'].get('err_code')})",
                )
                if "error" in reply
                else PublishOutcome(
                    ok=True, duplicate=bool(reply.get("duplicate")), stream_seq=int(reply["seq"])
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            outcome = PublishOutcome(ok=False, error=f"publish: bad ack {exc!r}")
        future.set_result(outcome)

    async def publish_batch(
        self, envelopes: Sequence[Envelope], *, ack_wait: float
    ) -> list[PublishOutcome]:
        """Publish all, in order, then collect their acks (waiting at most `ack_wait`).

        A JetStream publish is a core-NATS publish with a reply subject; the stream answers
        there with the ack. This does that itself (one inbox subscription, an integer token
        per message) rather than through nats-py's `publish_async`, which spends an
        `os.urandom` call, a semaphore and a future callback on every message (40 % of its
        cost in a profile). Several batches may be in flight at once (the pump pipelines
        them): the sending part holds a FIFO lock, so batches reach the server in the order
        they were submitted, and the ack wait of one batch overlaps the sending of the next.
        """
        if self.nc is None:
            raise NatsUnavailable("not connected to NATS")
        nc = self.nc
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        sent: list[tuple[str, asyncio.Future[PublishOutcome]] | BaseException] = []
        async with self._send_lock:
            prefix = await self._ack_prefix(nc)
            for env in envelopes:
                token = str(next(self._ack_tokens))
                future: asyncio.Future[PublishOutcome] = loop.create_future()
                self._acks[token] = future
                try:
                    await nc.publish(
                        env.subject,
                        env.payload,
                        reply=prefix + token,
                        headers={MSG_ID_HEADER: env.msg_id},
                    )
                except Exception as exc:  # noqa: BLE001 - reported per message, then retried
                    del self._acks[token]
                    sent.append(exc)
                else:
                    sent.append((token, future))
        futures = [item[1] for item in sent if not isinstance(item, BaseException)]
        if futures:
            await asyncio.wait(futures, timeout=ack_wait)
        outcomes: list[PublishOutcome] = []
        for item in sent:
            if isinstance(item, BaseException):
                outcomes.append(PublishOutcome(ok=False, error=str(_map_error(item, "publish"))))
                continue
            token, future = item
            if future.done():
                outcomes.append(future.result())
            else:
                self._acks.pop(token, None)
                future.cancel()
                outcomes.append(
                    PublishOutcome(ok=False, error=f"publish: no ack within {ack_wait}s")
                )
        return outcomes

    async def publish_plain(self, subject: str, payload: bytes) -> None:
        """A core-NATS publish (no ack), for the benchmark's bare loop."""
        if self.nc is None:
            raise NatsUnavailable("not connected to NATS")
        await self.nc.publish(subject, payload)

    async def last_seq(self, stream: str, subject: str) -> int | None:
        """The stream sequence of the last message on `subject`, or None if there is none."""
        from nats.js.errors import NotFoundError  # noqa: PLC0415

        try:
            msg = await self._js().get_last_msg(stream, subject)
        except NotFoundError:
            return None
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, f"reading the last message on {subject}") from None
        return msg.seq

    async def pull(
        self,
        stream: str,
        subjects: Sequence[str],
        *,
        start_seq: int | None,
        new_only: bool,
        batch: int,
    ) -> PullFeed:
        """An ephemeral pull consumer (no acks) on `subjects` from `start_seq` (or all/new)."""
        from nats.js import api  # noqa: PLC0415

        if start_seq is not None:
            policy, opt = api.DeliverPolicy.BY_START_SEQUENCE, start_seq
        else:
            policy, opt = (api.DeliverPolicy.NEW if new_only else api.DeliverPolicy.ALL), None
        config = api.ConsumerConfig(
            deliver_policy=policy,
            opt_start_seq=opt,
            ack_policy=api.AckPolicy.NONE,
            filter_subjects=list(subjects) if len(subjects) > 1 else None,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            inactive_threshold=30.0,  # the server forgets it if this process goes away
            mem_storage=True,
            num_replicas=1,
        )
        if self.nc is None or self.js is None:
            raise NatsUnavailable("not connected to NATS")
        feed = PullFeed(self.nc, stream, batch)
        try:
            await feed.start(self.js, config)
        except BaseException as exc:
            await feed.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, f"creating a consumer on {stream}") from None
        return feed

    async def fetch(self, feed: PullFeed, wait: float) -> list[BusMessage]:
        """What arrived for `feed` (waiting up to `wait` seconds for the first); [] if nothing."""
        return await feed.take(wait)

    async def unsubscribe(self, feed: PullFeed) -> None:
        await feed.close()


_STATUS: Final = "Status"
_DESCRIPTION: Final = "Description"
_REQUEST_ENDED: Final = frozenset({"404", "408"})  # no messages (now) / the request expired
PULL_EXPIRES: Final = 1.0  # seconds a pull request lingers on the server
PULL_GRACE: Final = 2.0  # seconds past that with no word from the server: the request is lost


class PullFeed:
    """A JetStream pull consumer read continuously, through nats-py's public core API.

    One pull request (`batch` messages, expiring after PULL_EXPIRES) is outstanding at a time;
    the server delivers messages to our inbox as soon as they are stored (no waiting for the
    batch to fill), and the next request goes out once the last one is done and fewer than
    `batch` messages wait here, so at most 2 x `batch` are held. This replaces nats-py's
    `PullSubscription.fetch`, which spends two asyncio tasks and a timer on every message.
    A status other than "no messages"/"expired"/heartbeat (the consumer was deleted, a leader
    changed, no responders), or silence past the request's expiry, is an error: the owner
    drops the feed and recreates the consumer from the next stream sequence.
    """

    def __init__(self, nc: NatsClient, stream: str, batch: int) -> None:
        self._nc = nc
        self._stream = stream
        self._batch = batch
        self._sub: Any = None
        self._next_subject = ""
        self._inbox = ""
        self._buffer: list[BusMessage] = []
        self._wakeup = asyncio.Event()
        self._open = False  # a request is outstanding
        self._owed = 0  # messages the outstanding request may still bring
        self._last_word = 0.0  # loop time of the last message or status for this feed
        self._error: str | None = None

    async def start(self, js: JetStreamContext, config: Any) -> None:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)
        info = await js.add_consumer(self._stream, config=config)
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{info.name}"

    async def _on_msg(self, msg: Any) -> None:
        self._last_word = asyncio.get_running_loop().time()
        headers = msg.headers
        status = headers.get(_STATUS) if headers else None
        if status is None:
            meta = msg.metadata
            self._buffer.append(BusMessage(msg.subject, meta.sequence.stream, msg.data))
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

    async def take(self, wait: float) -> list[BusMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            self._check(loop.time())
            try:
                if not self._open and len(self._buffer) < self._batch:
                    await self._request()
            except Exception as exc:  # noqa: BLE001 - mapped once, here
                raise _map_error(exc, "fetching from NATS") from None
            if self._buffer:
                out, self._buffer = self._buffer, []
                return out
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), min(remaining, PULL_EXPIRES))

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sub.unsubscribe(), timeout=1.0)
