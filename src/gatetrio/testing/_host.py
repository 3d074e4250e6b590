"""The fake server as its engines see it: `EngineHost`.

The subscription table, the account, the trading API each declare what they need from their
server as a Protocol (`SubscriptionHost`, `AccountHost`, `TradingApiHost`); `EngineHost` is
the one object that implements them for `FakeGateServer`, so the engines get exactly those
members and never the server's internals, and the server's own public surface stays what its
docstring says.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Protocol

from ._account import DEFAULT_USER_ID

if TYPE_CHECKING:
    from collections.abc import Callable

    from gatetrio._core._config import Credentials
    from gatetrio._core._events import Event

    from ._connection import Connection, MarketKey
    from ._market import Market
    from ._profile import FakeProfile
    from ._replies import Replies


class Server(Protocol):
    """The public members of `FakeGateServer` its engines may read (no import: no cycle)."""

    @property
    def credentials(self) -> Credentials | None: ...
    @property
    def max_time_skew(self) -> float: ...
    @property
    def obu_snapshot_before_ack(self) -> bool: ...
    @property
    def profile(self) -> FakeProfile: ...
    @property
    def connections(self) -> list[Connection]: ...
    def now(self) -> float: ...
    def wall_time(self) -> float: ...
    def market_for(self, contract: str) -> Market: ...
    def push_private(
        self, channel: str, contract: str, event: Event | Callable[[bool], Event]
    ) -> None: ...
    def drop(self, conn: Connection | str | None = None) -> None: ...


@typing.final
class EngineHost:
    """`FakeGateServer` as `SubscriptionHost`, `AccountHost` and `TradingApiHost`: its public
    members, plus the replies, markets and clock wake-up it hands over at construction."""

    __slots__ = ("_market", "_server", "_wake_clock", "replies")

    def __init__(
        self,
        server: Server,
        *,
        replies: Replies,
        market: Callable[[MarketKey], Market],
        wake_clock: Callable[[], None],
    ) -> None:
        self._server = server
        self.replies = replies
        self._market = market
        self._wake_clock = wake_clock

    @property
    def credentials(self) -> Credentials | None:
        return self._server.credentials

    @property
    def user_id(self) -> str:
        """The account's UID: the server credentials' `user_id`, else the docs' "20011"."""
        creds = self._server.credentials
        return creds.user_id if creds is not None and creds.user_id else DEFAULT_USER_ID

    @property
    def max_time_skew(self) -> float:
        return self._server.max_time_skew

    @property
    def obu_snapshot_before_ack(self) -> bool:
        return self._server.obu_snapshot_before_ack

    @property
    def profile(self) -> FakeProfile:
        return self._server.profile

    @property
    def connections(self) -> list[Connection]:
        return self._server.connections

    def now(self) -> float:
        return self._server.now()

    def wall_time(self) -> float:
        return self._server.wall_time()

    def market(self, key: MarketKey) -> Market:
        return self._market(key)

    def market_for(self, contract: str) -> Market:
        return self._server.market_for(contract)

    def push_private(
        self, channel: str, contract: str, event: Event | Callable[[bool], Event]
    ) -> None:
        self._server.push_private(channel, contract, event)

    def wake_clock(self) -> None:
        self._wake_clock()

    def drop(self, conn: Connection) -> None:
        self._server.drop(conn)
