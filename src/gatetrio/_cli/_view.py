"""The terminal view of `python -m gatetrio watch`: a model of what is shown, and its rendering.

Pure: no trio, no clock reads (times are arguments), no I/O. `WatchModel` holds what the screen
shows and is fed by the watch command (`_watch.py`); `render_watch(model, width, height)` returns
a rich renderable exactly `height` lines tall and at most `width` wide, so the status line is
always on screen and the book shows as many levels as the terminal has rows for. Only the watch
command imports this module (lazily), so neither `import gatetrio` nor `stream` loads rich.

    BTC_USDT  last 63994.5  +0.51%  mark 63994.8  index 63989.2  funding +0.0052%  vol 24h ...
    ┌ order book BTC_USDT  0.1s ──┐ ┌ trades  1.2s ───────────────────┐
    │  size   ask   (best last)   │ │ time          side  price  size │
    │  ── spread 0.1 ──           │ │ ...                             │
    │  size   bid   (best first)  │ │                                 │
    └─────────────────────────────┘ └─────────────────────────────────┘
    ● connected  1234 msg/s  rtt 0.4 ms  latency 1.2 ms  reconnects 0  drops 0  ws://...

Every panel is marked with the age of its last message: dim while fresh, yellow past about
twice the stream's normal interval, red past the client's data-silence watchdog. Numbers keep
their width as they update: prices at the contract's tick precision (the most decimals seen so
far: Gate writes "64000" for 64000.0), percentages at fixed precision.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
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

BOOK_LEVELS: Final = 50  # levels kept per side; the screen shows what fits
TAPE_LENGTH: Final = 100  # trades kept; the screen shows what fits
MIN_BAR: Final = 3
MAX_BAR: Final = 40
RATE_WINDOW: Final = 2.0  # seconds of samples behind a msgs/s figure
SILENCE_ALARM: Final = 45.0  # seconds: the client's default data-silence watchdog

# Normal push intervals (seconds): a panel turns yellow past about twice this.
TICKER_INTERVAL: Final = 1.0
BOOK_INTERVAL: Final = 0.5
TRADES_INTERVAL: Final = 5.0  # trades come when someone trades: a quiet minute is not a fault
MIN_WARN: Final = 2.0

# (shown from, divisor, suffix); 4-digit sizes stay exact, they are common on the tape
_MAGNITUDES: Final[tuple[tuple[int, int, str], ...]] = (
    (10**9, 10**9, "G"),
    (10**6, 10**6, "M"),
    (10**4, 10**3, "k"),
)
_LONG_FLOAT: Final = re.compile(r"\d+\.\d{4,}")


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
class Freshness:
    """When a stream last delivered, and how old is too old for it (seconds, any clock)."""

    interval: float  # the stream's normal push interval
    alarm: float = SILENCE_ALARM  # past this the client's watchdog resubscribes
    last: float | None = None  # time of the last message; None: none yet

    @property
    def warn(self) -> float:
        return max(MIN_WARN, 2 * self.interval)

    def seen(self, now: float) -> None:
        self.last = now

    def age(self, now: float) -> float | None:
        return None if self.last is None else max(0.0, now - self.last)

    def level(self, now: float) -> str:
        """ "waiting" (nothing yet), "fresh", "stale" (past `warn`) or "silent" (past `alarm`)."""
        age = self.age(now)
        if age is None:
            return "waiting"
        if age >= self.alarm:
            return "silent"
        return "stale" if age >= self.warn else "fresh"


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
    data: Freshness = attrs.field(factory=lambda: Freshness(BOOK_INTERVAL))  # any message


@attrs.define
class WatchModel:
    """Everything the watch screen shows about one contract; `now` is the frame's time."""

    contract: str
    ticker: Ticker | None = None
    trades: collections.deque[Trade] = attrs.field(
        factory=lambda: collections.deque(maxlen=TAPE_LENGTH)
    )
    bids: Sequence[Level] = ()  # best first
    asks: Sequence[Level] = ()  # best first
    book_ready: bool = False
    status: Status = attrs.field(factory=Status)
    now: float = 0.0
    ticker_seen: Freshness = attrs.field(factory=lambda: Freshness(TICKER_INTERVAL))
    trades_seen: Freshness = attrs.field(factory=lambda: Freshness(TRADES_INTERVAL))
    book_seen: Freshness = attrs.field(factory=lambda: Freshness(BOOK_INTERVAL))
    price_places: int = 0  # the most decimals seen in a price: the tick's precision

    def set_alarm(self, seconds: float) -> None:
        """Use the client's data-silence watchdog as the red threshold of every panel."""
        for fresh in (self.ticker_seen, self.trades_seen, self.book_seen, self.status.data):
            fresh.alarm = seconds

    def set_ticker(self, ticker: Ticker, now: float) -> None:
        self.ticker = ticker
        self.ticker_seen.seen(now)
        last = _field(ticker, "last")
        if last is not None:
            self._learn_places((last,))

    def add_trade(self, trade: Trade, now: float) -> None:
        self.trades.appendleft(trade)  # newest first, as a tape reads
        self.trades_seen.seen(now)
        self._learn_places((trade.price,))

    def set_book(self, bids: Sequence[Level], asks: Sequence[Level], *, ready: bool) -> None:
        self.bids = bids[:BOOK_LEVELS]
        self.asks = asks[:BOOK_LEVELS]
        self.book_ready = ready
        self._learn_places(price for price, _ in (*self.bids[:5], *self.asks[:5]))

    def _learn_places(self, prices: Iterable[Decimal]) -> None:
        self.price_places = max(self.price_places, price_places(prices))


