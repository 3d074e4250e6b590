"""The fake account as Gate's REST API shows it: positions, futures accounts, account detail,
my trades.

What ccxt's futures watchers, `load_markets` and private REST calls read (spec 15),
consistent with the trading engine (`_account`) whose fills the private pushes report. Who may
read it is `_rest_auth`'s business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._market._numbers import dec_text

if TYPE_CHECKING:
    from ._account import Account
    from ._market import Market
    from ._orders import Fill

_SPOT_CURRENCIES: Final = ("BTC", "ETH", "SOL", "USDT", "USD1")


def positions(
    account: Account, market: Market, now: float, *, size_decimal: bool
) -> list[dict[str, object]]:
    """`GET /futures/{settle}/positions`: every position the account has had, open or flat;
    sizes as the ``X-Gate-Size-Decimal`` header asks (a decimal string, or an int truncated
    toward zero)."""
    now_s = market.wall_ms(now) // 1000
    out: list[dict[str, object]] = []
    for pos in account.positions.values():
        if not market.has_contract(pos.contract):
            continue
        pending = sum(
            1 for o in account.orders.values() if o.status == "open" and o.contract == pos.contract
        )
        out.append(
            pos.rest(
                market,
                margin=account.balance,
                now_s=now_s,
                user=account.user_id,
                pending_orders=pending,
                size_decimal=size_decimal,
            )
        )
    return out


def futures_account(account: Account, settle: str) -> dict[str, object]:
    """`GET /futures/{settle}/accounts`."""
    total = dec_text(account.balance)
    return {
        "user": int(account.user_id),
        "currency": settle.upper(),
        "total": total,
        "unrealised_pnl": "0",
        "position_margin": "0",
        "order_margin": "0",
        "available": total,
        "point": "0",
        "bonus": "0",
        "in_dual_mode": account.dual_mode,
        "position_mode": "dual" if account.dual_mode else "single",
        "enable_credit": False,
        "position_initial_margin": "0",
        "maintenance_margin": "0",
        "enable_evolved_classic": True,
        "cross_initial_margin": "0",
        "cross_maintenance_margin": "0",
        "cross_order_margin": "0",
        "cross_unrealised_pnl": "0",
        "cross_available": total,
        "cross_margin_balance": total,
        "margin_mode": 0,
        "history": {
            "dnw": "10000",
            "pnl": "0",
            "fee": "0",
            "refr": "0",
            "fund": "0",
            "point_dnw": "0",
            "point_fee": "0",
            "point_refr": "0",
            "bonus_dnw": "0",
            "bonus_offset": "0",
        },
    }


def account_detail(account: Account) -> dict[str, object]:
    """`GET /account/detail`."""
    return {
        "user_id": int(account.user_id),
        "ip_whitelist": [],
        "currency_pairs": [],
        "key": {"mode": 1},
        "tier": 0,
        "copy_trading_role": 0,
    }


def spot_currencies() -> list[dict[str, object]]:
    """`GET /spot/currencies`, minimal: the currencies the fake's contracts use."""
    return [
        {
            "currency": name,
            "name": name,
            "delisted": False,
            "withdraw_disabled": True,
            "withdraw_delayed": False,
            "deposit_disabled": True,
            "trade_disabled": False,
            "fixed_rate": "",
            "chain": name,
            "chains": [],
        }
        for name in _SPOT_CURRENCIES
    ]


def my_trade(
    market: Market, fill: Fill, *, size_decimal: bool, timerange: bool
) -> dict[str, object]:
    """One entry of `GET /futures/{settle}/my_trades` (`id`), or of `my_trades_timerange`
    (`trade_id`, a string): sizes as the decimal header asks, prices and fees as strings."""

    def size(units: int) -> object:
        value = market.units_size(fill.contract, units, size_decimal=size_decimal)
        return value if isinstance(value, int) else str(value)

    trade: dict[str, object] = {
        "create_time": fill.create_ms / 1000,
        "contract": fill.contract,
        "order_id": str(fill.order_id),
        "size": size(fill.units),
        "close_size": size(fill.close_units),
        "price": dec_text(fill.price),
        "role": fill.role,
        "text": fill.text,
        "fee": dec_text(fill.fee),
        "point_fee": "0",
    }
    if timerange:
        return {"trade_id": str(fill.id), **trade}
    return {"id": fill.id, **trade}
