"""The terminal view of `python -m gatetrio watch`: a model of what is shown, and its rendering.

Pure: no trio, no clock reads (times are arguments), no I/O. `WatchModel` holds what the screen
shows and is fed by the watch command (`_watch.py`); `render_watch(model)` returns a rich
renderable. Only the watch command imports this module (lazily), so neither `import gatetrio`
nor the `stream` command loads rich.

    BTC_USDT  last 63994.5  +0.51%  mark 63994.8  index 63989.2  funding 0.0052%  ...
    ┌ order book ─────────────────┐ ┌ trades ─────────────────────────┐
    │  size   ask   (10, best last)│ │ time          side  price  size │
    │  ── spread 0.1 ──            │ │ ...                             │
    │  size   bid   (10, best first)│ │                                │
    └──────────────────────────────┘ └─────────────────────────────────┘
    ● connected  ws://...  1234 msg/s  rtt 0.4 ms  latency 1.2 ms  reconnects 0  drops 0
"""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import attrs
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gatetrio._core._errors import GateTrioError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from rich.console import RenderableType

    from gatetrio._core._book import Level
    from gatetrio._core._events import Ticker, Trade

LADDER_DEPTH: Final = 10
TAPE_LENGTH: Final = 20
BAR_WIDTH: Final = 12
RATE_WINDOW: Final = 2.0  # seconds of samples behind a msgs/s figure

# (shown from, divisor, suffix); 4-digit sizes stay exact, they are common on the tape
_MAGNITUDES: Final[tuple[tuple[int, int, str], ...]] = (
    (10**9, 10**9, "G"),
    (10**6, 10**6, "M"),
    (10**4, 10**3, "k"),
)


