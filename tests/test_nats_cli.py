"""`publish` / `consume`: argument parsing (no NATS needed), and both commands on a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gatetrio
from gatetrio._cli._main import build_parser
from gatetrio._cli._nats import PublishOptions, publish_plan

from .nats_server import nats_cluster


def test_obu_publishes_books_and_all_publishes_every_public_channel() -> None:
    specs, books = publish_plan(
        PublishOptions(nats="nats://x:1", words=("obu", "BTC_USDT", "level=400"))
    )
    assert (specs, books) == ([], [("BTC_USDT", 400)])
    specs, books = publish_plan(
        PublishOptions(nats="nats://x:1", words=("ETH_USDT",), all_channels=True)
    )
    assert {s.channel for s in specs} == {
        "futures.trades", "futures.tickers", "futures.book_ticker", "futures.candlesticks"
    }  # fmt: skip
    assert books == [("ETH_USDT", 50)]


def test_bad_publish_arguments_are_usage_errors() -> None:
    with pytest.raises(gatetrio.UsageError, match="--all needs"):
        publish_plan(PublishOptions(nats="nats://x:1", all_channels=True))
    with pytest.raises(gatetrio.UsageError, match="unknown channel"):
        publish_plan(PublishOptions(nats="nats://x:1", words=("nope", "BTC_USDT")))


def test_commands_are_registered() -> None:
    ns = build_parser().parse_args(["consume", "--nats", "nats://x:1", "a.b", "--duration", "1"])
    assert (ns.subjects, ns.duration) == (["a.b"], 1.0)


@pytest.mark.slow
def test_publish_and_consume_commands_against_a_real_server(tmp_path: Path) -> None:
    """The README's two lines, on a nats-server started here: consume prints the trades that
    publish collected from the simulated exchange, as JSON lines."""
    with nats_cluster(tmp_path) as cluster:
        url = cluster.urls[0]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        base = [sys.executable, "-m", "gatetrio"]
        publisher = subprocess.Popen(
            [
                *base,
                "publish",
                "--nats",
                url,
                "--simulate",
                "trades",
                "BTC_USDT",
                "--duration",
                "8",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            consumer = subprocess.run(
                [*base, "consume", "--nats", url, "gate.futures.usdt.trades.>", "--duration", "6"],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
                check=False,
            )
        finally:
            _, publish_err = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, publish_err
        assert consumer.returncode == 0, consumer.stderr
        trades = [json.loads(line) for line in consumer.stdout.splitlines()]
        assert trades
        assert {t["type"] for t in trades} == {"Trade"}
        assert {t["contract"] for t in trades} == {"BTC_USDT"}
        ids = [t["id"] for t in trades]
        assert len(ids) == len(set(ids))  # every trade once
