"""`/metrics` scraped while a publisher and a durable consumer run on a real nats-server: every
counter of their `statistics()` is there, between the values read just before and just after."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio

pytest.importorskip("nats")
pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry

import gatetrio
import gatetrio.metrics
from gatetrio import channels
from gatetrio.metrics import metric_name
from gatetrio.nats import StreamSettings, open_consumer, open_publisher

from .nats_server import Names, nats_url
from .test_metrics import _scrape
from .test_nats_e2e import collector, fake_exchange

__all__ = ["nats_url"]  # the module-scoped node fixture, used by name

Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _between(
    scraped: Scrape, subsystem: str, before: Any, after: Any, labels: tuple[tuple[str, str]]
) -> int:
    """Each numeric field of `after` (nested ones too) against the scrape; how many checked."""
    checked = 0
    for field in attrs.fields(type(after)):
        old, new = getattr(before, field.name), getattr(after, field.name)
        if attrs.has(type(new)):
            checked += _between(scraped, f"{subsystem}_{field.name}", old, new, labels)
            continue
        if isinstance(new, bool) or not isinstance(new, int):
            continue
        kind, name = metric_name(subsystem, field.name)
        value = scraped[(name + ("_total" if kind == "counter" else ""), labels)]
        if kind == "counter":  # it only grows: the scrape lies between the two reads
            assert old <= value <= new, (name, old, value, new)
        checked += 1
    return checked


async def test_a_scrape_of_a_publisher_and_a_consumer_matches_their_statistics(
    nats_url: str,
) -> None:
    names = Names()
    stream = StreamSettings.for_prefix(names.prefix, name=names.stream, storage="memory")
    registry = CollectorRegistry()
    got = 0
    with trio.fail_after(60):
        async with (
            fake_exchange() as server,
            collector(server) as client,
            open_publisher(
                client, nats_url, stream=stream, prefix=names.prefix, wall_clock=server.wall_time
            ) as publisher,
        ):
            await publisher.wait_ready()
            await publisher.add(channels.trades("BTC_USDT"))
            async with open_consumer(
                nats_url, [names.subject("trades")], stream=names.stream, durable="m"
            ) as sub:
                metrics = gatetrio.metrics.register(registry=registry)
                metrics.add(publisher, name="collector")
                metrics.add(sub, name="reader")
                with gatetrio.metrics.serve(0, registry) as port:
                    async for _ in sub:
                        got += 1
                        if got == 20:
                            break
                    await publisher.wait_statistics(lambda s: s.published >= 30)
                    before = publisher.statistics(), sub.statistics()
                    scraped = await trio.to_thread.run_sync(_scrape, port)
                    after = publisher.statistics(), sub.statistics()
                metrics.unregister()
    checked = _between(scraped, "publisher", before[0], after[0], (("name", "collector"),))
    checked += _between(scraped, "consumer", before[1], after[1], (("name", "reader"),))
    assert checked > 25
    reader = (("name", "reader"),)
    assert scraped[("gatetrio_consumer_received_total", reader)] == 20

    # the nested re-sequencer counters are exported (`_between` checked each value); how many
    # came in order is the bus's timing: under load a few wait for a predecessor, and the
    # re-sequencer may have released more than the 20 the loop took
    def reorder(name: str) -> float:
        return scraped[(f"gatetrio_consumer_reorder_{name}_total", reader)]

    released = reorder("in_order") + reorder("reordered") + reorder("unsequenced")
    released += reorder("late") - reorder("late_dropped")
    assert reorder("in_order") >= 1
    assert released >= 20  # each item the loop took was released once, in one of these
    assert scraped[("gatetrio_publisher_published_total", (("name", "collector"),))] >= 30
