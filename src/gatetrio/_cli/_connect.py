"""Where a command connects, and how it fails when it cannot: Gate, a URL, or an in-process fake.

`--simulate` serves the fake exchange (`gatetrio.testing`) in this process on 127.0.0.1 with a
free port and connects to it over a real socket, so the whole client path (TCP, WebSocket, REST
book snapshots) runs as it would against Gate.

The client retries forever by design; a command that has never connected instead says why, in
one line, and stops (exit 1). The "no network? try --simulate" hint is given only when the
network is the likely cause: a name that does not resolve or a connect that fails.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from typing import TYPE_CHECKING, Final

import attrs
import trio

from gatetrio._core._config import Credentials, endpoint_url
from gatetrio._core._errors import ConnectionLost, UsageError
from gatetrio._shell._client import open_client
from gatetrio._shell._rest import default_transport
from gatetrio._shell._transport import Connector, WebSocketLike, default_connector
from gatetrio.testing import FakeGateServer
from gatetrio.testing._loopback import serve_tcp

from . import _metrics

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

    from gatetrio._shell._client import Client

FIRST_CONNECT_ATTEMPTS: Final = 3  # consecutive failures before giving up on the first connect
FIRST_CONNECT_DEADLINE: Final = 20.0  # seconds, whatever the failures look like
SIMULATED_USER_ID: Final = "20011"  # the fake account's uid when no credentials are set
KEY_VARIABLE: Final = "GATE_API_KEY"
SECRET_VARIABLE: Final = "GATE_API_SECRET"  # noqa: S105 - a variable name
USER_VARIABLE: Final = "GATE_USER_ID"
_NETWORK_WORDS: Final = (
    "name resolution failed",
    "refused",
    "unreachable",
    "no route to host",
    "timed out",
    "all attempts to connect",
)


@attrs.frozen(kw_only=True)
class ConnectOptions:
    """Where to connect: Gate (by settle), an explicit URL, or an in-process fake."""

    settle: str = "usdt"
    simulate: bool = False
    seed: int = 0
    url: str | None = None
    duration: float | None = None  # seconds; None runs until interrupted
    credentials: Credentials | None = None  # private channels; from the environment
    metrics_port: int | None = None  # --metrics-port: serve Prometheus metrics


def credentials_from_env(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """`Credentials` from GATE_API_KEY / GATE_API_SECRET (and GATE_USER_ID), or None.

    Secrets are never taken from the command line: it shows in `ps` and in shell history.

    Raises:
        UsageError: only one of the key and the secret is set.
    """
    env = os.environ if environ is None else environ
    key, secret = env.get(KEY_VARIABLE, ""), env.get(SECRET_VARIABLE, "")
    if not key and not secret:
        return None
    if not key or not secret:
        raise UsageError(f"set both {KEY_VARIABLE} and {SECRET_VARIABLE}, or neither")
    return Credentials(key=key, secret=secret, user_id=env.get(USER_VARIABLE, ""))


def network_hint(reason: str) -> str:
    """ "; no network? try --simulate" when `reason` looks like no network, else ""."""
    text = reason.lower()
    if text.startswith("connect:") and any(word in text for word in _NETWORK_WORDS):
        return "; no network? try --simulate"
    return ""


class FirstConnect:
    """Wraps a connector to fail fast (one line, no retry loop) when the exchange is unreachable.

    Once connected, reconnects are the client's business. `failures` and `last_error` say how
    the first connect is going (the live view shows them).
    """

    def __init__(self, connector: Connector, url: str) -> None:
        self._connector = connector
        self.url = url
        self.scope = trio.CancelScope(deadline=trio.current_time() + FIRST_CONNECT_DEADLINE)
        self.connected = False
        self.failures = 0
        self.last_error = ""

    async def __call__(
        self, nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike:
        try:
            ws = await self._connector(nursery, url, headers)
        except (ConnectionLost, OSError) as exc:
            self.failures += 1
            self.last_error = str(getattr(exc, "reason", exc))
            if not self.connected and self.failures >= FIRST_CONNECT_ATTEMPTS:
                self.scope.cancel(reason="first connect failed")
            raise
        self.connected = True
        self.scope.deadline = math.inf
        return ws

    def error(self, *, simulated: bool) -> ConnectionLost:
        """The one-line failure for a first connect that never succeeded."""
        why = self.last_error or f"no connection within {FIRST_CONNECT_DEADLINE:g}s"
        hint = "" if simulated else network_hint(self.last_error)
        return ConnectionLost(f"cannot reach {self.url} ({why}){hint}")


def simulated_credentials(options: ConnectOptions) -> Credentials:
    """What the in-process fake and its client share: the user's, or a demo account's."""
    if options.credentials is not None:
        return options.credentials
    demo = "simulated"  # the fake checks signatures with it; no real account behind it
    return Credentials(key=demo, secret=demo, user_id=SIMULATED_USER_ID)


@contextlib.asynccontextmanager
async def simulated_exchange(options: ConnectOptions) -> AsyncIterator[str]:
    """Serve the fake exchange on 127.0.0.1 (a free port) for the block; yield its URL."""
    # Stamp frames with the real wall time, so the exchange-to-local latency means something.
    server = FakeGateServer(
        options.seed,
        options.settle,
        credentials=simulated_credentials(options),
        epoch_ms=time.time_ns() // 1_000_000,
        max_received=1000,  # a watch may run for days: keep the fake's frame log bounded
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        port = await nursery.start(serve_tcp, server, "127.0.0.1", 0)
        yield f"ws://127.0.0.1:{port}/v4/ws/{options.settle}"
        nursery.cancel_scope.cancel(reason="simulated exchange no longer needed")


async def with_client(
    options: ConnectOptions,
    body: Callable[[Client], Awaitable[int]],
    *,
    progress: Callable[[FirstConnect], None] | None = None,
) -> int:
    """Connect as `options` say, run `body(client)` (for `duration` at most), return its code.

    `progress(first)` is called once the URL is known, before connecting, with the object that
    counts the first connect's failures.

    Raises:
        ConnectionLost: the first connection never came up (one line, with the hint).
    """
    async with contextlib.AsyncExitStack() as stack:
        credentials = options.credentials
        if options.simulate:
            url = await stack.enter_async_context(simulated_exchange(options))
            credentials = simulated_credentials(options)
        else:
            url = options.url or endpoint_url(options.settle)
        first = FirstConnect(default_connector, url)
        if progress is not None:
            progress(first)
        code = 0
        with first.scope:
            # the connector only wraps the default one: REST goes where it would anyway
            async with open_client(
                url=url,
                connector=first,
                rest_transport=default_transport(),
                credentials=credentials,
            ) as client:
                with (
                    _metrics.serving(options.metrics_port),
                    trio.move_on_after(math.inf if options.duration is None else options.duration),
                ):
                    _metrics.add(client)
                    code = await body(client)
        if not first.connected:
            raise first.error(simulated=options.simulate)
        return code
    raise AssertionError("unreachable")  # pragma: no cover - for mypy: the block returns


# ------------------------------------------------------------------------------- argparse


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every connecting command shares: --settle, --simulate, --seed, --url, ..."""
    _metrics.add_metrics_argument(parser)
    parser.add_argument(
        "--settle",
        default="usdt",
        choices=["usdt", "btc", "usd1"],
        help="settle currency of the perpetual market (default: usdt)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="serve the fake exchange in this process on 127.0.0.1 and connect to it",
    )
    parser.add_argument(
        "--seed", type=int, help="market seed of the fake (with --simulate; default 0)"
    )
    parser.add_argument(
        "--url",
        help="connect to this ws:// or wss:// URL instead (e.g. one `gatetrio serve` printed)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )


def connect_options(ns: argparse.Namespace) -> dict[str, object]:
    """The parsed connect options as `ConnectOptions` keywords.

    Raises:
        UsageError: options that contradict each other, or a bad value.
    """
    if ns.duration is not None and not ns.duration > 0:
        raise UsageError(f"--duration must be > 0 seconds, got {ns.duration}")
    _metrics.check_port(ns.metrics_port)
    if ns.simulate and ns.url is not None:
        raise UsageError("--url and --simulate exclude each other: --simulate serves its own")
    if ns.seed is not None and not ns.simulate:
        raise UsageError("--seed sets the fake's market: use it with --simulate")
    if ns.url is not None and not ns.url.startswith(("ws://", "wss://")):
        raise UsageError(f"--url must be a ws:// or wss:// URL, got {ns.url!r}")
    return {
        "settle": ns.settle,
        "simulate": ns.simulate,
        "seed": 0 if ns.seed is None else ns.seed,
        "url": ns.url,
        "duration": ns.duration,
        "credentials": credentials_from_env(),
        "metrics_port": ns.metrics_port,
    }
