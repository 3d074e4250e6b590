"""A fast trading-API responder for `bench_orders --server fast`: Gate's reply shapes, no engine.

    python -m benchmarks.order_server [--port 0]     prints "port N", serves until killed

The fake exchange (`python -m gatetrio serve`) carries every order out: it matches it against
its book, pushes it to private subscribers, and answers through trio-websocket. That is the
point of a fake, and it takes the larger part of a round trip, so against it every client
measures about the same. This server answers the way Gate does (spec 8.3-8.7: the login result,
the order_place ack echo then the order result, the cancel's finished order, futures.pong), from
templates, with the request's own id, text, contract, size and price and fresh order ids: what
is left of a round trip is the client. It checks nothing (no signatures, no rate limits).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from typing import TYPE_CHECKING, Any, Final

from websockets.asyncio.server import ServerConnection, serve

if TYPE_CHECKING:
    from collections.abc import Sequence

ORDER_IDS: Final = itertools.count(58_000_000_000_000_001)  # beyond 2**53, as Gate's


def _header(channel: str) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    return {
        "response_time": str(now_ms),
        "status": "200",
        "channel": channel,
        "event": "api",
        "client_id": "127.0.0.1-0x1",
        "conn_id": "c0ffee",
        "trace_id": "0" * 32,
        "x_in_time": now_ms * 1000,
        "x_out_time": now_ms * 1000 + 87,
    }


def _order(param: dict[str, Any], *, status: str = "open", order_id: int | None = None) -> object:
    now = round(time.time(), 3)
    order: dict[str, Any] = {
        "id": next(ORDER_IDS) if order_id is None else order_id,
        "user": 20011,
        "contract": param.get("contract", "BTC_USDT"),
        "create_time": now,
        "update_time": now,
        "size": param.get("size", 1),
        "left": param.get("size", 1),
        "price": param.get("price", "0"),
        "fill_price": "0",
        "status": status,
        "tif": param.get("tif", "gtc"),
        "text": param.get("text", "apiv4-ws"),
        "iceberg": 0,
        "tkfr": "0.0005",
        "mkfr": "0.0002",
        "biz_info": "-",
        "amend_text": param.get("amend_text", "-"),
        "stp_act": "-",
    }
    if status == "finished":
        order |= {"finish_as": "cancelled", "finish_time": now}
    return order


def replies(msg: dict[str, Any]) -> list[str]:
    """What Gate sends back for one client frame."""
    channel = msg.get("channel", "")
    if channel == "futures.ping":
        now = int(time.time())
        return [json.dumps({"time": now, "time_ms": now * 1000, "channel": "futures.pong"})]
    payload = msg.get("payload") or {}
    req_id = str(payload.get("req_id", ""))
    param = payload.get("req_param") or {}
    head = _header(channel)
    out: list[str] = []
    if channel == "futures.login":
        result: object = {"uid": "20011", "api_key": ""}
    elif channel == "futures.order_place":
        echo = {"req_id": req_id, "req_header": {}, "req_param": param}
        out.append(
            json.dumps(
                {"header": head, "data": {"result": echo}, "request_id": req_id, "ack": True}
            )
        )
        result = _order(param)
    elif channel == "futures.order_cancel":
        order_id = str(param.get("order_id", "1"))
        result = _order({}, status="finished", order_id=int(order_id) if order_id.isdigit() else 1)
    else:
        errs = {"label": "INVALID_ARGUMENT", "message": f"not served: {channel}"}
        refusal = {"header": head | {"status": "400"}, "data": {"errs": errs}}
        return [json.dumps(refusal | {"request_id": req_id})]
    out.append(json.dumps({"header": head, "data": {"result": result}, "request_id": req_id}))
    return out


async def _answer(ws: ServerConnection) -> None:
    async for message in ws:
        try:
            msg = json.loads(message)
        except ValueError:
            continue
        for reply in replies(msg):
            await ws.send(reply)


async def _serve(port: int) -> None:
    async with serve(_answer, "127.0.0.1", port, compression=None, max_size=2**20) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"port {bound}", flush=True)
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
