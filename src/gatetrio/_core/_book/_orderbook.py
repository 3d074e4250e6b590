"""`OrderBook`: one contract's local book, pure; the syncs (`_sync.py`, `_obu.py`) drive it.

Rule 1: no I/O, no trio, no clock reads. Times (`t`, Gate's book time in ms) are arguments.
Rule 2: every method is sync. Sequencing faults come out as `BookGap`, and malformed levels as
`ProtocolError`; anything else escaping from here is a bug.

Sequencing (spec 6.5 and 6.6). Gate numbers book changes with one update-id counter per contract.
A delta carries `U..u`, the first and last id it covers, and follows on from the local book iff
`U == update_id + 1`. Sizes are absolute: size 0 deletes a level. An empty or id-only delta still
advances the id. A `full` delta (and the first obu push) replaces the book and sets the id to `u`.

Representation. Each side is a dict `Decimal price -> size` plus an ascending list of its prices,
kept sorted with `bisect`. An update is O(log n) plus a short memmove, and best/top-N reads walk
the list instead of sorting. Bids are stored ascending too, so the best bid is the last item and
no prices get negated. Price texts go through a small text->Decimal cache: live books reuse a few
hundred prices over and over, and a hit saves both `Decimal(text)` and, dearer, hashing a new
Decimal for the side dict; apply runs 2.6x faster with it (benchmarks/README.md, "Order book").
"""

from __future__ import annotations

import typing
from bisect import bisect_left, insort
from decimal import Decimal
from typing import TYPE_CHECKING, Final, TypeAlias

from gatetrio._core._errors import BookGap, ProtocolError, UsageError
from gatetrio._core._events import Size

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gatetrio._core._events import BookDelta, BookLevel, ObuDelta

Level: TypeAlias = tuple[Decimal, Size]
"""One price level as the book reports it: `(price, size)`."""

# Above the distinct prices a book meets in practice (under 200 per contract in the 2023 capture,
# 929 over the benchmark's 4000-delta random walk), small enough that clearing it costs nothing.
_PRICE_CACHE_LIMIT: Final = 4096

# Malformed level texts surface from decimal/int handling as these (InvalidOperation is an
# ArithmeticError; a non-string price is a TypeError).
_LEVEL_ERRORS: Final = (ArithmeticError, ValueError, TypeError)
_ZERO: Final = Decimal(0)


