"""The fake's order book of one contract: levels, update ids, and the op history behind them.

Order books. Each contract keeps one book as `tick index -> size units` dicts (prices are
`index * tick`, sizes `units * size_step`, so nothing but the renderer touches Decimal) plus a
best-first sorted key list per side. Every book change is an *op* with the next update id; one
counter per contract feeds book_ticker `u`, order_book_update `U/u`, order_book `id`, obu and the
REST snapshot. Ops are kept (bounded) with the old and new size of each level, so `book_at(id)`
rebuilds any recent book by undoing ops from the current one.

Depth-limited deltas. A level-L stream must let a client that holds the top L levels at *any* id
between two pushes reach the exact top L at the second push. Sending only changed levels is not
enough: a level that never changed can leave and re-enter the top L when better levels come and
go. So each change also records its rank r, which makes it matter for every L > r, and, for an
insert or delete above rank L, the level it moved across the top-L boundary, which matters for
that L alone. A level-L delta (`_pushes.book_push`) is then every level so marked since the
last push, with its current top-L size (0 when it is no longer in the top L).
"""

from __future__ import annotations

import typing
from bisect import bisect_left, bisect_right
from decimal import Decimal
from typing import TYPE_CHECKING, Final, TypeAlias, TypeVar

import attrs

from gatetrio._core._events import BookLevel

from ._numbers import units_int, units_text

if TYPE_CHECKING:
    from collections.abc import Iterable

BOOK_DEPTHS: Final = (20, 50, 100, 400)
"""The level limits a depth-limited stream can have (order_book_update 20/50/100, obu 50/400)."""

BID: Final = 0
ASK: Final = 1
NO_LIMIT: Final = 1 << 30  # "every level"

Level: TypeAlias = tuple[Decimal, Decimal]
_LevelT = TypeVar("_LevelT", bound=BookLevel)


@typing.final
@attrs.frozen
class BookState:
    """The fake's own book of one contract at `update_id`: levels best first, as Decimals.

    Compare with a client's book like this (sizes compare equal whether int or Decimal)::

        state = server.book_at("BTC_USDT", client_book.update_id, depth=100)
        assert client_book.bids(100) == list(state.bids)
    """

    contract: str
    update_id: int
    t: int  # ms: wall time of the op that made `update_id`
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    def top(self, depth: int) -> BookState:
        """The same book cut to its best `depth` levels per side."""
        return attrs.evolve(self, bids=self.bids[:depth], asks=self.asks[:depth])

    def bid_dict(self) -> dict[Decimal, Decimal]:
        return dict(self.bids)

    def ask_dict(self) -> dict[Decimal, Decimal]:
        return dict(self.asks)


_Change: TypeAlias = tuple[int, int, int, int, int, tuple[int, ...]]
"""One level change: side, tick, old units, new units, its rank (0 = best; before a delete,
after an insert) and, for an insert or delete, the tick that crossed the top-L boundary for
each L of BOOK_DEPTHS (0: none). See the module docstring."""

_NO_CROSSING: Final = (0,) * len(BOOK_DEPTHS)


class Op:
    """One book change with one update id: the level changes it made (`_Change`)."""

    __slots__ = ("changes", "hidden", "id", "t_ms")

    def __init__(self, op_id: int, t_ms: int, *, hidden: bool = False) -> None:
        self.id = op_id
        self.t_ms = t_ms
        self.hidden = hidden  # an injected gap: no stream carries it
        self.changes: list[_Change] = []


