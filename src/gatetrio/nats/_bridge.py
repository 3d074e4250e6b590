"""nats-py (asyncio) under trio: a dedicated thread running its own asyncio loop.

Why a thread and not trio-asyncio: the thread keeps nats-py on the stock asyncio loop it is
tested on, needs no loop policy or `aio_as_trio` wrapping in user code, and adds one hop per
*batch* (a publish batch, a fetch), not per message; benchmarks/README.md ("NATS") measures the
bridge against a bare nats-py publish loop. trio awaits a coroutine run there through
`AsyncioThread.run`: the result comes back with `TrioToken.run_sync_soon`, and a trio
cancellation cancels the asyncio task.

`NatsLink` is everything that touches nats-py; its coroutines run only on the asyncio thread,
and every nats-py or asyncio exception is mapped here, once, to `NatsUnavailable`/`NatsError`.
Credentials live in `NatsOptions` fields that are kept out of its repr, and are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import trio

from gatetrio._core._errors import UsageError

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
            f"got {servers!r}"
        )
    return tuple(servers)


@attrs.frozen(kw_only=True)
class NatsOptions:
    """How to reach NATS. Secrets are passed to nats-py as given and kept out of `repr`."""

    servers: tuple[str, ...] = attrs.field(converter=_check_servers)
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
        self.loop: Final = asyncio.new_event_loop()
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
            self.loop.close()

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

    def _state(self, state: str, detail: str) -> None:
        """Report "connected", "disconnected" or "error" (a failed attempt) to the owner."""
        if self._on_state is not None:
            self._on_state(state, detail)

    async def connect(self) -> None:
        import nats  # noqa: PLC0415

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

        try:
            self.nc = await nats.connect(
                **self.options.connect_kwargs(),
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, "connecting to NATS") from None
        self.js = self.nc.jetstream()
        self._state("connected", "connected")

    def _js(self) -> JetStreamContext:
        if self.js is None:
            raise NatsUnavailable("not connected to NATS")
        return self.js

    async def close(self) -> None:
        nc, self.nc, self.js = self.nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), timeout=2.0)

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

    async def publish_batch(
        self, envelopes: Sequence[Envelope], *, ack_wait: float
    ) -> list[PublishOutcome]:
        """Publish all, in order, without waiting between them; then collect every ack."""
        js = self._js()
        futures: list[asyncio.Future[Any] | BaseException] = []
        for env in envelopes:
            try:
                futures.append(
                    await js.publish_async(
                        env.subject,
                        env.payload,
                        wait_stall=ack_wait,
                        headers={MSG_ID_HEADER: env.msg_id},
                    )
                )
            except Exception as exc:  # noqa: BLE001 - reported per message, then retried
                futures.append(exc)
        outcomes: list[PublishOutcome] = []
        for future in futures:
            if isinstance(future, BaseException):
                outcomes.append(PublishOutcome(ok=False, error=str(_map_error(future, "publish"))))
                continue
            try:
                ack = await asyncio.wait_for(asyncio.shield(future), timeout=ack_wait)
            except Exception as exc:  # noqa: BLE001
                future.cancel()
                outcomes.append(PublishOutcome(ok=False, error=str(_map_error(exc, "publish"))))
                continue
            outcomes.append(
                PublishOutcome(ok=True, duplicate=bool(ack.duplicate), stream_seq=ack.seq)
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
        self, stream: str, subjects: Sequence[str], *, start_seq: int | None, new_only: bool
    ) -> Any:
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
        try:
            return await self._js().pull_subscribe(subjects[0], stream=stream, config=config)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, f"creating a consumer on {stream}") from None

    async def fetch(self, psub: Any, batch: int, wait: float) -> list[BusMessage]:
        """Up to `batch` messages; [] if none came within `wait` seconds."""
        import nats.errors  # noqa: PLC0415

        try:
            msgs = await psub.fetch(batch, timeout=wait)
        except nats.errors.TimeoutError:
            return []
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, "fetching from NATS") from None
        return [BusMessage(m.subject, m.metadata.sequence.stream, m.data) for m in msgs]

    async def unsubscribe(self, psub: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(psub.unsubscribe(), timeout=1.0)
