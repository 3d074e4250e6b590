"""How closely the fake follows live Gate where live and the docs disagree (spec 15).

The default profile, "live", follows live traffic; "docs" is the fake's earlier behaviour,
written from the docs, kept for tests that pin it. Pass `FakeGateServer(profile="docs")`, or a
`FakeProfile` built from either with `attrs.evolve(LIVE, ...)` to mix.

`live_numbers` rewrites a push the fake encoded (Decimals as strings, the encoder's convention)
into the live form, where private pushes and contract_stats ratios carry JSON numbers.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import attrs
import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping


@attrs.frozen(kw_only=True)
class FakeProfile:
    """One set of the fake's behaviours where live Gate and its docs disagree.

    Attributes:
        name: "live", "docs", or your own label.
        idle_timeout: seconds after which an idle socket is closed.
        idle_abort: live: only a socket with no subscription and no client frame for
            `idle_timeout` is idle, and it is dropped without a close frame (1006); docs: no
            frame either way, closed with a close frame (1000).
        protocol_ping_interval: server WebSocket pings (docs: 15 s); None: no pings (live).
        numbers_in_pushes: private pushes and contract_stats ratios carry JSON numbers (live)
            instead of strings.
        candle_turnover: candlestick `a` is quote turnover (live), not base volume.
        obu_silent_ack: an obu stream for an unknown contract or a wrong level is acked and then
            silent (live); docs: refused with an error.
        live_error_texts: Gate's live error texts ("unknown currency pair: X", "Not login").
        login_sign_as_sent: futures.login verifies over the req_param text it received (`{}`,
            `null`, or absent); docs: only over the empty text.
        order_text_prefix: an order `text` must start with "t-" (docs and live alike; off for
            the fake's earlier leniency).
    """

    name: str
    idle_timeout: float
    idle_abort: bool
    protocol_ping_interval: float | None
    numbers_in_pushes: bool
    candle_turnover: bool
    obu_silent_ack: bool
    live_error_texts: bool
    login_sign_as_sent: bool
    order_text_prefix: bool


LIVE: Final = FakeProfile(
    name="live",
    idle_timeout=30.5,
    idle_abort=True,
    protocol_ping_interval=None,
    numbers_in_pushes=True,
    candle_turnover=True,
    obu_silent_ack=True,
    live_error_texts=True,
    login_sign_as_sent=True,
    order_text_prefix=True,
)
DOCS: Final = FakeProfile(
    name="docs",
    idle_timeout=60.0,
    idle_abort=False,
    protocol_ping_interval=15.0,
    numbers_in_pushes=False,
    candle_turnover=False,
    obu_silent_ack=False,
    live_error_texts=False,
    login_sign_as_sent=False,
    order_text_prefix=False,
)
PROFILES: Final[Mapping[str, FakeProfile]] = MappingProxyType({"live": LIVE, "docs": DOCS})


def resolve_profile(profile: str | FakeProfile) -> FakeProfile:
    if isinstance(profile, FakeProfile):
        return profile
    try:
        return PROFILES[profile]
    except (KeyError, TypeError):
        raise ValueError(
            f"profile must be one of {sorted(PROFILES)} or a FakeProfile, got {profile!r}"
        ) from None


# The fields live sends as JSON numbers (spec 7, 15). Sizes are not here: they are ints
# already without the size header, and strings with it.
_POSITION: Final = frozenset(
    {
        "entry_price",
        "liq_price",
        "margin",
        "realised_pnl",
        "realised_point",
        "history_pnl",
        "history_point",
        "last_close_pnl",
        "leverage",
        "leverage_max",
        "maintenance_rate",
        "risk_limit",
        "cross_leverage_limit",
    }
)
NUMERIC_FIELDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "futures.balances": frozenset({"balance", "change"}),
        "futures.positions": _POSITION,
        "futures.orders": frozenset({"price", "fill_price", "mkfr", "tkfr", "refr"}),
        "futures.usertrades": frozenset({"fee", "point_fee"}),
        # spec 7.3-7.7: numbers in the docs' frames, strings never seen
        "futures.liquidates": frozenset(
            {
                "entry_price",
                "fill_price",
                "leverage",
                "liq_price",
                "margin",
                "mark_price",
                "order_price",
            }
        ),
        "futures.auto_deleverages": frozenset({"entry_price", "fill_price"}),
        "futures.position_closes": frozenset({"pnl"}),
        "futures.reduce_risk_limits": frozenset(
            {"leverage_max", "liq_price", "maintenance_rate", "risk_limit"}
        ),
        "futures.contract_stats": frozenset(
            {
                "lsr_taker",
                "lsr_account",
                "long_liq_usd",
                "short_liq_usd",
                "long_liq_amount",
                "short_liq_amount",
                "open_interest_usd",
                "top_lsr_account",
                "top_lsr_size",
            }
        ),
    }
)
_ENCODE: Final = msgspec.json.Encoder(decimal_format="number").encode


def live_numbers(frame: str) -> str:
    """`frame` with its channel's numeric string fields turned into JSON numbers, exactly."""
    obj: dict[str, Any] = json.loads(frame, parse_float=Decimal)
    fields = NUMERIC_FIELDS.get(obj.get("channel", ""))
    result = obj.get("result")
    if fields is None or result is None:
        return frame
    for item in result if isinstance(result, list) else [result]:
        if isinstance(item, dict):
            for name in fields & item.keys():
                item[name] = _number(item[name])
    return _ENCODE(obj).decode()


def _number(value: object) -> object:
    if not isinstance(value, str) or not value:
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value
    # an integral value is an int on the wire (live: "leverage":0, "price":93000)
    return int(number) if number == number.to_integral_value() else number