class Book:
    """One contract's book: both sides, the update id counter and the kept op history."""

    def __init__(
        self, name: str, *, price_exp: int, size_exp: int, first_id: int, history: int
    ) -> None:
        self.name = name
        self.history = history
        self.price_exp = price_exp
        self.size_exp = size_exp
        self.books: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # best first: bids hold negated ticks so both lists ascend
        self.keys: tuple[list[int], list[int]] = ([], [])
        self.update_id = first_id
        self.first_id = first_id  # book_at reaches back no further than this
        self.update_t_ms = 0
        self.first_t_ms = 0
        self.ops: list[Op] = []
        self._price_texts: dict[int, str] = {}

    # ---- rendering

    def price_text(self, tick: int) -> str:
        text = self._price_texts.get(tick)
        if text is None:
            if len(self._price_texts) > 50_000:
                self._price_texts.clear()
            text = self._price_texts[tick] = units_text(tick, self.price_exp)
        return text

    def price(self, tick: int) -> Decimal:
        return Decimal(self.price_text(tick))

    def size_value(self, units: int, size_decimal: bool) -> int | Decimal:
        if size_decimal:
            return Decimal(units_text(units, self.size_exp))
        return units_int(units, self.size_exp)

    def size_wire(self, units: int, *, size_decimal: bool) -> int | str:
        if size_decimal:
            return units_text(units, self.size_exp)
        return units_int(units, self.size_exp)

    def levels(
        self, cls: type[_LevelT], levels: Iterable[tuple[int, int]], *, size_decimal: bool
    ) -> tuple[_LevelT, ...]:
        """`(tick, units)` levels as wire records: `cls` is BookLevel, or ObuLevel for obu."""
        price, size = self.price_text, self.size_wire
        return tuple(cls(price(t), size(u, size_decimal=size_decimal)) for t, u in levels)

    # ---- book

    def best(self, side: int) -> int | None:
        keys = self.keys[side]
        if not keys:
            return None
        return -keys[0] if side == BID else keys[0]

    def new_op(self, t_ms: int, *, hidden: bool = False) -> Op:
        self.update_id += 1
        op = Op(self.update_id, t_ms, hidden=hidden)
        self.ops.append(op)
        self.update_t_ms = t_ms
        if len(self.ops) > self.history + self.history // 4:  # trim in batches
            cut = len(self.ops) - self.history
            self.first_t_ms = self.ops[cut - 1].t_ms
            del self.ops[:cut]
            self.first_id = self.ops[0].id - 1
        return op

    def set_level(self, op: Op, side: int, tick: int, units: int) -> None:
        book = self.books[side]
        keys = self.keys[side]
        old = book.get(tick, 0)
        if old == units:
            return
        key = -tick if side == BID else tick
        i = bisect_left(keys, key)
        crossed: tuple[int, ...] = ()
        if old == 0:
            keys.insert(i, key)
            book[tick] = units
            # the level that was at rank L-1 is pushed to rank L: out of every top L above it
            crossed = self._crossed(keys, i)
        elif units == 0:
            # the level at rank L moves up into the top L
            crossed = self._crossed(keys, i)
            del keys[i]
            del book[tick]
        else:
            book[tick] = units
        op.changes.append((side, tick, old, units, i, crossed))

    @staticmethod
    def _crossed(keys: list[int], i: int) -> tuple[int, ...]:
        n = len(keys)
        if i >= BOOK_DEPTHS[-1] or n <= BOOK_DEPTHS[0]:
            return _NO_CROSSING
        return tuple(abs(keys[d]) if i < d < n else 0 for d in BOOK_DEPTHS)

    def rank(self, side: int, tick: int) -> int:
        """Rank of a level that exists (0 = best)."""
        return bisect_left(self.keys[side], -tick if side == BID else tick)

    def top(self, side: int, depth: int) -> list[tuple[int, int]]:
        book = self.books[side]
        sign = -1 if side == BID else 1
        return [(sign * k, book[sign * k]) for k in self.keys[side][:depth]]

    def _index_after(self, update_id: int) -> int:
        return bisect_right(self.ops, update_id, key=lambda op: op.id)

    def ops_after(self, update_id: int) -> list[Op]:
        return self.ops[self._index_after(update_id) :]

    def state_at(self, update_id: int) -> tuple[dict[int, int], dict[int, int], int]:
        """Copies of both sides as they were right after op `update_id`, and that op's time."""
        if not self.first_id <= update_id <= self.update_id:
            raise KeyError(update_id)
        bids = dict(self.books[BID])
        asks = dict(self.books[ASK])
        sides = (bids, asks)
        i = self._index_after(update_id)
        for op in reversed(self.ops[i:]):
            for side, tick, old, *_ in reversed(op.changes):
                if old:
                    sides[side][tick] = old
                else:
                    del sides[side][tick]
        if i == len(self.ops):
            t_ms = self.update_t_ms
        else:
            t_ms = self.ops[i - 1].t_ms if i > 0 else self.first_t_ms
        return bids, asks, t_ms

    def snapshot(self, update_id: int | None = None, depth: int | None = None) -> BookState:
        """The book right after op `update_id` (None: now), cut to `depth` levels per side.

        Raises:
            KeyError: `update_id` is in the future or older than the kept history.
        """
        if update_id is None:
            sides, uid, t_ms = self.books, self.update_id, self.update_t_ms
        else:
            try:
                bids, asks, t_ms = self.state_at(update_id)
            except KeyError:
                raise KeyError(
                    f"{self.name}: update id {update_id} is outside the kept history "
                    f"{self.first_id}..{self.update_id}"
                ) from None
            sides, uid = (bids, asks), update_id
        levels: list[tuple[Level, ...]] = []
        for side, book in enumerate(sides):
            ticks = sorted(book, reverse=side == BID)[:depth]
            levels.append(
                tuple((self.price(t), Decimal(units_text(book[t], self.size_exp))) for t in ticks)
            )
        return BookState(self.name, uid, t_ms, levels[BID], levels[ASK])
