"""What a live order book needs from the client that hosts it, as a record of callables.

`Client.order_book` builds a `BookHost` from its own methods, so `_live_book.py` never imports
`_client.py` (no import cycle) and never reaches into the client's private state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar, final

import msgspec

if TYPE_CHECKING:
    import contextlib
    import random
    from collections.abc import Awaitable, Callable

    from gatetrio._core._requests import ChannelSpec

    from ._subscription import OverflowPolicy, Subscription

T = TypeVar("T")


class SubscribeFunction(Protocol):
    """`Client.subscribe`'s shape: an async context manager yielding the subscription."""

    def __call__(
        self, spec: ChannelSpec[T], *, buffer: int, overflow: OverflowPolicy
    ) -> contextlib.AbstractAsyncContextManager[Subscription[T]]: ...


@final
class BookHost(msgspec.Struct, frozen=True, eq=False):
    """The client's side of a live order book.

    A msgspec Struct, not an attrs class: built once per client, compared never, and msgspec
    builds its class in C (first use's import; benchmarks/README.md, "Issue 22").
    """

    url: str
    """The client's WebSocket URL: picks obu or order_book_update, and the REST host."""
    rng: random.Random
    """The client's randomness (snapshot retry backoff)."""
    subscribe: SubscribeFunction
    report_resync: Callable[[str, str], None]
    """`report_resync(contract, reason)`: the client emits a `BOOK_RESYNC` event."""
    check_contract: Callable[[str], Awaitable[None]]
    """`await check_contract(contract)`: raises `UnknownContract` for a contract the market
    does not list (`_contracts.ContractCheck`)."""
    fetch_snapshot: Callable[[str, int], Awaitable[object]]
    """`await fetch_snapshot(contract, limit)`: the REST order book, through the client's
    REST helper (`_live_book.snapshot_fetcher`)."""
    watch_lost: Callable[[Callable[[], None]], contextlib.AbstractContextManager[None]]
    """`with watch_lost(callback):` the client calls `callback()` whenever its connection
    drops, for the block (a book, while it runs)."""
