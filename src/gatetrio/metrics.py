"""Prometheus metrics of gatetrio's statistics (the `metrics` extra: prometheus-client).

    import gatetrio.metrics

    metrics = gatetrio.metrics.register(client, publisher)   # into prometheus-client's REGISTRY
    metrics.add(recorder, name="capture")                    # more, with a `name` label
    with gatetrio.metrics.serve(9108, metrics.registry):     # GET http://127.0.0.1:9108/metrics
        ...

Every counter of a `statistics()` is exported, read when Prometheus scrapes (nothing is
sampled in between): the client's (`ClientStatistics`, with its REST calls), a pool's (every
shard's, labelled `shard`, and the pool's own), a recorder's, a NATS publisher's, a consumer's
(`BusSubscription`, with its re-sequencing window) and a book's (`LiveOrderBook`,
`BusOrderBook`). Names follow Prometheus' conventions: `gatetrio_<what>_<field>`, a counter
ends in `_total`, a unit is in the name in base units (`gatetrio_client_last_latency_seconds`,
`gatetrio_recorder_written_bytes_total`), a yes/no is a 0/1 gauge; a count per channel is one
counter with a `channel` label. Each series carries `name` (given when added: tell two
publishers apart) and whatever `labels` the collector was made with.

`statistics()` runs on the trio thread that owns the object (the scrape asks it, through
`trio.from_thread`), so a scrape never reads a half-updated object; a source whose trio run
has ended is skipped. `import gatetrio` does not load this module, nor prometheus-client.
docs/metrics.md lists every metric and a ready Grafana dashboard.
"""

from __future__ import annotations

import contextlib
import threading
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from gatetrio._core._errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Metrics", "register", "serve"]

SUBSYSTEMS: Final[Mapping[str, str]] = {
    "ClientStatistics": "client",
    "PoolStatistics": "pool",
    "RecorderStatistics": "recorder",
    "PublisherStatistics": "publisher",
    "ConsumerStatistics": "consumer",
    "BookStatistics": "book",
    "ObuSyncStatistics": "book",
}
"""The `statistics()` classes exported, by class name, and the metric prefix of each."""

GAUGES: Final = frozenset(
    {
        "buffered",
        "buffer_used",
        "contracts",
        "held",
        "max_buffer_size",
        "open_subscriptions",
        "parts",
        "update_id",
    }
)
"""Integer fields that are a level now, not a count since the start (plus every `peak_*` and
`last_*`, and every bool and float)."""

_SECONDS: Final = {"_ms": 1e-3, "_rtt": 1.0, "_seconds": 1.0}
_SKIP: Final = frozenset({"url", "method", "level", "contract", "last_failure", "waiting"})


def require_prometheus() -> Any:
    try:
        import prometheus_client.core  # noqa: PLC0415 - optional dependency
    except ImportError:
        from gatetrio._install import install_hint  # noqa: PLC0415 - cold path

        raise UsageError(f"metrics need prometheus-client: {install_hint('metrics')}") from None
    return prometheus_client.core


