"""The fake's trading engine: one account whose orders trade against the fake's book.

It knows nothing of frames or of the server: `AccountHost` is what it needs (markets, the
server's clock, private pushes), and `_trading_api.TradingApi` turns requests into its calls.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from gatetrio._core._events import (
    Balance,
    BalancesUpdate,
    Event,
    OrdersUpdate,
    PositionAdlRank,
    PositionAdlRanksUpdate,
    PositionClose,
    PositionClosesUpdate,
    PositionsUpdate,
    UserTradesUpdate,
)

from ._market._numbers import plain
from ._orders import (
    MAKER_FEE_RATE,
    TAKER_FEE_RATE,
    EngineOrder,
    Fill,
    order_item,
    order_rest,
    trade_item,
)
from ._positions import ADL_RANK, DUAL_LONG, DUAL_SHORT, SINGLE, FakePosition

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from gatetrio._core._config import Credentials

    from ._connection import Connection, MarketKey
    from ._market import Market

_FEE_QUANTUM: Final = Decimal("1e-10")
DEFAULT_USER_ID: Final = "20011"  # the docs' example UID, the fake account's unless told
START_BALANCE: Final = Decimal(10000)
# Gate finds an order by its custom id (text) while it is open and for 60 s after it finished;
# after that only by its id (REST docs, GET /futures/{settle}/orders/{order_id})
TEXT_LOOKUP_MS: Final = 60_000
KEPT_ORDERS: Final = 10_000  # orders kept for order_status/order_list; older finished ones go
KEPT_FILLS: Final = 10_000  # the account's latest trades, for REST my_trades


class RiskChecks(Protocol):
    """What the engine asks of its risk side on every tick (`_risk.Risk`)."""

    def check(self, now_ms: int, after: list[Callable[[], None]]) -> None: ...


class TriggerChecks(RiskChecks, Protocol):
    """What the engine asks of its price-triggered orders on every tick."""

    def watching(self) -> bool: ...


class ApiFailure(Exception):
    """A request the trading API refuses: HTTP-like `status`, Gate's `label` and message."""

    def __init__(self, status: str, label: str, message: str = "") -> None:
        super().__init__(label)
        self.status = status
        self.label = label
        self.message = message or f"label: {label}, message: "


class AccountHost(Protocol):
    """What the trading engine needs from the server that hosts it."""

    @property
    def credentials(self) -> Credentials | None: ...
    @property
    def user_id(self) -> str: ...
    def now(self) -> float: ...
    def wall_time(self) -> float: ...
    def market(self, key: MarketKey) -> Market: ...
    def market_for(self, contract: str) -> Market: ...
    def push_private(
        self, channel: str, contract: str, event: Event | Callable[[bool], Event]
    ) -> None: ...


