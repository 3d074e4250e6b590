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

from ._errors import NatsError, NatsUnavailable, StreamMismatch
from ._pull import PREV_HEADER, STATUS_HEADER, PullFeed, send_acks
from ._wire import StreamReport, StreamState, plan_stream

if TYPE_CHECKING:
    import concurrent.futures
    import ssl
    from collections.abc import AsyncIterator, Callable, Coroutine, Sequence

    from nats.aio.client import Client as NatsClient
    from nats.js.client import JetStreamContext

    from ._pull import Attached, FeedSpec
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


def require_nats() -> None:
    """Raise `UsageError` saying how to install nats-py when it is missing (the `nats` extra).

    Every `open_*` of `gatetrio.nats` (and the `publish`/`consume` commands) checks first, so
    a missing package is said at once, in the caller's thread, not as a `ModuleNotFoundError`
    from the asyncio thread mid-connect.
    """
    try:
        import nats.aio.client  # noqa: PLC0415, F401 - nats-py is optional
    except ImportError:
        from gatetrio._install import install_hint  # noqa: PLC0415 - cold path

        raise UsageError(f"gatetrio.nats needs nats-py: {install_hint('nats')}") from None


def nats_options(nats: NatsOptions | str | Sequence[str]) -> NatsOptions:
    """A `NatsOptions` from options, one URL, a comma-separated list or a list of URLs.

    Raises `UsageError` if nats-py is missing (`require_nats`) or the servers are not URLs.
    """
    require_nats()
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

    def submit(
        self,
        factory: Callable[[], Coroutine[Any, Any, T]],
        on_done: Callable[[concurrent.futures.Future[T]], object],
    ) -> None:
        """Start `factory()` on the asyncio loop without waiting; `on_done(future)` runs on
        trio's thread when it ends (result, error or cancellation), while trio runs."""
        token = trio.lowlevel.current_trio_token()

        def done(future: concurrent.futures.Future[T]) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(on_done, future)

        asyncio.run_coroutine_threadsafe(factory(), self.loop).add_done_callback(done)

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

    async def ensure_stream(
        self, settings: StreamSettings, *, takes: str, update: bool
    ) -> StreamReport:
        """Create the stream if missing; if it exists, report how it differs from `settings`
        and change it only when `update` is set.

        `takes` is a subject pattern the stream must take (what the publisher will publish):
        a stream that does not take it is a `StreamMismatch` unless `update` adds it.
        """
        from nats.js.errors import NotFoundError  # noqa: PLC0415

        js = self._js()
        try:
            try:
                info = await js.stream_info(settings.name)
            except NotFoundError:
                await js.add_stream(_stream_config(settings, list(settings.subjects)))
                return StreamReport(created=True, duplicate_window=settings.duplicate_window)
            have = _stream_state(info.config)
            plan = plan_stream(settings, have, takes=takes, update=update)
            if plan.updated:
                subjects = list(dict.fromkeys([*have.subjects, *settings.subjects]))
                await js.update_stream(_stream_config(settings, subjects))
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError | StreamMismatch):
                raise
            raise _map_error(exc, f"setting up stream {settings.name}") from None
        return plan

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
        status = headers.get(STATUS_HEADER) if headers else None
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
                headers = {MSG_ID_HEADER: env.msg_id}
                if env.prev is not None:
                    headers[PREV_HEADER] = str(env.prev)
                try:
                    await nc.publish(
                        env.subject, env.payload, reply=prefix + token, headers=headers
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
            if future.done() and not future.cancelled():
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

    async def last_message(self, stream: str, subject: str) -> tuple[int, int] | None:
        """(stream sequence, stored at unix ns) of the last message on `subject`, or None."""
        from nats.js.errors import NotFoundError  # noqa: PLC0415

        try:
            msg = await self._js().get_last_msg(stream, subject)
        except NotFoundError:
            return None
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, f"reading the last message on {subject}") from None
        stored = msg.time.timestamp() if msg.time is not None else 0.0
        return msg.seq or 0, round(stored * 1e9)

    async def pull(self, spec: FeedSpec, *, resume_from: int | None) -> tuple[PullFeed, Attached]:
        """A pull consumer per `spec` (created, or a durable attached), read continuously."""
        if self.nc is None or self.js is None:
            raise NatsUnavailable("not connected to NATS")
        from nats.js.errors import NotFoundError  # noqa: PLC0415

        feed = PullFeed(self.nc, spec.stream, spec.batch)
        try:
            attached = await feed.start(self.js, spec, resume_from)
        except BaseException as exc:
            await feed.close()
            if isinstance(exc, asyncio.CancelledError | NatsError):
                raise
            if isinstance(exc, NotFoundError):  # no such stream (yet): a publisher makes it
                raise NatsUnavailable(f"stream {spec.stream} not found") from None
            raise _map_error(exc, f"creating a consumer on {spec.stream}") from None
        return feed, attached

    async def fetch(self, feed: PullFeed, wait: float, acks: list[str]) -> None:
        """Acknowledge `acks`, then wait up to `wait` seconds for messages on `feed` (the
        caller drains them: `PullFeed.drain`, on its own thread)."""
        try:
            if acks:
                await feed.ack(acks)
            await feed.wait_ready(wait)
        except NatsError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped once, here
            raise _map_error(exc, "fetching from NATS") from None

    async def ack(self, acks: list[str], *, nak: bool = False) -> None:
        """Acknowledge (or, `nak`, give back for redelivery at once) and flush."""
        if self.nc is None:
            raise NatsUnavailable("not connected to NATS")
        try:
            await send_acks(self.nc, acks, nak=nak)
            await self.nc.flush(timeout=round(CLOSE_TIMEOUT))
        except Exception as exc:  # noqa: BLE001
            raise _map_error(exc, "acknowledging on NATS") from None

    async def unsubscribe(self, feed: PullFeed) -> None:
        await feed.close()


def _stream_config(settings: StreamSettings, subjects: list[str]) -> Any:
    from nats.js import api  # noqa: PLC0415

    return api.StreamConfig(
        name=settings.name,
        subjects=subjects,
        retention=api.RetentionPolicy.LIMITS,
        max_age=settings.max_age,
        max_bytes=settings.max_bytes,
        duplicate_window=settings.duplicate_window,
        num_replicas=settings.replicas,
        storage=api.StorageType.FILE if settings.storage == "file" else api.StorageType.MEMORY,
        discard=api.DiscardPolicy.OLD,
    )


def _stream_state(config: Any) -> StreamState:
    """What nats-py's StreamConfig says, as the pure `StreamState`."""
    storage = getattr(config.storage, "value", config.storage)
    return StreamState(
        subjects=tuple(config.subjects or ()),
        max_age=float(config.max_age or 0.0),
        max_bytes=int(config.max_bytes if config.max_bytes is not None else -1),
        duplicate_window=float(config.duplicate_window or 0.0),
        replicas=int(config.num_replicas or 1),
        storage=str(storage or "file"),
    )
