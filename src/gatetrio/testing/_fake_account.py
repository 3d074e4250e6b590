"""`FakeAccount`: the fake exchange's one account as tests see it (`FakeGateServer.account`).

Its truth (balance, positions, dual mode) and the happenings a test needs on demand: market
moves that liquidate, auto-deleverages, risk-limit reductions, ADL ranks, deposits, and the
private-push faults (dropped for a while, delayed). Every verb takes effect at once and sends
Gate's pushes for it, in Gate's shapes, to the subscribed connections; the fake's REST agrees
with them from then on.

Price-triggered (auto) orders run in the engine too: REST ``/futures/{settle}/price_orders``
creates, lists and cancels them, a tick fires or expires them, and `futures.autoorders` pushes
each change (`_price_orders.py`).
"""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import TYPE_CHECKING

from ._risk import mode_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._account import Account
    from ._market import Market
    from ._positions import FakePosition
    from ._private_pushes import PrivatePushes
    from ._risk import Risk


@typing.final
class FakeAccount:
    """The fake's account: created by `FakeGateServer`, not instantiated directly.

    Sizes are in contracts (an `int` or a `Decimal` on the contract's size step), signed for
    a position; `side` names a dual-mode position (``long`` or ``short``) and is None in
    single mode.
    """

    def __init__(
        self,
        account: Account,
        risk: Risk,
        pushes: PrivatePushes,
        *,
        market_for: Callable[[str], Market],
        wall_ms: Callable[[], int],
        now: Callable[[], float],
        wake_clock: Callable[[], None],
    ) -> None:
        self._account = account
        self._risk = risk
        self._pushes = pushes
        self._market = market_for
        self._wall_ms = wall_ms
        self._now = now
        self._wake_clock = wake_clock

    def __repr__(self) -> str:
        return f"<FakeAccount user {self.user_id} balance {self.balance}>"

    # ------------------------------------------------------------------------- truth

    @property
    def user_id(self) -> str:
        """The account's Gate UID (the server credentials' `user_id`, else "20011")."""
        return self._account.user_id

    @property
    def balance(self) -> Decimal:
        return self._account.balance

    @property
    def dual_mode(self) -> bool:
        return self._account.dual_mode

    def position_size(self, contract: str, side: str | None = None) -> Decimal:
        """A position's size in contracts (signed; 0 when flat or never opened)."""
        pos = self._account.positions.get((contract, mode_of(self._account, side)))
        if pos is None:
            return Decimal(0)
        market = self._market(contract)
        return Decimal(market.units_size(contract, pos.units, size_decimal=True))

    def liquidation_price(self, contract: str, side: str | None = None) -> Decimal:
        """Where the mark price liquidates the position (0 when flat or never opened)."""
        pos = self._account.positions.get((contract, mode_of(self._account, side)))
        if pos is None:
            return Decimal(0)
        return pos.liq_price(self._market(contract).spec(contract).tick)

    @property
    def liquidations(self) -> int:
        """Positions liquidated so far (count)."""
        return self._risk.liquidations

    @property
    def pushes_dropped(self) -> int:
        """Private pushes lost to `drop_pushes` (count)."""
        return self._pushes.dropped

    @property
    def pushes_delayed(self) -> int:
        """Private pushes sent late by `delay_pushes` (count)."""
        return self._pushes.delayed

    @property
    def pushes_held(self) -> int:
        """Private pushes held back now, still to go out."""
        return self._pushes.held

    # ------------------------------------------------------------------------- happenings

    def set_dual_mode(self, enabled: bool) -> None:
        """Switch between single and dual (hedge) position mode, as Gate allows it: only with
        no open position and no open order."""
        account = self._account
        if account.open_positions() or account.has_open_orders():
            raise ValueError("close every position and order before switching position mode")
        account.dual_mode = enabled

    def move_market(self, contract: str, price: Decimal | str | int) -> Decimal:
        """Move `contract`'s market to `price` at once (its book shifts, a trade prints there,
        its mark price follows). Positions it moves through their liquidation price are
        liquidated now, and resting orders it crossed fill. Returns the new mark price."""
        mark = self._market(contract).jump(contract, Decimal(price), self._now())
        self._run(self._account.match_resting)
        self._run(self._risk.check)
        return mark

    def liquidate(self, contract: str, side: str | None = None) -> int:
        """Liquidate a position now, at its liquidation price, whatever the market; returns the
        liquidation order's id."""
        pos = self._position(contract, side)
        ids: list[int] = []
        self._run(lambda now_ms, after: ids.append(self._risk.liquidate(pos, now_ms, after)))
        return ids[0]

    def auto_deleverage(
        self,
        contract: str,
        size: Decimal | int | None = None,
        *,
        price: Decimal | str | None = None,
        side: str | None = None,
    ) -> int:
        """Deleverage `size` contracts of a position (all of it when None) at `price` (the mark
        price when None); returns the order's id."""
        pos = self._position(contract, side)
        units = None if size is None else self._units(contract, size)
        at = None if price is None else Decimal(price)
        ids: list[int] = []
        self._run(
            lambda now_ms, after: ids.append(
                self._risk.auto_deleverage(pos, units, at, now_ms, after)
            )
        )
        return ids[0]

    def reduce_risk_limit(self, contract: str, risk_limit: Decimal | int | str) -> int:
        """Cut `contract`'s risk limit; returns how many open orders that cancelled."""
        cancelled: list[int] = []
        limit = Decimal(risk_limit)
        self._run(
            lambda now_ms, after: cancelled.append(
                self._risk.reduce_risk_limit(contract, limit, now_ms, after)
            )
        )
        return cancelled[0]

    def set_adl_rank(self, contract: str, rank: int, side: str | None = None) -> None:
        """Give a position ADL rank `rank` (1: first in line ... 5: last; 6: in liquidation)."""
        pos = self._position(contract, side)
        self._run(lambda now_ms, after: self._risk.set_adl_rank(pos, rank, now_ms, after))

    def set_adl_warning(self, contract: str, state: str) -> None:
        """Put `contract` in ADL state `normal`, `warning` or `adl_risk`: the public
        `futures.adl_warning` channel pushes it once a second while not normal, once on its
        return to normal, and as an `all` snapshot before a new subscriber's ack (spec 6.11)."""
        self._market(contract).set_adl_state(contract, state, self._now())
        self._wake_clock()

    def deposit(self, amount: Decimal | int | str, currency: str = "usdt") -> None:
        """Add `amount` (negative: withdraw) to the balance: a ``dnw`` balance change."""
        change = Decimal(amount)
        self._run(
            lambda now_ms, after: self._account.change_balance(
                change, "dnw", "", now_ms, after, currency=currency
            )
        )

    # ------------------------------------------------------------------------- faults

    def drop_pushes(self, seconds: float | None = None) -> None:
        """Lose every private push for `seconds` (None: until `resume_pushes`), with the
        socket open and public channels flowing."""
        self._pushes.drop(seconds)

    def delay_pushes(self, delay: float, seconds: float | None = None) -> None:
        """Send every private push `delay` seconds late, in order, for `seconds` (None: until
        `resume_pushes`)."""
        self._pushes.delay(delay, seconds)

    async def wait_pushes_sent(self) -> None:
        """Return once every private push held back by `delay_pushes` has gone out."""
        await self._pushes.wait_sent()

    def resume_pushes(self) -> None:
        """End `drop_pushes` and `delay_pushes`; pushes held back still go out at their time."""
        self._pushes.resume()

    # ------------------------------------------------------------------------- helpers

    def _run(self, verb: Callable[[int, list[Callable[[], None]]], object]) -> None:
        after: list[Callable[[], None]] = []
        verb(self._wall_ms(), after)
        for push in after:
            push()
        self._wake_clock()

    def _position(self, contract: str, side: str | None) -> FakePosition:
        """An existing position (asking about one must not make it: REST would list it)."""
        mode = mode_of(self._account, side)
        pos = self._account.positions.get((contract, mode))
        if pos is None:
            raise ValueError(f"the account has never held a {contract} position ({mode})")
        return pos

    def _units(self, contract: str, size: Decimal | int) -> int:
        units = self._market(contract).size_units(contract, Decimal(size))
        if units is None:
            raise ValueError(f"{size} is off {contract}'s size step")
        return abs(int(units))
