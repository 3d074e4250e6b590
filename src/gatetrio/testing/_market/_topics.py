"""What a public subscribe payload names: topics, the fake's channel tables, and Gate's refusals.

These tables are the fake's own reading of Gate's public channels, kept apart from the client's
catalogue (`gatetrio._core._catalog`) on purpose: if the two shared one table, a misreading in
it would pass every test against the fake. The private and trading channel tables live in
`testing/_subscriptions.py` and `testing/_trading_api.py` for the same reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

ALL: Final = "!all"

Topic: TypeAlias = tuple[str, ...]
"""A shared push stream: the channel name followed by its parameters, e.g.
``("futures.order_book_update", "BTC_USDT", "100ms", "20")``. Every subscriber of a topic gets
the same frames, as from Gate's broadcast."""

CANDLE_INTERVALS: Final[dict[str, int]] = {
    "10s": 10,
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "8h": 28800,
    "1d": 86400,
    "7d": 604800,
}
STATS_INTERVALS: Final = ("1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "3d", "7d")
ORDER_BOOK_LIMITS: Final = ("100", "50", "20", "10", "5", "1")

# Push cadences, in steps (book streams: FREQ_STEPS and the obu level decide).
FREQ_STEPS: Final = {"100ms": 10, "20ms": 2}
CADENCES: Final = {
    "futures.book_ticker": 1,  # on every step where the best bid/ask changed
    "futures.trades": 10,  # trades since the last push, every 100 ms
    "futures.tickers": 100,
    "futures.candlesticks": 200,
    "futures.contract_stats": 500,
    "futures.public_liquidates": 100,  # spec 6.8: aggregated per contract per 1 s window
    "futures.order_book": 100,
    "futures.contract_info": 6000,  # snapshot on subscribe only; no periodic push
    "futures.adl_warning": 100,  # once a second while not `normal` (spec 6.11)
}


class SubscribeError(Exception):
    """A subscribe payload Gate would refuse: `code` and `message` go into the error reply."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_subscription(
    channel: str,
    payload: object,
    *,
    contracts: Collection[str],
    delivery: bool,
    live: bool = False,
    obu_silent: bool = False,
) -> list[Topic]:
    """The topics a public subscribe payload names, or SubscribeError as Gate would answer.

    `contracts` are the market's contract names; `delivery` markets have no obu. One unknown
    contract fails the whole payload.

    `live`: the error texts seen live (`unknown currency pair: X` on contract lists,
    `unknown currency pair X` on positional payloads, `Unknown channel X`, `provided level not
    supported: N`). `obu_silent`: obu streams naming an unknown contract or level are not
    refused but dropped: Gate acks them and then sends nothing.
    """
    if not isinstance(payload, list) or not all(isinstance(p, str) for p in payload):
        raise SubscribeError(2, "invalid argument")
    items: list[str] = payload
    match channel:
        case (
            "futures.trades"
            | "futures.book_ticker"
            | "futures.tickers"
            | "futures.public_liquidates"
            | "futures.contract_info"
            | "futures.adl_warning"
        ):
            if not items:
                raise SubscribeError(2, "invalid argument")
            if ALL in items and channel in (
                "futures.public_liquidates",
                "futures.contract_info",
                "futures.adl_warning",
            ):
                if len(items) > 1:
                    raise SubscribeError(2, "invalid argument")
                items = list(contracts)
            _check_contracts(items, contracts, live=live, colon=True)
            return [(channel, name) for name in dict.fromkeys(items)]
        case "futures.order_book_update":
            if len(items) not in (2, 3):
                raise SubscribeError(2, "invalid argument")
            _check_contracts(items[:1], contracts, live=live)
            freq = items[1]
            default = "100" if freq == "100ms" else "20"
            level = items[2] if len(items) == 3 else default
            if live and freq in FREQ_STEPS and level not in ("100", "50", "20"):
                raise SubscribeError(2, f"provided level not supported: {level}")
            if freq not in FREQ_STEPS or level not in ("100", "50", "20"):
                raise SubscribeError(2, "invalid argument")
            if freq == "20ms" and level != "20":
                raise SubscribeError(2, "invalid argument")
            return [(channel, items[0], freq, level)]
        case "futures.order_book":
            if len(items) != 3 or items[1] not in ORDER_BOOK_LIMITS or items[2] != "0":
                raise SubscribeError(2, "invalid argument")
            _check_contracts(items[:1], contracts, live=live)
            return [(channel, items[0], items[1], items[2])]
        case "futures.obu":
            if delivery:
                raise SubscribeError(2, _unknown_channel(channel, live=live))
            if not items:
                raise SubscribeError(2, "invalid argument")
            topics: list[Topic] = []
            for stream in items:
                prefix, _, rest = stream.partition(".")
                contract, _, level = rest.rpartition(".")
                if prefix != "ob" or not contract:
                    raise SubscribeError(2, "invalid argument")
                if obu_silent and (level not in ("400", "50") or contract not in contracts):
                    continue  # acked, then silent: no such stream (spec 15)
                if level not in ("400", "50"):
                    raise SubscribeError(2, "invalid argument")
                _check_contracts([contract], contracts)
                topics.append((channel, contract, level))
            return topics
        case "futures.candlesticks":
            if len(items) != 2 or items[0] not in CANDLE_INTERVALS:
                raise SubscribeError(2, "invalid argument")
            name = items[1]
            for prefix in ("mark_", "index_"):
                name = name.removeprefix(prefix)
            _check_contracts([name], contracts, live=live)
            return [(channel, items[0], items[1])]
        case "futures.contract_stats":
            if len(items) != 2 or items[1] not in STATS_INTERVALS:
                raise SubscribeError(2, "invalid argument")
            _check_contracts(items[:1], contracts, live=live)
            return [(channel, items[0], items[1])]
        case _:
            raise SubscribeError(2, _unknown_channel(channel, live=live))


def _unknown_channel(channel: str, *, live: bool) -> str:
    return f"Unknown channel {channel}" if live else f"unknown channel {channel}"


def _check_contracts(
    names: Iterable[str], contracts: Collection[str], *, live: bool = False, colon: bool = False
) -> None:
    for name in names:
        if name not in contracts:
            if not live:
                raise SubscribeError(2, f"unknown contract {name}")
            sep = ": " if colon else " "
            raise SubscribeError(2, f"unknown currency pair{sep}{name}")
