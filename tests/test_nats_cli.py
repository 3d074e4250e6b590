"""`publish` argument parsing (no NATS needed): what each command line adds."""

from __future__ import annotations

import pytest

import gatetrio
from gatetrio._cli._main import build_parser
from gatetrio._cli._nats import PublishOptions, publish_plan


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
