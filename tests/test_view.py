from __future__ import annotations

import io
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from rich.console import Console

from gatetrio._cli._view import (
    LADDER_DEPTH,
    TAPE_LENGTH,
    RateMeter,
    Status,
    WatchModel,
    depth_bar,
    format_percent,
    format_price,
    format_quantity,
    format_status,
    format_ticker,
    format_trade_time,
    price_places,
    render_watch,
)
from gatetrio._core._events import Ticker, Trade

D = Decimal
PRICE = re.compile(r"\b\d+\.\d\b")


def render_text(model: WatchModel, width: int = 120) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(
        render_watch(model)
    )
    return out.getvalue()


def book(n: int) -> tuple[list[tuple[Decimal, int]], list[tuple[Decimal, int]]]:
    """`n` bids below 64000.0 and `n` asks from 64000.1, tick 0.1, best first."""
    bids = [(D("64000.0") - D(i) / 10, 10 + i) for i in range(n)]
    asks = [(D("64000.1") + D(i) / 10, 20 + i) for i in range(n)]
    return bids, asks


# ------------------------------------------------------------------------------ RateMeter


def test_rate_meter_needs_two_samples() -> None:
    meter = RateMeter()
    assert meter.rate == 0.0
    meter.observe(100, 1.0)
    assert meter.rate == 0.0


def test_rate_meter_spans_the_window() -> None:
    meter = RateMeter(window=2.0)
    for second in range(6):
        meter.observe(second * 1000 + (500 if second >= 4 else 0), float(second))
    # samples kept: t=3 (just outside the window), 4, 5 -> (5500 - 3000) / 2
    assert meter.rate == 1250.0


def test_rate_meter_ignores_a_stalled_clock() -> None:
    meter = RateMeter()
    meter.observe(10, 5.0)
    meter.observe(20, 5.0)
    assert meter.rate == 0.0


# ----------------------------------------------------------------------------- formatting


def test_format_percent() -> None:
    assert format_percent(D("-0.5151")) == "-0.5151%"
    assert format_percent(D("0.000052"), scale=100) == "+0.0052%"
    assert format_percent(D("1"), scale=100) == "+100%"
    assert format_percent(None) == "-"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (393690687, "393.7M"),
        (D("2518230674"), "2.5G"),
        (25000, "25.0k"),
        (4681, "4681"),
        (-4681, "-4681"),
        (-25000, "-25.0k"),
        (D("39369.0687"), "39.4k"),
    ],
)
def test_format_quantity(value: Decimal | int, text: str) -> None:
    assert format_quantity(value) == text


def test_format_trade_time_is_utc_with_milliseconds() -> None:
    assert format_trade_time(1786540580715) == "13:16:20.715"
    assert format_trade_time(1786540580005) == "13:16:20.005"
    assert format_trade_time(0) == "--:--:--.---"


def test_format_ticker_full() -> None:
    ticker = Ticker(
        "BTC_USDT",
        "63964.7",
        change_percentage="-0.5151",
        mark_price="63964.8",
        index_price="63989.2",
        funding_rate="0.000052",
        high_24h="64443.9",
        low_24h="63209.0",
        volume_24h="393690687",
    )
    assert format_ticker(ticker, "BTC_USDT") == (
        "BTC_USDT  last 63964.7  -0.5151%  mark 63964.8  index 63989.2  funding +0.0052%  "
        "24h H 64443.9 L 63209.0  vol 393.7M"
    )


def test_format_ticker_sparse_and_malformed() -> None:
    # a malformed field reads as absent instead of taking the screen down
    ticker = Ticker("BTC_USDT", "not-a-number", mark_price="63964.8")
    assert format_ticker(ticker, "BTC_USDT") == "BTC_USDT  last -  -  mark 63964.8"
    assert "waiting" in format_ticker(None, "ETH_USDT")


def test_format_status() -> None:
    status = Status(
        state="connected",
        url="ws://127.0.0.1:1/v4/ws/usdt",
        simulated=True,
        messages_per_second=1234.4,
        pong_rtt=0.00042,
        latency_ms=1.25,
        reconnects=2,
        drops=3,
    )
    assert format_status(status) == (
        "● connected  ws://127.0.0.1:1/v4/ws/usdt  [simulated]  1,234 msg/s  rtt 0.4 ms  "
        "latency 1.2 ms  reconnects 2  drops 3"
    )
    waiting = format_status(Status(state="reconnecting", detail="connection closed"))
    assert waiting.startswith("● reconnecting (connection closed)  0 msg/s  rtt -  latency -")
    assert "book resyncs 4" in format_status(Status(book_resyncs=4))