# ------------------------------------------------------------------------------ formatting


def _field(ticker: Ticker, name: str) -> Decimal | None:
    # A Ticker converts a field when it is read and raises on a malformed value; one bad field
    # must not take the screen down.
    try:
        value: Decimal | None = getattr(ticker, name)
    except GateTrioError:
        return None
    return value


def format_percent(value: Decimal | None, *, scale: int = 1, places: int = 2) -> str:
    """`+0.51%` at fixed precision; `scale=100` for fractions such as funding rates."""
    if value is None:
        return "-"
    return f"{value * scale:+.{places}f}%"


def quote_currency(contract: str) -> str:
    """`USDT` for BTC_USDT: the unit of Gate's `volume_24h_quote`."""
    return contract.rpartition("_")[2] or contract


def format_ticker(ticker: Ticker | None, contract: str, places: int = 0) -> list[str]:
    """The ticker line as parts, most important first (the renderer keeps what fits)."""
    if ticker is None:
        return [contract, "waiting for the first ticker..."]
    parts = [contract]
    last = _field(ticker, "last")
    parts.append(f"last {'-' if last is None else format_price(last, places)}")
    parts.append(format_percent(_field(ticker, "change_percentage")))
    for label, name in (("mark", "mark_price"), ("index", "index_price")):
        value = _field(ticker, name)
        if value is not None:
            parts.append(f"{label} {format_price(value, places)}")
    funding = _field(ticker, "funding_rate")
    if funding is not None:
        parts.append(f"funding {format_percent(funding, scale=100, places=4)}")
    quote = _field(ticker, "volume_24h_quote")
    if quote is not None:
        parts.append(f"vol 24h {format_quantity(quote)} {quote_currency(contract)}")
    else:
        contracts = _field(ticker, "volume_24h")
        if contracts is not None:
            parts.append(f"vol 24h {format_quantity(contracts)} contracts")
    high, low = _field(ticker, "high_24h"), _field(ticker, "low_24h")
    if high is not None and low is not None:
        parts.append(f"24h H {format_price(high, places)} L {format_price(low, places)}")
    return parts


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