@typing.final
class OrderBook:
    """One contract's local order book, kept exact (Decimal prices, int or Decimal sizes).

    Created empty and not ready (`update_id is None`). Load a snapshot first, then apply deltas:

        book = OrderBook("BTC_USDT")
        book.load_snapshot(snap_id, snap_bids, snap_asks, t=snap_t)
        book.apply(delta)                       # a BookDelta or ObuDelta; raises BookGap on a gap
        book.best_bid(), book.asks(10), book.is_crossed()

    Invariants, whatever is applied:
    - a method that raises `BookGap` (or rejects `u < U`) leaves the book unchanged;
    - no level has size 0 (and no size is negative);
    - `update_id is None` (new, `clear()`ed, or invalidated by a malformed delta, see
      `apply_delta`) implies the book holds no level.

    The book does not reject a crossed state (Gate's own book can cross for a moment, and a REST
    limit smaller than the stream's level leaves stale far levels); `is_crossed()` reports it.
    """

    __slots__ = (
        "_ask_prices",
        "_asks",
        "_bid_prices",
        "_bids",
        "_price_cache",
        "_t",
        "_update_id",
        "contract",
    )

    def __init__(self, contract: str) -> None:
        self.contract: Final = contract
        self._update_id: int | None = None
        self._t = 0
        self._bids: dict[Decimal, Size] = {}
        self._asks: dict[Decimal, Size] = {}
        self._bid_prices: list[Decimal] = []  # ascending: the best bid is the last item
        self._ask_prices: list[Decimal] = []  # ascending: the best ask is the first item
        self._price_cache: dict[str, Decimal] = {}

    def __repr__(self) -> str:
        return (
            f"<OrderBook {self.contract} update_id={self._update_id} t={self._t} "
            f"bids={len(self._bids)} asks={len(self._asks)} "
            f"best_bid={self.best_bid()} best_ask={self.best_ask()}>"
        )

    # ------------------------------------------------------------------------------- state

    @property
    def update_id(self) -> int | None:
        """The id of the last update applied, or None before the first snapshot."""
        return self._update_id

    @property
    def t(self) -> int:
        """Gate's book time (ms) of the last snapshot or delta applied; 0 when not given."""
        return self._t

    @property
    def ready(self) -> bool:
        """True once a snapshot is loaded: deltas can be applied and queries mean something."""
        return self._update_id is not None

    def clear(self) -> None:
        """Forget everything: back to not ready, waiting for a snapshot."""
        self._update_id = None
        self._t = 0
        self._bids = {}
        self._asks = {}
        self._bid_prices = []
        self._ask_prices = []

    # ----------------------------------------------------------------------------- updates

    def load_snapshot(
        self,
        update_id: int,
        bids: Iterable[BookLevel],
        asks: Iterable[BookLevel],
        *,
        t: int = 0,
    ) -> None:
        """Replace the whole book with a snapshot whose last update id is `update_id`.

        Used for REST snapshots (`id`), `futures.order_book` `all` pushes (`id`) and full
        obu / order_book_update pushes (`u`). Zero-size levels are skipped; a price listed twice
        keeps its last size.

        Raises:
            ProtocolError: a level is malformed (bad price text, negative or non-finite size).
                The book is left unchanged.
        """
        new_bids = self._build_side(bids)
        new_asks = self._build_side(asks)
        self._bids = new_bids
        self._asks = new_asks
        self._bid_prices = sorted(new_bids)
        self._ask_prices = sorted(new_asks)
        self._update_id = update_id
        self._t = t

    def apply_delta(
        self,
        first_id: int,
        last_id: int,
        bids: Iterable[BookLevel],
        asks: Iterable[BookLevel],
        *,
        t: int = 0,
        full: bool = False,
    ) -> None:
        """Apply the changes for update ids `first_id..last_id` (Gate's `U..u`).

        With `full=True` this is `load_snapshot(last_id, bids, asks, t=t)` and no sequence check
        is made. Otherwise the delta must follow on: `first_id == update_id + 1`. Sizes are
        absolute, 0 deletes the level, and the id and `t` advance even when no level changes.

        Raises:
            BookGap: `first_id` is not `update_id + 1`, or no snapshot is loaded yet
                (`expected=None`). The book is unchanged: fetch a snapshot (order_book_update)
                or resubscribe (obu).
            ProtocolError: `last_id < first_id` (book unchanged), or a level is malformed. A bad
                level is found only once the levels before it are applied, so the book is then
                cleared (not ready) rather than left half-updated.
        """
        if full:
            self.load_snapshot(last_id, bids, asks, t=t)
            return
        update_id = self._update_id
        if update_id is None:
            raise BookGap(self.contract, expected=None, got=first_id)
        if last_id < first_id:
            raise ProtocolError(
                f"order book delta on {self.contract} ends before it starts: U={first_id} "
                f"u={last_id}"
            )
        if first_id != update_id + 1:
            raise BookGap(self.contract, expected=update_id + 1, got=first_id)
        try:
            self._update_side(self._bids, self._bid_prices, bids)
            self._update_side(self._asks, self._ask_prices, asks)
        except _LEVEL_ERRORS as exc:
            self.clear()
            raise ProtocolError(f"malformed level in {self.contract} delta: {exc!r}") from exc
        except ProtocolError:
            self.clear()
            raise
        self._update_id = last_id
        self._t = t

    def apply(self, delta: BookDelta | ObuDelta) -> None:
        """Apply a decoded `futures.order_book_update` or `futures.obu` result.

        The rules and errors are those of `apply_delta`. The delta's contract is not compared
        with the book's: routing deltas to books is the caller's job.
        """
        self.apply_delta(delta.U, delta.u, delta.b, delta.a, t=delta.t, full=delta.full)

    def _parse_price(self, text: str) -> Decimal:
        # The price cache's miss path.
        price = Decimal(text)
        # NaN/Infinity would parse, then poison bisect's comparisons; a price is never <= 0.
        if not price.is_finite() or price <= _ZERO:
            raise ProtocolError(f"bad price {text!r} in {self.contract} book")
        if len(self._price_cache) >= _PRICE_CACHE_LIMIT:
            self._price_cache.clear()
        self._price_cache[text] = price
        return price

    def _build_side(self, levels: Iterable[BookLevel]) -> dict[Decimal, Size]:
        side: dict[Decimal, Size] = {}
        cache = self._price_cache
        try:
            for level in levels:
                raw = level.s
                size = raw if type(raw) is int else _decimal_size(raw)
                if size > 0:
                    price = cache.get(level.p)
                    if price is None:
                        price = self._parse_price(level.p)
                    side[price] = size
                elif size:
                    raise ProtocolError(f"negative size {raw!r} in {self.contract} book")
        except _LEVEL_ERRORS as exc:
            raise ProtocolError(f"malformed level in {self.contract} snapshot: {exc!r}") from exc
        return side

    def _update_side(
        self, side: dict[Decimal, Size], prices: list[Decimal], levels: Iterable[BookLevel]
    ) -> None:
        # The hot loop: a cache hit, a dict lookup and store, and a bisect only when a level
        # appears or disappears (most updates resize an existing level). Decimal's hash is
        # computed once per cached object, which is most of what the cache saves.
        # String sizes (obu under X-Gate-Size-Decimal) are converted inline: "0" (a delete, about
        # a fifth of all levels) needs no Decimal, and the call to a helper cost a tenth of apply.
        cache = self._price_cache
        for level in levels:
            price = cache.get(level.p)
            if price is None:
                price = self._parse_price(level.p)
            raw = level.s
            if type(raw) is int:
                size: Size = raw
            elif raw == "0":
                size = 0
            else:
                size = Decimal(raw)
                if not size.is_finite():
                    raise ProtocolError(f"bad size {raw!r} in order book level")
            if size > 0:
                if price not in side:
                    insort(prices, price)
                side[price] = size
            elif size:
                raise ProtocolError(f"negative size {raw!r} in {self.contract} delta")
            elif side.pop(price, None) is not None:
                del prices[bisect_left(prices, price)]

    # ----------------------------------------------------------------------------- queries

    def best_bid(self) -> Level | None:
        """The highest bid `(price, size)`, or None when there are no bids."""
        prices = self._bid_prices
        if prices:
            price = prices[-1]
            return price, self._bids[price]
        return None

    def best_ask(self) -> Level | None:
        """The lowest ask `(price, size)`, or None when there are no asks."""
        prices = self._ask_prices
        if prices:
            price = prices[0]
            return price, self._asks[price]
        return None

    def bids(self, n: int | None = None) -> list[Level]:
        """The best `n` bids (all when `n` is None), highest price first. O(n)."""
        if n is None:
            top = self._bid_prices[::-1]
        elif n >= 0:
            top = self._bid_prices[: -n - 1 : -1]
        else:
            raise UsageError(f"bids(n) needs n >= 0 or None, got {n}")
        side = self._bids
        return [(price, side[price]) for price in top]

    def asks(self, n: int | None = None) -> list[Level]:
        """The best `n` asks (all when `n` is None), lowest price first. O(n)."""
        if n is None:
            top = self._ask_prices[:]
        elif n >= 0:
            top = self._ask_prices[:n]
        else:
            raise UsageError(f"asks(n) needs n >= 0 or None, got {n}")
        side = self._asks
        return [(price, side[price]) for price in top]

    def bid_size(self, price: Decimal) -> Size:
        """The bid size at `price`, 0 when there is no such level."""
        return self._bids.get(price, 0)

    def ask_size(self, price: Decimal) -> Size:
        """The ask size at `price`, 0 when there is no such level."""
        return self._asks.get(price, 0)

    @property
    def bid_count(self) -> int:
        """Number of bid levels."""
        return len(self._bid_prices)

    @property
    def ask_count(self) -> int:
        """Number of ask levels."""
        return len(self._ask_prices)

    def __len__(self) -> int:
        """Number of levels on both sides."""
        return len(self._bid_prices) + len(self._ask_prices)

    def is_crossed(self) -> bool:
        """True when both sides exist and the best bid is at or above the best ask."""
        bids, asks = self._bid_prices, self._ask_prices
        return bool(bids) and bool(asks) and bids[-1] >= asks[0]

    def spread(self) -> Decimal | None:
        """Best ask minus best bid (negative when crossed), or None when a side is empty."""
        bids, asks = self._bid_prices, self._ask_prices
        if bids and asks:
            return asks[0] - bids[-1]
        return None

    def mid(self) -> Decimal | None:
        """The midpoint of best bid and best ask, or None when a side is empty."""
        bids, asks = self._bid_prices, self._ask_prices
        if bids and asks:
            return (asks[0] + bids[-1]) / 2
        return None


def _decimal_size(raw: int | str) -> Decimal:
    # Sizes are strings under X-Gate-Size-Decimal (spec 10); reject NaN/Infinity like prices.
    size = Decimal(raw)
    if not size.is_finite():
        raise ProtocolError(f"bad size {raw!r} in order book level")
    return size