def test_prices_line_up_on_the_most_precise_one() -> None:
    prices = [D("64000"), D("63999.5"), D("2.895e-05")]
    assert price_places(prices[:2]) == 1
    assert price_places(prices) == 8
    assert price_places([]) == 0
    assert [format_price(p, 1) for p in prices[:2]] == ["64000.0", "63999.5"]


def test_negative_zero_latency_reads_zero() -> None:
    assert "latency 0.0 ms" in format_status(Status(latency_ms=-0.04))
    assert "latency -1.5 ms" in format_status(Status(latency_ms=-1.5))


def test_depth_bar() -> None:
    assert depth_bar(10, 10, width=12) == "█" * 12
    assert depth_bar(5, 10, width=12) == "█" * 6
    assert depth_bar(1, 1000, width=12) == "█"  # a level is never invisible
    assert depth_bar(0, 10) == ""
    assert depth_bar(D("2.5"), D("10"), width=4) == "█"


# ------------------------------------------------------------------------------ rendering


def ladder_rows(text: str, side: str) -> list[tuple[Decimal, int]]:
    rows = []
    for line in text.splitlines():
        match = re.search(rf"(\d+)\s+(\d+\.\d)\s+{side}\b", line)
        if match:
            rows.append((D(match.group(2)), int(match.group(1))))
    return rows


def test_ladder_shows_top_ten_each_side_around_the_spread() -> None:
    model = WatchModel("BTC_USDT")
    bids, asks = book(15)
    bids[3] = (D("63999.7"), bids[3][1])  # Gate writes "63999.7" and "64000": pad to one place
    bids[0] = (D("64000"), bids[0][1])
    model.set_book(bids, asks, ready=True)
    text = render_text(model)
    shown_asks = ladder_rows(text, "ask")
    shown_bids = ladder_rows(text, "bid")
    # asks read down towards the best ask; bids read down from the best bid
    assert shown_asks == list(reversed(asks[:LADDER_DEPTH]))
    assert shown_bids == bids[:LADDER_DEPTH]
    lines = text.splitlines()
    best_ask_line = next(i for i, line in enumerate(lines) if "64000.1" in line)
    best_bid_line = next(i for i, line in enumerate(lines) if "64000.0 bid" in line)
    spread_line = next(i for i, line in enumerate(lines) if "spread 0.1" in line)
    assert best_ask_line < spread_line < best_bid_line
    assert "order book BTC_USDT" in text
    assert "syncing" not in text


def test_ladder_while_syncing() -> None:
    model = WatchModel("BTC_USDT")
    text = render_text(model)
    assert "order book BTC_USDT (syncing)" in text
    assert re.search(r"│\s+syncing\s+│", text)
    assert ladder_rows(text, "ask") == []


def test_tape_is_newest_first_and_bounded() -> None:
    model = WatchModel("BTC_USDT")
    for i in range(TAPE_LENGTH + 5):
        size = 10 + i if i % 2 else -(10 + i)
        model.add_trade(Trade(i, "BTC_USDT", D("64000") + i, size, 0, 1786540580000 + i))
    text = render_text(model)
    rows = re.findall(r"13:16:20\.(\d{3}) (buy|sell)\s+(\d+)\s+(\d+)", text)
    expected = [
        (f"{i:03d}", "buy" if i % 2 else "sell", str(64000 + i), str(10 + i))
        for i in reversed(range(5, TAPE_LENGTH + 5))
    ]
    assert rows == expected


def test_whole_screen_has_ticker_book_tape_and_status() -> None:
    model = WatchModel("BTC_USDT", ticker=Ticker("BTC_USDT", "64000.1"))
    model.set_book(*book(3), ready=True)
    model.add_trade(Trade(1, "BTC_USDT", D("64000.1"), 5, 0, 1786540580000))
    model.status = Status(state="connected", messages_per_second=12.0)
    lines = render_text(model).splitlines()
    assert lines[0].startswith("BTC_USDT  last 64000.1")
    assert lines[-1].startswith("● connected")
    assert "12 msg/s" in lines[-1]
    assert any("trades" in line and "order book" in line for line in lines)


def test_importing_gatetrio_does_not_load_rich() -> None:
    code = (
        "import sys, gatetrio, gatetrio._cli._main, gatetrio._cli._watch, gatetrio._cli._jsonl; "
        "print(sorted(m for m in sys.modules if m == 'rich' or m == 'gatetrio._cli._view'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