def format_age(seconds: float) -> str:
    """`0.4s`, `12s`, `3m05s`: the age of a panel's last message, at a readable precision."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def human_reason(reason: str) -> str:
    """A reconnect reason for people: raw clock readings (`114540.25545612117`) rounded."""
    return _LONG_FLOAT.sub(lambda m: f"{float(m.group()):.1f}", reason)


def format_status(status: Status, now: float = 0.0) -> list[str]:
    """The status line as parts, most important first (the renderer keeps what fits)."""
    state = status.state
    age = status.data.age(now)
    if state == "connected" and status.data.level(now) in ("stale", "silent") and age is not None:
        state = f"connected, no data for {format_age(age)}"
    elif status.detail:
        state += f" ({human_reason(status.detail)})"
    parts = [f"● {state}", f"{status.messages_per_second:,.0f} msg/s"]
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
    if status.url:
        parts.append(status.url + ("  [simulated]" if status.simulated else ""))
    return parts


def fit_parts(parts: Sequence[str], width: int) -> str:
    """Join `parts` with two spaces, keeping the leading ones that fit in `width`."""
    line = ""
    for part in parts:
        candidate = f"{line}  {part}" if line else part
        if len(candidate) > width:
            break
        line = candidate
    return line or parts[0][:width]


def price_places(prices: Iterable[Decimal]) -> int:
    """Decimal places of the most precise price: Gate writes "64000" and "64000.1"."""
    places = 0
    for price in prices:
        exponent = price.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            places = -exponent
    return places


def format_price(price: Decimal, places: int) -> str:
    """`price` with `places` decimals, so a column of prices lines up on the point; more if
    the price itself has more (precision is never dropped to keep a width)."""
    return f"{price:.{max(places, price_places((price,)))}f}"


def depth_bar(size: Decimal | int, largest: Decimal | int, width: int) -> str:
    """A bar `width * size / largest` cells long (at least one cell for a non-empty level)."""
    if largest <= 0 or size <= 0 or width <= 0:
        return ""
    cells = max(1, round(width * Decimal(size) / Decimal(largest)))
    return "█" * min(cells, width)


# ------------------------------------------------------------------------------- rendering


_STATE_STYLES: Final = {"connected": "green", "connecting": "yellow", "reconnecting": "yellow"}
_FRESH_STYLES: Final = {"waiting": "yellow", "fresh": "dim", "stale": "yellow", "silent": "red"}
SIZE_WIDTH: Final = 7
TIME_WIDTH: Final = 12
PANEL_CHROME: Final = 4  # a panel's borders and padding, in columns


def _marker(fresh: Freshness, now: float) -> Text:
    """A panel's staleness marker: the age of its last message, coloured by how old."""
    level = fresh.level(now)
    age = fresh.age(now)
    if age is None:
        text = "no data yet"
    elif level == "fresh":
        text = format_age(age)
    else:
        text = f"{format_age(age)} {'stale' if level == 'stale' else 'silent'}"
    return Text(text, style=_FRESH_STYLES[level])


def _title(name: str, fresh: Freshness, now: float) -> Text:
    return Text.assemble((name, "bold"), "  ", _marker(fresh, now))


def _price_width(model: WatchModel) -> int:
    prices = [p for p, _ in (*model.bids[:3], *model.asks[:3])]
    prices += [t.price for t in list(model.trades)[:3]]
    texts = [format_price(p, model.price_places) for p in prices]
    return max([10, *map(len, texts)])


def _row(cells: Sequence[tuple[str, int, str]]) -> Text:
    """One fixed-width line: (text, width, style) cells, right-aligned, one space apart."""
    line = Text(no_wrap=True, overflow="crop")
    for i, (text, width, style) in enumerate(cells):
        if i:
            line.append(" ")
        line.append(text.rjust(width)[-width:] if width else text, style=style)
    return line