class Account:
    """One account whose orders trade against the fake's book.

    Taker orders sweep the fake's book (public trades, new update id); gtc remainders rest off
    the book and fill as makers once the market trades through their price. Every fill pushes
    futures.orders, futures.usertrades, futures.positions and futures.balances in the order Gate's
    live exchange sends them (captured in 2024); a fill that reduces a position also pushes the
    profit or loss it realised (a `pnl` balance change), and one that closes it
    futures.position_closes. Positions are one per contract, or a long and a short one in dual
    mode (`dual_mode`); `_positions.py` has the margin model, `_risk.py` liquidations,
    auto-deleverages and risk-limit reductions.
    """

    def __init__(self, host: AccountHost, rng: random.Random) -> None:
        self._host = host
        self.orders: dict[int, EngineOrder] = {}
        self.positions: dict[tuple[str, str], FakePosition] = {}
        self.fills: deque[Fill] = deque(maxlen=KEPT_FILLS)  # oldest first
        self.balance = START_BALANCE
        self.dual_mode = False
        self.risk: RiskChecks | None = None  # liquidations on ticks (`_risk.Risk`)
        self.triggers: TriggerChecks | None = None  # price-triggered orders (`_price_orders`)
        self.require_text_prefix = False  # an order `text` must start with "t-" (spec 15)
        # above 2**53 on purpose: JS/float parsers corrupt such ids (spec 13.10)
        self._next_order_id = rng.randrange(5 * 10**16, 6 * 10**16)
        self._next_trade_id = rng.randrange(10**7, 10**8)

    @property
    def user_id(self) -> str:
        return self._host.user_id

    def position(self, contract: str, mode: str = SINGLE) -> FakePosition:
        """The position of `contract` in `mode` (created flat on first use)."""
        pos = self.positions.get((contract, mode))
        if pos is None:
            spec = self._host.market_for(contract).spec(contract)
            pos = FakePosition(contract, mode, leverage_max=Decimal(spec.leverage_max))
            self.positions[(contract, mode)] = pos
        return pos

    def position_for(self, contract: str, units: int, *, reduce_only: bool) -> FakePosition:
        """The position a fill of `units` (signed) changes: the contract's one in single mode;
        in dual mode a buy adds to the long one and a sell to the short one, unless
        reduce-only, which closes the other side."""
        if not self.dual_mode:
            return self.position(contract)
        long_side = (units > 0) != reduce_only
        return self.position(contract, DUAL_LONG if long_side else DUAL_SHORT)

    def open_positions(self) -> list[FakePosition]:
        return [pos for pos in self.positions.values() if pos.units]

    def market_of(self, conn: Connection) -> Market:
        """The market of the connection's path (orders may only name its contracts)."""
        return self._host.market(conn.market_key)

    def find(self, order_id: object, *, now_ms: int | None = None) -> EngineOrder:
        """An order by its id, or by its `t-` text while it is open or finished less than
        TEXT_LOOKUP_MS ago (Gate's rule for custom ids); `now_ms`: the server's wall time."""
        text = str(order_id) if isinstance(order_id, int | str) else ""
        if text.isdigit() and int(text) in self.orders:
            return self.orders[int(text)]
        if now_ms is None:
            now_ms = round(self._host.wall_time() * 1000)
        for order in self.orders.values():
            if text and order.text == text:
                if order.status != "open" and now_ms - order.finish_ms > TEXT_LOOKUP_MS:
                    break
                return order
        raise ApiFailure("400", "ORDER_NOT_FOUND")

    def lookup(self, ref: str) -> EngineOrder | None:
        """The order of this id or `text` (by Gate's rule), if the account still keeps it."""
        try:
            return self.find(ref)
        except ApiFailure:
            return None

    def place(
        self, conn: Connection, p: dict[str, Any], now_ms: int, after: list[Callable[[], None]]
    ) -> EngineOrder:
        """Place an order sent on `conn` (its contract must be of the connection's market)."""
        return self.place_on(self.market_of(conn), p, now_ms, after)

    def place_on(
        self, market: Market, p: dict[str, Any], now_ms: int, after: list[Callable[[], None]]
    ) -> EngineOrder:
        """Place an order `p` (the trading API's `req_param`) on `market`."""
        contract = p.get("contract")
        if not isinstance(contract, str) or not market.has_contract(contract):
            raise ApiFailure("400", "CONTRACT_NOT_FOUND")
        tif = p.get("tif", "gtc")
        if tif not in ("gtc", "ioc", "poc", "fok"):
            raise ApiFailure(
                "400", "INVALID_ARGUMENT", f"label: INVALID_ARGUMENT, message: invalid TIF {tif}"
            )
        if p.get("stp_act") not in (None, "-"):
            raise ApiFailure("400", "INVALID_PARAM_VALUE", "set stp_act without stp_id")
        text = p.get("text") or "apiv4-ws"
        if not isinstance(text, str):
            raise ApiFailure("400", "INVALID_PARAM_VALUE", "text must be a string")
        if self.require_text_prefix and "text" in p and not text.startswith("t-"):
            raise ApiFailure("400", "INVALID_PARAM_VALUE", "text must start with 't-'")
        try:
            size = Decimal(str(p.get("size")))
            price = Decimal(str(p.get("price", "0")))
        except ArithmeticError:
            raise ApiFailure(
                "400", "INVALID_PARAM_VALUE", "size and price must be numbers"
            ) from None
        if not size.is_finite() or not price.is_finite() or price < 0:
            raise ApiFailure("400", "INVALID_PARAM_VALUE", "size and price must be numbers")
        units = market.size_units(contract, size)
        auto_size = p.get("auto_size")
        closing = bool(p.get("close")) or auto_size is not None
        reduce_only = bool(p.get("reduce_only"))
        if units is None or (units == 0 and not closing):
            raise ApiFailure("400", "INVALID_PARAM_VALUE", f"invalid size {p.get('size')}")
        if closing:
            if auto_size not in (None, "close_long", "close_short") or (
                (auto_size is None) == self.dual_mode
            ):
                raise ApiFailure(
                    "400",
                    "INVALID_PARAM_VALUE",
                    "close a dual-mode position with auto_size close_long or close_short, "
                    "a single-mode one with close",
                )
            mode = {"close_long": DUAL_LONG, "close_short": DUAL_SHORT}.get(str(auto_size), SINGLE)
            units = -self.position(contract, mode).units
            reduce_only = True
            if units == 0:
                raise ApiFailure("400", "INVALID_PARAM_VALUE", "no position to close")
        if price == 0 and tif not in ("ioc", "fok"):
            raise ApiFailure("400", "INVALID_PARAM_VALUE", "market orders need tif ioc or fok")
        self._next_order_id += 1
        order = EngineOrder(
            id=self._next_order_id,
            contract=contract,
            units=units,
            price=price,
            tif=tif,
            text=text,
            create_ms=now_ms,
            left=units,
            update_ms=now_ms,
            reduce_only=reduce_only,
            is_close=closing,
        )
        self.orders[order.id] = order
        if len(self.orders) > KEPT_ORDERS * 5 // 4:  # a long-running serve: trim in batches
            finished = [oid for oid, o in self.orders.items() if o.status != "open"]
            for oid in finished[: len(self.orders) - KEPT_ORDERS]:
                del self.orders[oid]
        now = self._host.now()
        available = market.liquidity(contract, units, price, now)
        if tif == "poc" and available:
            order.status, order.finish_as, order.finish_ms, order.left = (
                "finished",
                "poc",
                now_ms,
                units,
            )
            self._push_order(order, "poc", after)
            return order
        if tif == "fok" and available < abs(units):
            order.status, order.finish_as, order.finish_ms = "finished", "fok", now_ms
            self._push_order(order, "fok", after)
            return order
        self._push_order(order, "_new", after)
        fills = market.execute(contract, units, price, now) if available else []
        details: list[Callable[[], None]] = []
        sign = 1 if units > 0 else -1
        for fill_price, fill_units in fills:
            self._fill(order, fill_price, fill_units * sign, now_ms, details, role="taker")
        if order.left and tif in ("ioc", "fok"):
            order.status, order.finish_as, order.finish_ms = "finished", "ioc", now_ms
        elif order.left:
            market.take_trade_extremes(contract, now)  # only later trades can fill the rest
        if order.status == "finished" or fills:
            self._push_order(order, order.finish_as or "_update", after)
        after.extend(details)  # the order's own push first, then its trades (ROQ 2024 order)
        return order

    def _fill(
        self,
        order: EngineOrder,
        price: Decimal,
        units: int,
        now_ms: int,
        after: list[Callable[[], None]],
        *,
        role: str,
    ) -> None:
        market = self._host.market_for(order.contract)
        spec = market.spec(order.contract)
        order.left -= units
        order.filled_value += price * abs(units)
        order.role = role
        order.update_ms = now_ms
        if order.left == 0:
            order.status, order.finish_as, order.finish_ms = "finished", "filled", now_ms
        contracts = abs(units) * spec.size_step
        if spec.quanto_multiplier:
            notional = contracts * spec.quanto_multiplier * price
        else:
            notional = contracts / price
        fee = plain(
            (notional * (TAKER_FEE_RATE if role == "taker" else MAKER_FEE_RATE)).quantize(
                _FEE_QUANTUM
            )
        )
        pos = self.position_for(order.contract, units, reduce_only=order.reduce_only)
        old = pos.units
        pnl = plain(pos.trade(units, price, spec.size_step * (spec.quanto_multiplier or 1)))
        pos.realised_pnl += pnl - fee
        pos.update_id += 1
        self._next_trade_id += 1
        closing = old and (old > 0) != (units > 0)
        fill = Fill(
            id=self._next_trade_id,
            order_id=order.id,
            contract=order.contract,
            units=units,
            close_units=-units if closing else 0,
            price=price,
            role=role,
            text=order.text,
            fee=fee,
            create_ms=now_ms,
        )
        self.fills.append(fill)
        # usertrades, positions and balances follow the order push of the same fill
        after.append(lambda: self._push_trade(fill, now_ms))
        self.push_position(pos, now_ms, after)
        self.change_balance(-fee, "fee", f"{order.contract}:{order.id}", now_ms, after)
        if pnl:
            self.change_balance(pnl, "pnl", f"{order.contract}:{order.id}", now_ms, after)
        if old and pos.units == 0:
            self._push_close(
                pos, old_units=old, pnl=pnl, text=order.text, now_ms=now_ms, after=after
            )
        if not old and pos.units:
            pos.adl_rank = ADL_RANK
            self.push_adl_rank(pos, now_ms, after)

    def _push_trade(self, fill: Fill, now_ms: int) -> None:
        market = self._host.market_for(fill.contract)

        def build(size_decimal: bool) -> Event:
            item = trade_item(market, fill, now_ms, size_decimal=size_decimal)
            return UserTradesUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms + 1)

        self._host.push_private("futures.usertrades", fill.contract, build)

    def push_position(
        self, pos: FakePosition, now_ms: int, after: list[Callable[[], None]]
    ) -> None:
        """Queue the position's push as it stands now (margin: the balance, cross)."""
        state, balance, user = attrs.evolve(pos), self.balance, self.user_id
        market = self._host.market_for(pos.contract)

        def build(size_decimal: bool) -> Event:
            item = state.push(
                market, size_decimal=size_decimal, margin=balance, time_ms=now_ms, user=user
            )
            return PositionsUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms + 10)

        after.append(lambda: self._host.push_private("futures.positions", pos.contract, build))

    def change_balance(
        self,
        change: Decimal,
        kind: str,
        text: str,
        now_ms: int,
        after: list[Callable[[], None]],
        *,
        currency: str = "",
    ) -> None:
        """Change the balance by `change` and queue its push (`kind`: fee, pnl, dnw, ...;
        `text`: ``<contract>:<order id>`` for a trade's, which names the currency)."""
        contract = text.partition(":")[0]
        if not currency:
            currency = self._host.market_for(contract).settle
        self.balance += change
        item = Balance(
            balance=self.balance,
            change=change,
            type=kind,
            text=text,
            time=now_ms // 1000,
            time_ms=now_ms,
            user=self.user_id,
            currency=currency,
        )
        event = BalancesUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms + 22)
        after.append(lambda: self._host.push_private("futures.balances", contract, event))

    def _push_close(
        self,
        pos: FakePosition,
        *,
        old_units: int,
        pnl: Decimal,
        text: str,
        now_ms: int,
        after: list[Callable[[], None]],
    ) -> None:
        side = pos.side if pos.mode != SINGLE else ("long" if old_units > 0 else "short")
        item = PositionClose(
            contract=pos.contract,
            side=side,
            pnl=pnl,
            text=text,
            time=now_ms // 1000,
            time_ms=now_ms,
            user=self.user_id,
        )
        event = PositionClosesUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms + 30)
        channel = "futures.position_closes"
        after.append(lambda: self._host.push_private(channel, pos.contract, event))

    def push_adl_rank(
        self, pos: FakePosition, now_ms: int, after: list[Callable[[], None]]
    ) -> None:
        """Queue the position's ADL rank push (`futures.position_adl_rank`: no uid, an int
        `user_id`, spec 7.9)."""
        item = PositionAdlRank(
            contract=pos.contract,
            rank_division=pos.adl_rank,
            mode=pos.mode,
            time_ms=now_ms,
            user_id=int(self.user_id) if self.user_id.isdigit() else 0,
        )
        event = PositionAdlRanksUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms + 31)
        after.append(
            lambda: self._host.push_private("futures.position_adl_rank", pos.contract, event)
        )

    def _push_order(
        self, order: EngineOrder, finish_as: str, after: list[Callable[[], None]]
    ) -> None:
        order.update_id += 1
        snapshot = attrs.evolve(order, finish_as=finish_as)
        market = self._host.market_for(order.contract)
        user = self.user_id

        def build(size_decimal: bool) -> Event:
            item = order_item(market, snapshot, user, size_decimal=size_decimal)
            return OrdersUpdate(
                result=(item,), time=snapshot.update_ms // 1000, time_ms=snapshot.update_ms + 2
            )

        after.append(lambda: self._host.push_private("futures.orders", order.contract, build))

    def cancel(
        self,
        order: EngineOrder,
        now_ms: int,
        after: list[Callable[[], None]],
        *,
        finish_as: str = "cancelled",
    ) -> None:
        """Cancel an open order (`finish_as`: ``liquidated`` when a liquidation cancels it)."""
        if order.status != "open":
            raise ApiFailure("404", "ORDER_NOT_FOUND")
        order.status, order.finish_as, order.finish_ms, order.update_ms = (
            "finished",
            finish_as,
            now_ms,
            now_ms,
        )
        self._push_order(order, finish_as, after)

    def fill_outside_book(
        self,
        contract: str,
        units: int,
        price: Decimal,
        now_ms: int,
        after: list[Callable[[], None]],
        *,
        text: str,
        reduce_only: bool = True,
        is_liq: bool = False,
    ) -> EngineOrder:
        """An order of the exchange's own (a liquidation, an auto-deleverage) filled at once at
        `price` against its insurance fund or counterparty, not the book: one finished push."""
        self._next_order_id += 1
        order = EngineOrder(
            id=self._next_order_id,
            contract=contract,
            units=units,
            price=price,
            tif="ioc",
            text=text,
            create_ms=now_ms,
            left=units,
            update_ms=now_ms,
            reduce_only=reduce_only,
            is_liq=is_liq,
        )
        self.orders[order.id] = order
        details: list[Callable[[], None]] = []
        self._fill(order, price, units, now_ms, details, role="taker")
        self._push_order(order, "filled", after)
        after.extend(details)
        return order

    def amend(
        self, order: EngineOrder, p: dict[str, Any], now_ms: int, after: list[Callable[[], None]]
    ) -> EngineOrder:
        if order.status != "open":
            raise ApiFailure("404", "ORDER_NOT_FOUND")
        market = self._host.market_for(order.contract)
        if p.get("price") is not None:
            order.price = _positive_decimal(p["price"])
        if p.get("size") is not None:
            units = market.size_units(order.contract, _positive_decimal(p["size"]))
            if units is None:
                raise ApiFailure("400", "INVALID_PARAM_VALUE", "size is off the size step")
            filled = order.units - order.left
            if units <= abs(filled):  # Gate: a size at or below the filled part cancels
                self.cancel(order, now_ms, after)
                return order
            units *= 1 if order.units > 0 else -1  # the side cannot change
            order.left = units - filled
            order.units = units
        if isinstance(p.get("amend_text"), str):
            order.amend_text = p["amend_text"]
        order.update_ms = now_ms
        self._push_order(order, "_update", after)
        self.match_resting(now_ms, after)
        return order

    def match_resting(self, now_ms: int, after: list[Callable[[], None]]) -> None:
        """Fill resting orders the market traded through, as makers at their own price.

        Resting orders stay off the public book (so `book_at` is the simulated market alone);
        a sell at P fills once a buy trade prints at P or higher or the best bid reaches P, and
        a buy the other way round.
        """
        now = self._host.now()
        extremes: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        for order in list(self.orders.values()):
            if order.status != "open":
                continue
            market = self._host.market_for(order.contract)
            if order.contract not in extremes:
                extremes[order.contract] = market.take_trade_extremes(order.contract, now)
            buy_high, sell_low = extremes[order.contract]
            bid, ask = market.best_bid_ask(order.contract)
            if order.units > 0:
                crossed = (ask is not None and ask <= order.price) or (
                    sell_low is not None and sell_low <= order.price
                )
            else:
                crossed = (bid is not None and bid >= order.price) or (
                    buy_high is not None and buy_high >= order.price
                )
            if crossed:
                details: list[Callable[[], None]] = []
                self._fill(order, order.price, order.left, now_ms, details, role="maker")
                self._push_order(order, "filled", after)
                after.extend(details)

    def has_open_orders(self) -> bool:
        return any(o.status == "open" for o in self.orders.values())

    def needs_ticks(self) -> bool:
        """Resting orders to match, positions the market may liquidate, or price-triggered
        orders to watch."""
        return (
            self.has_open_orders()
            or any(pos.units for pos in self.positions.values())
            or (self.triggers is not None and self.triggers.watching())
        )

    def on_tick(self, now_ms: int) -> None:
        """Fill what the market traded through since the last tick and liquidate what it
        moved through a liquidation price; `now_ms` is wall time."""
        after: list[Callable[[], None]] = []
        if self.has_open_orders():
            self.match_resting(now_ms, after)
        if self.risk is not None:
            self.risk.check(now_ms, after)
        if self.triggers is not None and self.triggers.watching():
            self.triggers.check(now_ms, after)
        for push in after:
            push()

    def order_json(self, order: EngineOrder, *, size_decimal: bool) -> dict[str, object]:
        """The order as the trading API's results and REST bodies show it."""
        market = self._host.market_for(order.contract)
        return order_rest(market, order, self.user_id, size_decimal=size_decimal)


def _positive_decimal(value: object) -> Decimal:
    try:
        number = abs(Decimal(str(value)))
    except ArithmeticError:
        number = Decimal(0)
    if not number.is_finite() or number <= 0:
        raise ApiFailure("400", "INVALID_PARAM_VALUE", f"invalid number {value!r}")
    return number
