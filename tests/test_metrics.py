"""`gatetrio.metrics`: every statistics counter as a Prometheus metric, scraped over HTTP."""

from __future__ import annotations

import re

import attrs
import httpx
import pytest
import trio

pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import gatetrio
import gatetrio.metrics
from gatetrio import channels
from gatetrio._shell._client_events import ClientStatistics
from gatetrio.metrics import SUBSYSTEMS, metric_name
from gatetrio.nats import ConsumerStatistics, PublisherStatistics, ReorderStatistics
from gatetrio.recording import RecorderStatistics
from gatetrio.testing import FakeGateServer

NAME = re.compile(r"^gatetrio_[a-z][a-z0-9_]*$")


@pytest.mark.parametrize(
    "cls",
    [
        ClientStatistics,
        RecorderStatistics,
        PublisherStatistics,
        ConsumerStatistics,
        ReorderStatistics,
    ],
)
def test_every_numeric_field_has_a_conventional_name(cls: type) -> None:
    names = set()
    for field in attrs.fields(cls):
        kind, name = metric_name("x", field.name)
        assert NAME.match(name), name
        assert not name.endswith("_total")  # prometheus-client adds it to counters
        if field.name.endswith("_ms"):
            assert name.endswith("_seconds")
            assert kind == "gauge"
        names.add(name)
    assert len(names) == len(attrs.fields(cls))


def test_units_and_kinds() -> None:
    assert metric_name("client", "messages_received") == (
        "counter",
        "gatetrio_client_messages_received",
    )
    assert metric_name("client", "last_latency_ms") == (
        "gauge",
        "gatetrio_client_last_latency_seconds",
    )
    assert metric_name("client", "last_pong_rtt") == (
        "gauge",
        "gatetrio_client_last_pong_rtt_seconds",
    )
    assert metric_name("recorder", "bytes_written") == (
        "counter",
        "gatetrio_recorder_written_bytes",
    )
    assert metric_name("publisher", "buffered") == ("gauge", "gatetrio_publisher_buffered")
    assert metric_name("publisher", "peak_buffered") == (
        "gauge",
        "gatetrio_publisher_peak_buffered",
    )
    assert set(SUBSYSTEMS.values()) >= {"client", "pool", "recorder", "publisher", "consumer"}


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_a_scrape_during_a_run_matches_statistics() -> None:
    registry = CollectorRegistry()
    async with trio.open_nursery() as nursery:
        server = FakeGateServer(seed=2)
        await nursery.start(server.run)
        async with gatetrio.open_client(
            connector=server.connector, wall_clock=server.wall_time
        ) as client:
            metrics = gatetrio.metrics.register(registry=registry, labels={"job": "test"})
            metrics.add(client, name="main")
            with gatetrio.metrics.serve(0, registry) as port:
                async with client.subscribe(channels.trades("BTC_USDT")) as sub:
                    for _ in range(5):
                        await sub.receive()
                before = client.statistics()  # pings go on: the scrape lies between
                scraped = await trio.to_thread.run_sync(_scrape, port)
                stats = client.statistics()
        nursery.cancel_scope.cancel()
    labels = (("job", "test"), ("name", "main"))
    received = scraped[("gatetrio_client_messages_received_total", labels)]
    assert before.messages_received <= received <= stats.messages_received
    assert scraped[("gatetrio_client_connects_total", labels)] == stats.connects
    assert scraped[("gatetrio_client_connected", labels)] == 1.0
    assert scraped[("gatetrio_client_rest_calls_total", labels)] == stats.rest.calls
    by_channel = (*labels[:1], ("channel", "futures.trades"), labels[1])
    assert (
        scraped[("gatetrio_client_messages_total", tuple(sorted(by_channel)))]
        == (stats.messages_by_channel["futures.trades"])
    )
    assert stats.messages_received >= 1  # frames (a frame may carry several trades)
    # every numeric counter of the statistics is there
    for field in attrs.fields(ClientStatistics):
        value = getattr(stats, field.name)
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        kind, name = metric_name("client", field.name)
        key = (name + ("_total" if kind == "counter" else ""), labels)
        assert getattr(before, field.name) <= scraped[key] <= value, field.name


def test_what_cannot_be_exported_is_refused() -> None:
    registry = CollectorRegistry()
    metrics = gatetrio.metrics.Metrics(registry)
    with pytest.raises(gatetrio.UsageError, match="no statistics"):
        metrics.add(object())
    with pytest.raises(gatetrio.UsageError, match="port"), gatetrio.metrics.serve(70000, registry):
        pass  # pragma: no cover
    metrics.unregister()


@pytest.mark.slow
def test_metrics_port_on_the_command_line() -> None:
    import os
    import subprocess
    import sys
    import time

    from .nats_server import free_port

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gatetrio",
            "stream",
            "trades",
            "BTC_USDT",
            "--simulate",
            "--duration",
            "20",
            "--metrics-port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        assert f"metrics on http://127.0.0.1:{port}/metrics" in process.stderr.readline()
        deadline = time.monotonic() + 30
        while True:
            scraped = _scrape(port)
            received = scraped.get(("gatetrio_client_messages_received_total", (("name", ""),)))
            if received:
                break
            assert time.monotonic() < deadline, scraped
            time.sleep(0.2)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 0