class _Family:
    """One metric family being filled during a scrape."""

    def __init__(self, kind: str, name: str, documentation: str, labels: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.samples: list[tuple[list[str], float]] = []


def metric_name(subsystem: str, field: str) -> tuple[str, str]:
    """(kind, Prometheus name without `_total`) of a statistics field: `("counter",
    "gatetrio_client_messages_received")`, `("gauge", "gatetrio_client_last_latency_seconds")`."""
    name = field
    for suffix in _SECONDS:
        if name.endswith(suffix):
            name = name.removesuffix(suffix) + ("_rtt_seconds" if suffix == "_rtt" else "_seconds")
            break
    if "bytes" in name and not name.endswith("_bytes"):  # bytes_written -> written_bytes
        name = name.replace("bytes_", "").replace("_bytes", "") + "_bytes"
    gauge = field in GAUGES or field.startswith(("peak_", "last_")) or name.endswith("_seconds")
    return ("gauge" if gauge else "counter"), f"gatetrio_{subsystem}_{name}"


class _Scrape:
    """Turns statistics objects into metric families, by their fields."""

    def __init__(self) -> None:
        self.families: dict[str, _Family] = {}

    def _family(self, kind: str, name: str, doc: str, labels: list[str]) -> _Family:
        family = self.families.get(name)
        if family is None:
            family = self.families[name] = _Family(kind, name, doc, labels)
        return family

    def add(self, stats: Any, subsystem: str, labels: dict[str, str]) -> None:
        cls = type(stats).__name__
        for field in attrs.fields(type(stats)):
            value = getattr(stats, field.name)
            if value is None or field.name in _SKIP:
                continue
            self._value(cls, subsystem, field.name, value, labels)

    def _value(
        self, cls: str, subsystem: str, field: str, value: object, labels: dict[str, str]
    ) -> None:
        if attrs.has(type(value)):  # nested: rest calls, the reorder window, a pool's merged
            nested = SUBSYSTEMS.get(type(value).__name__)
            prefix = f"{subsystem}_{field}" if field != "merged" else nested or subsystem
            self.add(value, prefix, labels)
            return
        if isinstance(value, tuple) and value and attrs.has(type(value[0])):  # pool shards
            for index, shard in enumerate(value):
                self.add(shard, SUBSYSTEMS.get(type(shard).__name__, subsystem),
                         {**labels, "shard": str(index)})  # fmt: skip
            return
        if isinstance(value, Mapping):  # a count per channel
            kind, name = metric_name(subsystem, field.removesuffix("_by_channel"))
            family = self._family(kind, name, f"{cls}.{field}", [*labels, "channel"])
            for channel, count in value.items():
                if isinstance(count, int | float):
                    family.samples.append(([*labels.values(), str(channel)], float(count)))
            return
        if isinstance(value, bool):
            kind, name = "gauge", f"gatetrio_{subsystem}_{field}"
        elif isinstance(value, int | float):
            kind, name = metric_name(subsystem, field)
            if field.endswith("_ms"):
                value = value / 1000.0
        else:
            return  # text and sequences of numbers (a pool's per-shard stream counts)
        family = self._family(kind, name, f"{cls}.{field}", list(labels))
        family.samples.append((list(labels.values()), float(value)))

    def families_for(self, core: Any) -> Iterator[Any]:
        for family in self.families.values():
            make = core.CounterMetricFamily if family.kind == "counter" else core.GaugeMetricFamily
            metric = make(family.name, family.documentation, labels=family.labels)
            for label_values, value in family.samples:
                metric.add_metric(label_values, value)
            yield metric


@attrs.define(eq=False)
class _Source:
    obj: Any
    labels: dict[str, str]
    token: trio.lowlevel.TrioToken | None


@typing.final
class Metrics:
    """A Prometheus collector of gatetrio objects' statistics; see the module doc.

    Made by `register` (or `Metrics(registry)`, which registers it), fed with `add`.
    """

    def __init__(self, registry: Any = None, *, labels: Mapping[str, str] | None = None) -> None:
        core = require_prometheus()
        self._core = core
        self.registry: Final = core.REGISTRY if registry is None else registry
        self.labels: Final = dict(labels or {})
        self._sources: list[_Source] = []
        self._lock = threading.Lock()
        self.registry.register(self)
        self._registered = True

    def add(self, source: object, *, name: str = "") -> None:
        """Export `source.statistics()` (a client, pool, recorder, publisher, consumer or book),
        labelled `name`. Call it from the trio run that owns `source`."""
        if not self._registered:
            raise UsageError(
                "this Metrics was unregistered: nothing added to it is scraped; make a new "
                "one with gatetrio.metrics.register()"
            )
        stats = getattr(source, "statistics", None)
        if not callable(stats) or type(stats()).__name__ not in SUBSYSTEMS:
            raise UsageError(
                f"{type(source).__name__} has no statistics gatetrio.metrics exports; add a "
                "client, pool, recorder, publisher, consumer (BusSubscription) or book"
            )
        try:
            token: trio.lowlevel.TrioToken | None = trio.lowlevel.current_trio_token()
        except RuntimeError:  # not in a trio run: read directly
            token = None
        with self._lock:
            self._sources.append(_Source(source, {**self.labels, "name": name}, token))

    def remove(self, source: object) -> None:
        """Stop exporting `source` (a no-op if it was not added)."""
        with self._lock:
            self._sources = [s for s in self._sources if s.obj is not source]

    def unregister(self) -> None:
        """Take this collector out of its registry (idempotent); `add` refuses from now."""
        with self._lock:
            registered, self._registered = self._registered, False
            self._sources = []
        if registered:
            self.registry.unregister(self)

    def _statistics(self, source: _Source) -> object | None:
        stats: object
        if source.token is None:
            stats = source.obj.statistics()
            return stats
        try:
            current = trio.lowlevel.current_trio_token()
        except RuntimeError:
            current = None
        try:
            if current is source.token:  # collected from the owning run itself
                stats = source.obj.statistics()
            else:
                stats = trio.from_thread.run_sync(source.obj.statistics, trio_token=source.token)
        except trio.RunFinishedError:
            return None
        return stats

    def collect(self) -> Iterator[Any]:
        """What a scrape sees (prometheus-client calls it)."""
        with self._lock:
            sources = list(self._sources)
        scrape = _Scrape()
        for source in sources:
            stats = self._statistics(source)
            if stats is not None:
                subsystem = SUBSYSTEMS[type(stats).__name__]
                scrape.add(stats, subsystem, dict(source.labels))
        yield from scrape.families_for(self._core)

    def describe(self) -> list[Any]:
        # Nothing up front: the families depend on what was added (and registering must not
        # call statistics() from a thread that is not trio's).
        return []


def register(
    *sources: object, registry: Any = None, labels: Mapping[str, str] | None = None
) -> Metrics:
    """A `Metrics` collector in `registry` (default: prometheus-client's `REGISTRY`) exporting
    `sources`' statistics; `labels` go on every series (`{"instance": "collector-a"}`)."""
    metrics = Metrics(registry, labels=labels)
    for source in sources:
        metrics.add(source)
    return metrics


@contextlib.contextmanager
def serve(port: int, registry: Any = None, *, host: str = "127.0.0.1") -> Iterator[int]:
    """Serve `registry` (default `REGISTRY`) on http://host:port/metrics for the block (a
    prometheus-client thread); yield the port (0 picks a free one)."""
    core = require_prometheus()
    from prometheus_client import start_http_server  # noqa: PLC0415

    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"port must be 0-65535, got {port!r}")
    try:
        server, thread = start_http_server(
            port, addr=host, registry=core.REGISTRY if registry is None else registry
        )
    except OSError as exc:
        raise UsageError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
