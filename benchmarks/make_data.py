"""Write benchmarks/data/*.jsonl: synthesized, realistic Gate futures frames for bench_decode.

    python -m benchmarks.make_data

Deterministic (fixed seed): the same files every run, so results compare across commits. One
frame per line, exactly as Gate would send it (compact JSON text). Shapes follow the live frames
quoted in the spec (/work/shared/gate-futures-ws-v4.md), without the size-decimal header:

- trades: 2026-08 live shape (6.2), mostly one trade a frame, sometimes a burst of 2-5;
- order_book_update: 2026-08 live shape (6.5) with `l`, about 20 levels a frame (100 ms deltas);
- obu: 2026-09 live shape (6.6), `[price, size]` string arrays, about 20 levels a frame;
- tickers: the full 2026 field set (6.1), one contract a frame;
- book_ticker: 2026-08 live shape (6.3);
- orders: the 2024-12 live shape (7.1) with numeric price/fill_price and a big id.

Values random-walk around plausible BTC/ETH/SOL markets so that number lengths vary as live.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
FRAMES_PER_KIND = 200
SEED = 20260812
CONTRACTS = {"BTC_USDT": (64000.0, 1), "ETH_USDT": (2600.0, 2), "SOL_USDT": (147.6, 3)}


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def price(value: float, places: int) -> str:
    # Gate writes prices without trailing zeros ("64013", "64013.1").
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


class Market:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.t_ms = 1786540562811
        self.update_id = 121506953481
        self.trade_id = 807645690
        self.order_id = 58828270140012048

    def tick(self, ms: int = 100) -> int:
        self.t_ms += self.rng.randint(ms // 2, ms * 2)
        return self.t_ms

    def envelope(self, channel: str, result: object, *, server_ms: int = 4) -> dict[str, Any]:
        sent = self.t_ms + self.rng.randint(0, server_ms)
        return {
            "time": sent // 1000,
            "time_ms": sent,
            "channel": channel,
            "event": "update",
            "result": result,
        }

    def contract(self) -> tuple[str, float, int]:
        name = self.rng.choice(list(CONTRACTS))
        mid, places = CONTRACTS[name]
        return name, mid * (1 + self.rng.uniform(-0.01, 0.01)), places

    def levels(self, mid: float, places: int, count: int, side: int) -> list[tuple[str, int]]:
        step = 10**-places
        offsets = sorted(self.rng.sample(range(1, 400), count))
        out = []
        for offset in offsets:
            size = 0 if self.rng.random() < 0.3 else self.rng.randint(1, 60000)
            out.append((price(mid + side * offset * step, places), size))
        return out

    def trades(self) -> str:
        name, mid, places = self.contract()
        count = 1 if self.rng.random() < 0.8 else self.rng.randint(2, 5)
        t = self.tick(50)
        result = []
        for _ in range(count):
            self.trade_id += 1
            result.append(
                {
                    "id": self.trade_id,
                    "size": self.rng.choice([-1, 1]) * self.rng.randint(1, 5000),
                    "create_time": t // 1000,
                    "create_time_ms": t,
                    "price": price(mid, places),
                    "contract": name,
                }
            )
        return dumps(self.envelope("futures.trades", result))

    def order_book_update(self) -> str:
        name, mid, places = self.contract()
        first = self.update_id + 1
        self.update_id += self.rng.randint(5, 40)
        n_asks = self.rng.randint(7, 13)
        n_bids = self.rng.randint(7, 13)
        result = {
            "t": self.tick(),
            "U": first,
            "u": self.update_id,
            "s": name,
            "a": [{"p": p, "s": s} for p, s in self.levels(mid, places, n_asks, +1)],
            "b": [{"p": p, "s": s} for p, s in self.levels(mid, places, n_bids, -1)],
            "l": "100",
        }
        return dumps(self.envelope("futures.order_book_update", result))

    def obu(self) -> str:
        name, mid, places = self.contract()
        first = self.update_id + 1
        self.update_id += self.rng.randint(5, 40)
        n_asks = self.rng.randint(7, 13)
        n_bids = self.rng.randint(7, 13)
        result = {
            "t": self.tick(),
            "s": f"ob.{name}.400",
            "U": first,
            "u": self.update_id,
            "b": [[p, str(s)] for p, s in self.levels(mid, places, n_bids, -1)],
            "a": [[p, str(s)] for p, s in self.levels(mid, places, n_asks, +1)],
        }
        return dumps(self.envelope("futures.obu", result))

    def tickers(self) -> str:
        name, mid, places = self.contract()
        change = self.rng.uniform(-0.03, 0.03)
        volume = self.rng.randint(10**8, 10**9)
        t = self.tick(1000)
        rate = f"{self.rng.uniform(-0.0001, 0.0001):.6f}"
        result = [
            {
                "contract": name,
                "last": price(mid, places),
                "change_percentage": f"{change * 100:.4f}",
                "total_size": str(self.rng.randint(10**8, 10**9)),
                "volume_24h": str(volume),
                "volume_24h_base": price(volume / 10000, 4),
                "volume_24h_quote": str(int(volume / 10000 * mid)),
                "volume_24h_settle": str(int(volume / 10000 * mid)),
                "mark_price": price(mid * 1.00001, places),
                "funding_rate": rate,
                "funding_rate_indicative": rate,
                "funding_interval": 28800,
                "funding_offset": 0,
                "funding_next_apply": (t // 1000 // 28800 + 1) * 28800,
                "index_price": price(mid * 1.0002, places),
                "quanto_base_rate": "",
                "low_24h": price(mid * 0.98, places),
                "high_24h": price(mid * 1.02, places),
                "price_type": "last",
                "change_from": "24h",
                "change_price": price(mid * change, places),
                "t": t - self.rng.randint(0, 500),
            }
        ]
        return dumps(self.envelope("futures.tickers", result))

    def book_ticker(self) -> str:
        name, mid, places = self.contract()
        self.update_id += self.rng.randint(1, 5)
        step = 10**-places
        result = {
            "t": self.tick(10),
            "u": self.update_id,
            "s": name,
            "b": price(mid, places),
            "B": self.rng.randint(1, 60000),
            "a": price(mid + step, places),
            "A": self.rng.randint(1, 60000),
        }
        return dumps(self.envelope("futures.book_ticker", result))

    def orders(self) -> str:
        name, mid, places = self.contract()
        self.order_id += self.rng.randint(1, 10**6)
        size = self.rng.choice([-1, 1]) * self.rng.randint(1, 100)
        t = self.tick(1000)
        filled = self.rng.random() < 0.4
        limit = round(mid, places)
        order = {
            "tkfr": 0.0005,
            "text": self.rng.choice(["api", "web", "t-KAICtn9Y5BkCAQAAAAAA"]),
            "user": "16792411",
            "stp_act": "-",
            "id": self.order_id,
            "refr": 0,
            "is_reduce_only": False,
            "mkfr": 0.0002,
            "stop_loss_price": "",
            "is_liq": False,
            "fill_price": limit if filled else 0,
            "finish_as": "filled" if filled else "_new",
            "size": size,
            "contract": name,
            "stop_profit_price": "",
            "create_time_ms": t - 10,
            "status": "finished" if filled else "open",
            "price": limit,
            "biz_info": "ch:daniugege",
            "is_close": False,
            "left": 0 if filled else size,
            "tif": "gtc",
            "finish_time_ms": t,
            "stp_id": "0",
            "update_id": 2 if filled else 1,
            "iceberg": 0,
            "refu": 0,
            "finish_time": t // 1000,
            "amend_text": "-",
            "create_time": (t - 10) // 1000,
        }
        return dumps(self.envelope("futures.orders", [order]))


KINDS = ("trades", "order_book_update", "obu", "tickers", "book_ticker", "orders")


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for kind in KINDS:
        market = Market(random.Random(f"{SEED}:{kind}"))
        make = getattr(market, kind)
        lines = [make() for _ in range(FRAMES_PER_KIND)]
        (DATA / f"{kind}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        mean = sum(map(len, lines)) / len(lines)
        print(f"{kind}: {len(lines)} frames, mean {mean:.0f} B")


if __name__ == "__main__":
    main()
