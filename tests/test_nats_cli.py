"""`publish` / `consume`: argument parsing (no NATS needed), and both commands on a real server."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gatetrio
from gatetrio._cli._main import build_parser, main
from gatetrio._cli._nats import consume_options, publish_options, publish_plan

from .nats_server import nats_cluster


def plan(*argv: str) -> tuple[set[tuple[str, tuple[str, ...]]], list[tuple[str, int]]]:
    ns = build_parser().parse_args(["publish", "--nats", "nats://x:1", *argv])
    specs, books = publish_plan(publish_options(ns))
    return {(s.channel, tuple(s.payloads[0])) for s in specs}, books


def test_one_default_book_level_and_several_channels_per_process() -> None:
    assert plan("obu", "BTC_USDT") == (set(), [("BTC_USDT", 50)])  # the level every book uses
    assert plan("obu", "BTC_USDT", "level=400") == (set(), [("BTC_USDT", 400)])
    specs, books = plan("trades,tickers,obu", "BTC_USDT", "ETH_USDT", "level=400")
    assert specs == {
        ("futures.trades", ("BTC_USDT", "ETH_USDT")),
        ("futures.tickers", ("BTC_USDT", "ETH_USDT")),
    }
    assert books == [("BTC_USDT", 400), ("ETH_USDT", 400)]
    specs, books = plan("candlesticks,book_ticker", "BTC_USDT", "ETH_USDT", "interval=5m")
    assert specs == {
        ("futures.candlesticks", ("5m", "BTC_USDT")),
        ("futures.candlesticks", ("5m", "ETH_USDT")),
        ("futures.book_ticker", ("BTC_USDT", "ETH_USDT")),
    }
    assert plan("trades", "BTC_USDT") == ({("futures.trades", ("BTC_USDT",))}, [])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trades,tickers", "BTC_USDT", "level=50"], "none of trades, tickers takes"),
        (["nope", "BTC_USDT"], "unknown channel"),
        (["trades,orders", "BTC_USDT"], "orders is private"),
        (["trades,,obu", "BTC_USDT"], "comma-separated"),
        (["trades,obu"], "needs at least one contract"),
        (["obu", "BTC_USDT", "--settle", "btc"], "USDT perpetuals only"),
        (["trades", "BTC_USDT", "--replicas", "7"], "replicas"),
        (["trades", "BTC_USDT", "--duplicate-window", "0"], "duplicate_window"),
        (["trades", "BTC_USDT", "--snapshot-every", "0"], "snapshot-every"),
    ],
)
def test_bad_publish_arguments_fail_before_connecting(argv: list[str], message: str) -> None:
    ns = build_parser().parse_args(["publish", "--nats", "nats://x:1", *argv])
    with pytest.raises(gatetrio.UsageError, match=message):
        publish_options(ns)


def test_publish_all_means_every_listed_contract_and_stream_settings_are_taken() -> None:
    ns = build_parser().parse_args(
        [
            "publish", "--nats", "nats://x:1", "trades,obu", "--all",
            "--stream", "MINE", "--prefix", "md.gate", "--replicas", "3",
            "--duplicate-window", "60", "--max-age", "3600", "--max-bytes", "1000000",
            "--storage", "memory", "--update-stream", "--beyond-window", "drop",
        ]
    )  # fmt: skip
    options = publish_options(ns)
    assert options.all_contracts
    specs, books = publish_plan(options, ["A_USDT", "B_USDT"])
    assert [s.payloads[0] for s in specs] == [("A_USDT", "B_USDT")]
    assert books == [("A_USDT", 50), ("B_USDT", 50)]
    settings = options.stream_settings()
    assert (settings.name, settings.subjects, settings.replicas) == ("MINE", ("md.gate.>",), 3)
    assert (settings.duplicate_window, settings.max_age, settings.max_bytes) == (60, 3600, 10**6)
    assert (settings.storage, options.update_stream, options.beyond_window) == (
        "memory",
        True,
        "drop",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "name subjects"),
        (["a.b", "--start", "soon"], "start must be"),
        (["a.b", "--shared"], "name it"),
        (["a.b", "--durable", "bad.name"], "durable must be"),
        (["--book", "BTC_USDT", "--durable", "x"], "--book reads its own"),
        (["a.b", "--max-delay", "-1"], "max_delay"),
        (["a.b", "--duration", "0"], "duration"),
    ],
)
def test_bad_consume_arguments_fail_before_connecting(argv: list[str], message: str) -> None:
    ns = build_parser().parse_args(["consume", "--nats", "nats://x:1", *argv])
    with pytest.raises(gatetrio.UsageError, match=message):
        consume_options(ns)
    assert main(["consume", "--nats", "nats://x:1", *argv]) == 2


def test_consume_arguments() -> None:
    ns = build_parser().parse_args(
        ["consume", "--nats", "nats://x:1", "a.b", "--durable", "r", "--start", "42"]
    )
    options = consume_options(ns)
    assert (options.subjects, options.durable, options.start, options.level) == (
        ("a.b",),
        "r",
        "42",
        50,
    )


# ------------------------------------------------------------------------- a real server

BASE = [sys.executable, "-m", "gatetrio"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.slow
def test_publish_and_consume_commands_against_a_real_server(tmp_path: Path) -> None:
    """The README's lines, on a nats-server started here: publish two channels and a book in
    one process into a stream an operator made (left as it is, the difference reported);
    consume prints the trades, and a durable consumer stopped and started again goes on
    exactly where it stopped."""
    with nats_cluster(tmp_path) as cluster:
        url = cluster.urls[0]
        made = subprocess.run(
            [
                *BASE, "publish", "--nats", url, "--simulate", "trades", "BTC_USDT",
                "--duplicate-window", "60", "--duration", "1",
            ],
            capture_output=True, text=True, timeout=60, env=ENV, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr  # the operator's stream: a 60 s window
        publisher = subprocess.Popen(
            [
                *BASE, "publish", "--nats", url, "--simulate", "trades,tickers,obu",
                "BTC_USDT", "--duration", "120",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV,
        )  # fmt: skip
        try:
            durable = [*BASE, "consume", "--nats", url, "gate.futures.usdt.trades.>"]
            durable += ["--durable", "cli", "--start", "all"]
            first = subprocess.Popen(
                durable, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
            )
            # its first line says its signal handler is in (a loaded machine may take
            # seconds to start it: a SIGTERM before would be Python's default, a kill)
            assert first.stdout is not None
            ready, _, _ = select.select([first.stdout], [], [], 60)
            assert ready, "the durable consumer printed nothing in 60 s"
            head = first.stdout.readline()
            consumer = subprocess.Popen(  # meanwhile (the publisher is publishing), everything
                [*BASE, "consume", "--nats", url, "gate.futures.usdt.>", "--duration", "4"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
            )  # fmt: skip
            time.sleep(1)
            first.send_signal(signal.SIGTERM)  # a clean stop, as Ctrl-C or a supervisor's
            out1, err1 = first.communicate(timeout=30)
            out1 = head + out1
            second = subprocess.run(
                [*durable, "--duration", "2"],
                capture_output=True, text=True, timeout=60, env=ENV, check=False,
            )  # fmt: skip
            consumer_out, consumer_err = consumer.communicate(timeout=60)
        finally:
            publisher.send_signal(signal.SIGTERM)  # it published for seconds: its handler is in
            _, publish_err = publisher.communicate(timeout=60)
    assert publisher.returncode == 0, publish_err
    assert "duplicate window 60s (asked 120s)" in publish_err
    assert "used as it is" in publish_err
    assert consumer.returncode == 0, consumer_err
    kinds = {(item["type"], item.get("contract")) for item in _lines(consumer_out)}
    assert {("Trade", "BTC_USDT"), ("Ticker", "BTC_USDT")} <= kinds
    assert any(kind == "ObuDelta" for kind, _ in kinds)
    assert first.returncode == 0, err1
    assert second.returncode == 0, second.stderr
    for err in (err1, second.stderr):  # each ends saying what it read and what was out of order
        assert "received " in err
        assert "late 0 (0 dropped), gaps 0, window overflows 0" in err, err
    ids = [int(str(item["id"])) for item in _lines(out1) + _lines(second.stdout)]
    assert ids
    assert ids == sorted(set(ids)), "every trade once, in order, across the restart"