def render_ladder(model: WatchModel, *, rows: int, bar: int, price_width: int) -> Panel:
    """The order book in `rows` lines: asks above (best ask lowest), spread, bids below."""
    depth = max(1, (rows - 4) // 2)  # borders, header and spread line take four
    asks, bids = list(model.asks[:depth]), list(model.bids[:depth])
    largest = max((size for _, size in (*asks, *bids)), default=0)
    places = model.price_places
    lines = [_row([("", bar, ""), ("size", SIZE_WIDTH, "dim"), ("price", price_width, "dim")])]
    lines += [Text("")] * (depth - len(asks))  # keep the spread line in place
    for price, size in reversed(asks):
        lines.append(
            _row(
                [
                    (depth_bar(size, largest, bar), bar, "red"),
                    (format_quantity(size), SIZE_WIDTH, ""),
                    (format_price(price, places), price_width, "bold red"),
                    ("ask", 3, "red"),
                ]
            )
        )
    if bids and asks:
        spread = format_price(asks[0][0] - bids[0][0], places)
        lines.append(_row([("", bar + SIZE_WIDTH + 1, ""), (f"spread {spread}", 0, "dim")]))
    else:
        lines.append(_row([("", bar + SIZE_WIDTH + 1, ""), ("syncing", 0, "yellow")]))
    for price, size in bids:
        lines.append(
            _row(
                [
                    (depth_bar(size, largest, bar), bar, "green"),
                    (format_quantity(size), SIZE_WIDTH, ""),
                    (format_price(price, places), price_width, "bold green"),
                    ("bid", 3, "green"),
                ]
            )
        )
    name = f"order book {model.contract}" + ("" if model.book_ready else " (syncing)")
    return Panel(
        Group(*lines),
        title=_title(name, model.book_seen, model.now),
        title_align="left",
        width=bar + SIZE_WIDTH + price_width + 3 + 3 + PANEL_CHROME,
        height=rows,
    )


def render_tape(model: WatchModel, *, rows: int, width: int, price_width: int) -> Panel:
    """The trades tape, newest first, in `rows` lines: time, side, price, size."""
    size_width = max(SIZE_WIDTH, width - PANEL_CHROME - TIME_WIDTH - 4 - price_width - 3)
    lines = [
        _row(
            [
                ("time (UTC)", TIME_WIDTH, "dim"),
                ("side", 4, "dim"),
                ("price", price_width, "dim"),
                ("size", size_width, "dim"),
            ]
        )
    ]
    places = model.price_places
    for trade in list(model.trades)[: max(0, rows - 3)]:
        buy = trade.size > 0
        style = "green" if buy else "red"
        lines.append(
            _row(
                [
                    (format_trade_time(trade.create_time_ms), TIME_WIDTH, ""),
                    ("buy" if buy else "sell", 4, style),
                    (format_price(trade.price, places), price_width, style),
                    (
                        format_quantity(-trade.size if trade.size < 0 else trade.size),
                        size_width,
                        "",
                    ),
                ]
            )
        )
    if not model.trades:
        lines.append(Text("waiting for trades...", style="yellow"))
    return Panel(
        Group(*lines),
        title=_title("trades", model.trades_seen, model.now),
        title_align="left",
        width=width,
        height=rows,
    )


def render_watch(model: WatchModel, width: int = 80, height: int = 24) -> RenderableType:
    """The whole screen in `height` lines of at most `width` columns.

    Ticker line, ladder beside the tape, status line; the status line is always the last one.
    """
    width, height = max(width, 40), max(height, 8)
    now = model.now
    price_width = _price_width(model)
    tape_width = PANEL_CHROME + TIME_WIDTH + 4 + price_width + SIZE_WIDTH + 3
    # the ladder takes the width left over, up to a readable bar length
    fixed = SIZE_WIDTH + price_width + 3 + 3 + PANEL_CHROME + 1
    bar = max(MIN_BAR, min(MAX_BAR, width - tape_width - fixed))
    ladder_width = bar + fixed - 1
    tape_width = max(tape_width, width - ladder_width - 1)
    rows = height - 2
    body = Table.grid(padding=(0, 1, 0, 0))
    body.add_row(
        render_ladder(model, rows=rows, bar=bar, price_width=price_width),
        render_tape(model, rows=rows, width=tape_width, price_width=price_width),
    )
    status = model.status
    style = _STATE_STYLES.get(status.state, "red")
    level = status.data.level(now)
    if status.state == "connected" and level in ("stale", "silent"):
        style = _FRESH_STYLES[level]
    ticker = format_ticker(model.ticker, model.contract, model.price_places)
    ticker_style = "bold"
    if model.ticker is not None and model.ticker_seen.level(now) in ("stale", "silent"):
        ticker.insert(1, f"[{_marker(model.ticker_seen, now).plain}]")
        ticker_style = "bold yellow"
    return Group(
        Text(fit_parts(ticker, width), style=ticker_style, no_wrap=True, overflow="crop"),
        body,
        Text(fit_parts(format_status(status, now), width), style=style, no_wrap=True),
    )
