from __future__ import annotations

import io
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from rich.console import Console

from gatetrio._cli._view import (
    TAPE_LENGTH,
    Freshness,
    RateMeter,
    Status,
    WatchModel,
    depth_bar,
    fit_parts,
    format_age,
    format_percent,
    format_price,
    format_quantity,
    format_status,
    format_ticker,
    format_trade_time,
    human_reason,
    price_places,
    render_watch,
)
from gatetrio._core._events import Ticker, Trade

D = Decimal
PRICE = re.compile(r"\b\d+\.\d\b")


def render_text(model: WatchModel, width: int = 120, height: int = 40) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(
        render_watch(model, width, height)
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
    # fixed precision: the header keeps its width as values update
    assert format_percent(D("-0.5151")) == "-0.52%"
    assert format_percent(D("0.5")) == "+0.50%"
    assert format_percent(D("0.000052"), scale=100, places=4) == "+0.0052%"
    assert format_percent(D("1"), scale=100) == "+100.00%"
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
    assert "  ".join(format_ticker(ticker, "BTC_USDT", 1)) == (
        "BTC_USDT  last 63964.7  -0.52%  mark 63964.8  index 63989.2  funding +0.0052%  "
        "vol 24h 393.7M contracts  24h H 64443.9 L 63209.0"
    )
    quoted = Ticker("BTC_USDT", "64000", volume_24h_quote="25000000", volume_24h="1")
    # the tick's precision, learned from other prices, pads "64000"; volume has its unit
    assert "  ".join(format_ticker(quoted, "BTC_USDT", 1)) == (
        "BTC_USDT  last 64000.0  -  vol 24h 25.0M USDT"
    )


def test_format_ticker_sparse_and_malformed() -> None:
    # a malformed field reads as absent instead of taking the screen down
    ticker = Ticker("BTC_USDT", "not-a-number", mark_price="63964.8")
    assert "  ".join(format_ticker(ticker, "BTC_USDT")) == "BTC_USDT  last -  -  mark 63964.8"
    assert "waiting" in " ".join(format_ticker(None, "ETH_USDT"))


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
    assert "  ".join(format_status(status)) == (
        "● connected  1,234 msg/s  rtt 0.4 ms  latency 1.2 ms  reconnects 2  drops 3  "
        "ws://127.0.0.1:1/v4/ws/usdt  [simulated]"
    )
    waiting = "  ".join(format_status(Status(state="reconnecting", detail="connection closed")))
    assert waiting.startswith("● reconnecting (connection closed)  0 msg/s  rtt -  latency -")
    assert "book resyncs 4" in format_status(Status(book_resyncs=4))


def test_a_stalled_connection_is_not_shown_as_healthy() -> None:
    status = Status(state="connected")
    status.data.seen(100.0)
    assert format_status(status, now=100.3)[0] == "● connected"
    assert format_status(status, now=103.0)[0] == "● connected, no data for 3.0s"
    assert format_status(status, now=200.0)[0] == "● connected, no data for 1m40s"


def test_reconnect_reasons_read_as_words() -> None:
    assert human_reason("ping sent at 114540.25545612117") == "ping sent at 114540.3"
    assert human_reason("connection closed: 1006") == "connection closed: 1006"
    shown = format_status(Status(state="reconnecting", detail="sent at 1.23456789"))[0]
    assert shown == "● reconnecting (sent at 1.2)"


def test_format_age() -> None:
    assert [format_age(s) for s in (0.04, 9.96, 12.4, 65.0, 3600.0)] == [
        "0.0s",
        "10.0s",
        "12s",
        "1m05s",
        "60m00s",
    ]


def test_freshness_levels() -> None:
    fresh = Freshness(interval=1.0, alarm=45.0)
    assert fresh.level(0.0) == "waiting"
    fresh.seen(10.0)
    assert fresh.level(11.9) == "fresh"
    assert fresh.level(12.0) == "stale"  # twice the normal interval
    assert fresh.level(55.0) == "silent"  # the client's watchdog
    assert Freshness(interval=0.1).warn == 2.0  # never a flicker on a fast stream


def test_fit_parts_keeps_the_leading_parts_that_fit() -> None:
    assert fit_parts(["abc", "de", "fgh"], 7) == "abc  de"
    assert fit_parts(["abc", "de", "fgh"], 6) == "abc"
    assert fit_parts(["abcdef"], 3) == "abc"


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
    assert depth_bar(0, 10, width=12) == ""
    assert depth_bar(5, 10, width=0) == ""
    assert depth_bar(D("2.5"), D("10"), width=4) == "█"


# ------------------------------------------------------------------------------ rendering


def ladder_rows(text: str, side: str) -> list[tuple[Decimal, int]]:
    rows = []
    for line in text.splitlines():
        match = re.search(rf"(\d+)\s+(\d+\.\d)\s+{side}\b", line)
        if match:
            rows.append((D(match.group(2)), int(match.group(1))))
    return rows


def test_ladder_shows_what_fits_each_side_around_the_spread() -> None:
    model = WatchModel("BTC_USDT")
    bids, asks = book(30)
    bids[3] = (D("63999.7"), bids[3][1])  # Gate writes "63999.7" and "64000": pad to one place
    bids[0] = (D("64000"), bids[0][1])
    model.set_book(bids, asks, ready=True)
    text = render_text(model, 80, 24)
    depth = (24 - 2 - 4) // 2  # ticker and status lines; borders, header and spread
    shown_asks = ladder_rows(text, "ask")
    shown_bids = ladder_rows(text, "bid")
    # asks read down towards the best ask; bids read down from the best bid
    assert shown_asks == list(reversed(asks[:depth]))
    assert shown_bids == bids[:depth]
    assert len(ladder_rows(render_text(model, 120, 40), "bid")) == (40 - 2 - 4) // 2
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
        model.add_trade(Trade(i, "BTC_USDT", D("64000") + i, size, 0, 1786540580000 + i), 0.0)
    text = render_text(model)
    rows = re.findall(r"13:16:20\.(\d{3})\s+(buy|sell)\s+(\d+)\s+(\d+)", text)
    shown = 40 - 2 - 3  # ticker and status lines; borders and header
    expected = [
        (f"{i:03d}", "buy" if i % 2 else "sell", str(64000 + i), str(10 + i))
        for i in reversed(range(TAPE_LENGTH + 5 - shown, TAPE_LENGTH + 5))
    ]
    assert rows == expected


def test_whole_screen_has_ticker_book_tape_and_status() -> None:
    model = WatchModel("BTC_USDT", ticker=Ticker("BTC_USDT", "64000.1"))
    model.set_book(*book(3), ready=True)
    model.add_trade(Trade(1, "BTC_USDT", D("64000.1"), 5, 0, 1786540580000), 0.0)
    model.status = Status(state="connected", messages_per_second=12.0)
    lines = render_text(model).splitlines()
    assert lines[0].startswith("BTC_USDT  last 64000.1")
    assert lines[-1].startswith("● connected")
    assert "12 msg/s" in lines[-1]
    assert any("trades" in line and "order book" in line for line in lines)


@pytest.mark.parametrize(("width", "height"), [(80, 24), (100, 30), (120, 40), (200, 60)])
def test_the_screen_fits_the_terminal_with_the_status_line_last(width: int, height: int) -> None:
    model = WatchModel("BTC_USDT", ticker=Ticker("BTC_USDT", "64000.1", volume_24h="393690687"))
    model.set_book(*book(50), ready=True)
    for i in range(TAPE_LENGTH):
        model.add_trade(Trade(i, "BTC_USDT", D("64000.1"), 5, 0, 1786540580000), 0.0)
    model.status = Status(state="connected", url="ws://127.0.0.1:1/v4/ws/usdt", simulated=True)
    lines = render_text(model, width, height).splitlines()
    assert len(lines) == height
    assert max(map(len, lines)) <= width
    assert lines[-1].startswith("● connected")
    assert lines[-2].startswith("╰")  # the panels end just above it: nothing cut off


def test_each_panel_says_how_old_its_data_is() -> None:
    model = WatchModel("BTC_USDT", ticker=Ticker("BTC_USDT", "64000.1"))
    model.ticker_seen.seen(0.0)
    model.book_seen.seen(9.8)
    model.trades_seen.seen(0.0)
    model.set_alarm(45.0)
    model.now = 10.0
    text = render_text(model)
    assert "order book BTC_USDT (syncing)  0.2s" in text
    assert "trades  10s stale" in text
    assert "[10s stale]" in text.splitlines()[0]  # the ticker line
    model.now = 50.0
    assert "trades  50s silent" in render_text(model)
    assert "no data yet" in render_text(WatchModel("BTC_USDT"))


def test_importing_gatetrio_does_not_load_rich() -> None:
    code = (
        "import sys, gatetrio, gatetrio._cli._main, gatetrio._cli._watch, gatetrio._cli._jsonl; "
        "print(sorted(m for m in sys.modules if m == 'rich' or m == 'gatetrio._cli._view'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


class _Stats:
    """What `_watch._update` reads of `Client.statistics()`."""

    def __init__(self, *, connected: bool) -> None:
        self.connected = connected
        self.messages_received = 10
        self.last_pong_rtt = 0.001
        self.last_latency_ms = 1.0
        self.reconnects = 0
        self.messages_dropped = 0


class _Client:
    def __init__(self, stats: _Stats) -> None:
        self._stats = stats

    def statistics(self) -> _Stats:
        return self._stats


@pytest.mark.parametrize(("closing", "state"), [(False, "reconnecting"), (True, "closing")])
def test_a_socket_closed_by_the_watch_ending_is_not_shown_as_a_reconnect(
    closing: bool, state: str
) -> None:
    from typing import cast

    from gatetrio._cli._watch import Holder, close_view, update_view
    from gatetrio._shell._client import Client

    model = WatchModel("BTC_USDT")
    stats = _Stats(connected=True)
    holder = Holder(client=cast("Client", _Client(stats)))
    update_view(model, holder, RateMeter(), 1.0)
    assert model.status.state == "connected"
    if closing:
        close_view(model, holder, "closing")
    stats.connected = False  # the client's socket closed: a real drop, or the watch ending
    update_view(model, holder, RateMeter(), 2.0)
    assert model.status.state == state
    assert model.status.reconnects == 0