@attrs.define
class RateMeter:
    """Messages per second over the last `window` seconds, from a running total.

    Fed with `observe(total, now)`; `now` is any monotonic clock in seconds.
    """

    window: float = RATE_WINDOW
    _samples: collections.deque[tuple[float, int]] = attrs.field(
        factory=collections.deque, init=False
    )

    def observe(self, total: int, now: float) -> None:
        samples = self._samples
        samples.append((now, total))
        # keep one sample older than the window so the rate spans the whole window
        while len(samples) > 2 and samples[1][0] <= now - self.window:
            samples.popleft()

    @property
    def rate(self) -> float:
        samples = self._samples
        if len(samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = samples[0], samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


@attrs.define
class Status:
    """The status line: connection state and the client's counters."""

    state: str = "connecting"
    detail: str = ""
    url: str = ""
    simulated: bool = False
    messages_per_second: float = 0.0
    pong_rtt: float | None = None  # seconds
    latency_ms: float | None = None  # exchange push time -> local receipt
    reconnects: int = 0
    drops: int = 0
    book_resyncs: int = 0


@attrs.define
class WatchModel:
    """Everything the watch screen shows about one contract."""

    contract: str
    ticker: Ticker | None = None
    trades: collections.deque[Trade] = attrs.field(
        factory=lambda: collections.deque(maxlen=TAPE_LENGTH)
    )
    bids: Sequence[Level] = ()  # best first
    asks: Sequence[Level] = ()  # best first
    book_ready: bool = False
    status: Status = attrs.field(factory=Status)

    def add_trade(self, trade: Trade) -> None:
        self.trades.appendleft(trade)  # newest first, as a tape reads

    def set_book(self, bids: Sequence[Level], asks: Sequence[Level], *, ready: bool) -> None:
        self.bids = bids[:LADDER_DEPTH]
        self.asks = asks[:LADDER_DEPTH]
        self.book_ready = ready


# ------------------------------------------------------------------------------ formatting


def _field(ticker: Ticker, name: str) -> Decimal | None:
    # A Ticker converts a field when it is read and raises on a malformed value; one bad field
    # must not take the screen down.
    try:
        value: Decimal | None = getattr(ticker, name)
    except GateTrioError:
        return None
    return value


def format_percent(value: Decimal | None, *, scale: int = 1) -> str:
    """`+0.51%`; `scale=100` for fractions such as funding rates (0.000052 -> +0.0052%)."""
    if value is None:
        return "-"
    return f"{(value * scale).normalize():+f}%"


def format_ticker(ticker: Ticker | None, contract: str) -> str:
    """The ticker line, plain text."""
    if ticker is None:
        return f"{contract}  waiting for the first ticker..."
    parts = [contract]
    last = _field(ticker, "last")
    parts.append(f"last {last if last is not None else '-'}")
    parts.append(format_percent(_field(ticker, "change_percentage")))
    for label, name in (("mark", "mark_price"), ("index", "index_price")):
        value = _field(ticker, name)
        if value is not None:
            parts.append(f"{label} {value}")
    funding = _field(ticker, "funding_rate")
    if funding is not None:
        parts.append(f"funding {format_percent(funding, scale=100)}")
    high, low = _field(ticker, "high_24h"), _field(ticker, "low_24h")
    if high is not None and low is not None:
        parts.append(f"24h H {high} L {low}")
    volume = _field(ticker, "volume_24h")
    if volume is not None:
        parts.append(f"vol {format_quantity(volume)}")
    return "  ".join(parts)


def format_quantity(value: Decimal | int) -> str:
    """Compact big numbers: 393690687 -> 393.7M, 25000 -> 25.0k; smaller ones as they are."""
    magnitude = -value if value < 0 else value  # abs() of a union types as object in mypy
    for start, divisor, suffix in _MAGNITUDES:
        if magnitude >= start:
            return f"{Decimal(value) / divisor:.1f}{suffix}"
    return str(value)


def format_trade_time(ms: int) -> str:
    """`HH:MM:SS.mmm` UTC from a ms timestamp; `--:--:--.---` when Gate sent none."""
    if ms <= 0:
        return "--:--:--.---"
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return stamp.strftime("%H:%M:%S.") + f"{ms % 1000:03d}"


def format_status(status: Status) -> str:
    """The status line, plain text."""
    state = status.state + (f" ({status.detail})" if status.detail else "")
    parts = [f"● {state}"]
    if status.url:
        parts.append(status.url + ("  [simulated]" if status.simulated else ""))
    parts.append(f"{status.messages_per_second:,.0f} msg/s")
    rtt = status.pong_rtt
    parts.append("rtt -" if rtt is None else f"rtt {rtt * 1000:.1f} ms")
    lat = status.latency_ms
    if lat is None:
        parts.append("latency -")
    else:
        # the exchange's clock may run a little ahead of ours: -0.04 ms reads 0.0, not -0.0
        parts.append(f"latency {lat:.1f} ms".replace("latency -0.0 ", "latency 0.0 "))
    parts.append(f"reconnects {status.reconnects}")
    parts.append(f"drops {status.drops}")
    if status.book_resyncs:
        parts.append(f"book resyncs {status.book_resyncs}")
    return "  ".join(parts)


def price_places(prices: Iterable[Decimal]) -> int:
    """Decimal places of the most precise price: Gate writes "64000" and "64000.1"."""
    places = 0
    for price in prices:
        exponent = price.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            places = -exponent
    return places


def format_price(price: Decimal, places: int) -> str:
    """`price` with exactly `places` decimals, so a column of prices lines up on the point."""
    return f"{price:.{places}f}"


def depth_bar(size: Decimal | int, largest: Decimal | int, width: int = BAR_WIDTH) -> str:
    """A bar `width * size / largest` cells long (at least one cell for a non-empty level)."""
    if largest <= 0 or size <= 0:
        return ""
    cells = max(1, round(width * Decimal(size) / Decimal(largest)))
    return "█" * min(cells, width)


# ------------------------------------------------------------------------------- rendering


_STATE_STYLES: Final = {"connected": "green", "connecting": "yellow", "reconnecting": "yellow"}


def render_ladder(model: WatchModel) -> RenderableType:
    """The order book: asks above (best ask lowest), the spread, bids below (best bid first)."""
    table = Table.grid(padding=(0, 1))
    table.add_column("bar", justify="right", width=BAR_WIDTH)
    table.add_column("size", justify="right", min_width=8)
    table.add_column("price", justify="right", min_width=10)
    table.add_column("side", justify="left")
    sizes = [size for _, size in (*model.bids, *model.asks)]
    largest = max(sizes, default=0)
    places = price_places(price for price, _ in (*model.bids, *model.asks))
    table.add_row("", Text("size", style="dim"), Text("price", style="dim"), "")
    for price, size in reversed(model.asks):
        table.add_row(
            Text(depth_bar(size, largest), style="red"),
            str(size),
            Text(format_price(price, places), style="bold red"),
            Text("ask", style="red"),
        )
    if model.bids and model.asks:
        spread = model.asks[0][0] - model.bids[0][0]
        table.add_row("", "", Text(f"spread {spread}", style="dim"), "")
    elif not model.book_ready:
        table.add_row("", "", Text("syncing", style="yellow"), "")
    for price, size in model.bids:
        table.add_row(
            Text(depth_bar(size, largest), style="green"),
            str(size),
            Text(format_price(price, places), style="bold green"),
            Text("bid", style="green"),
        )
    title = f"order book {model.contract}" + ("" if model.book_ready else " (syncing)")
    return Panel(table, title=title, title_align="left", expand=False)


def render_tape(model: WatchModel) -> RenderableType:
    """The trades tape, newest first: time, side, price, size."""
    table = Table.grid(padding=(0, 1))
    table.add_column("time")
    table.add_column("side")
    table.add_column("price", justify="right", min_width=10)
    table.add_column("size", justify="right", min_width=6)
    table.add_row(*(Text(h, style="dim") for h in ("time (UTC)", "side", "price", "size")))
    places = price_places(trade.price for trade in model.trades)
    for trade in model.trades:
        buy = trade.size > 0
        style = "green" if buy else "red"
        table.add_row(
            format_trade_time(trade.create_time_ms),
            Text("buy" if buy else "sell", style=style),
            Text(format_price(trade.price, places), style=style),
            str(abs(trade.size)),
        )
    if not model.trades:
        table.add_row("waiting for trades...", "", "", "")
    return Panel(table, title="trades", title_align="left", expand=False)


def render_watch(model: WatchModel) -> RenderableType:
    """The whole screen: ticker line, ladder beside the tape, status line."""
    body = Table.grid(padding=(0, 1))
    body.add_row(render_ladder(model), render_tape(model))
    status = model.status
    status_style = _STATE_STYLES.get(status.state, "red")
    return Group(
        Text(format_ticker(model.ticker, model.contract), style="bold"),
        body,
        Text(format_status(status), style=status_style),
    )
