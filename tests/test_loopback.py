"""`python -m gatetrio serve`: the fake on a real port, driven as an outside client would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
import trio
import trio_websocket

from gatetrio._cli._main import build_parser, main
from gatetrio._core._decode import decode_message
from gatetrio._core._events import OrderBookUpdate, Pong, SubscribeAck, TradesUpdate
from gatetrio.testing import FaultSpec, parse_fault

pytestmark = pytest.mark.slow

BANNER = re.compile(r"listening on 127\.0\.0\.1:(\d+) \(seed 1\)")


async def start_server(*extra: str) -> tuple[trio.Process, int, trio.abc.ReceiveStream]:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "gatetrio", "serve", "--port", "0", "--seed", "1", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    assert process.stderr is not None
    text = b""
    try:
        with trio.fail_after(20):
            while b"\n" not in text:
                chunk = await process.stdout.receive_some()
                assert chunk, "the server exited before printing its port"
                text += chunk
        match = BANNER.search(text.decode())
        assert match, text
    except BaseException:
        process.kill()  # never leave a server running behind a failed test
        raise
    return process, int(match.group(1)), process.stderr


async def stop(process: trio.Process, signum: int, stderr: trio.abc.ReceiveStream) -> bytes:
    process.send_signal(signum)
    with trio.fail_after(20):
        code = await process.wait()
        errors = b""
        while chunk := await stderr.receive_some():
            errors += chunk
    # Ctrl-C exits 130 (the shell's "interrupted"), SIGTERM 0 (a service's normal stop)
    assert code == (130 if signum == signal.SIGINT else 0), (code, errors)
    return errors


async def test_loopback_server_speaks_ws_and_rest() -> None:
    process, port, stderr = await start_server()
    try:
        url = f"ws://127.0.0.1:{port}/v4/ws/usdt"
        async with trio_websocket.open_websocket_url(
            url, extra_headers=[(b"X-Gate-Size-Decimal", b"1")]
        ) as ws:
            # the official SDK's request format: time, channel, event, payload; no id
            request = {"time": 1786540578, "channel": "futures.trades", "event": "subscribe"}
            await ws.send_message(json.dumps({**request, "payload": ["BTC_USDT"]}))
            sub = ["BTC_USDT", "100ms", "20"]
            await ws.send_message(
                json.dumps(
                    {
                        "time": 1,
                        "channel": "futures.order_book_update",
                        "event": "subscribe",
                        "payload": sub,
                    }
                )
            )
            await ws.send_message(json.dumps({"time": 1786540578, "channel": "futures.ping"}))
            seen: dict[type, object] = {}
            with trio.fail_after(20):
                while len(seen) < 4:
                    event = decode_message(await ws.get_message())
                    if isinstance(event, SubscribeAck | Pong | TradesUpdate | OrderBookUpdate):
                        seen.setdefault(type(event), event)
            trade = seen[TradesUpdate]
            assert isinstance(trade, TradesUpdate)
            assert trade.result[0].contract == "BTC_USDT"
            delta = seen[OrderBookUpdate]
            assert isinstance(delta, OrderBookUpdate)

            rest = f"http://127.0.0.1:{port}/api/v4/futures/usdt/order_book"
            params = {"contract": "BTC_USDT", "limit": "20", "with_id": "true"}
            response = await trio.to_thread.run_sync(lambda: httpx.get(rest, params=params))
            assert response.status_code == 200
            snapshot = response.json()
            assert len(snapshot["bids"]) == len(snapshot["asks"]) == 20
            assert isinstance(snapshot["bids"][0]["s"], int)  # no size-decimal header here
            # the REST id is on the WebSocket streams' counter: later deltas follow on from it
            assert snapshot["id"] >= delta.result.u
            with trio.fail_after(10):
                while True:
                    event = decode_message(await ws.get_message())
                    if isinstance(event, OrderBookUpdate) and event.result.u > snapshot["id"]:
                        break
            assert snapshot["id"] + 1 >= event.result.U
            missing = await trio.to_thread.run_sync(
                lambda: httpx.get(f"http://127.0.0.1:{port}/nope")
            )
            assert missing.status_code == 404
        # an unknown WebSocket path is refused in the handshake (raw: trio-websocket 0.12
        # leaks its socket when a handshake is rejected)
        async with await trio.open_tcp_stream("127.0.0.1", port) as raw:
            await raw.send_all(
                b"GET /v4/ws/eur HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            with trio.fail_after(10):
                reply = await raw.receive_some()
            assert reply.startswith(b"HTTP/1.1 404 ")
    finally:
        errors = await stop(process, signal.SIGTERM, stderr)
    assert b"Traceback" not in errors


async def test_ctrl_c_and_duration_exit_cleanly() -> None:
    process, _port, stderr = await start_server("--fault", "refuse:1")
    errors = await stop(process, signal.SIGINT, stderr)
    assert b"Traceback" not in errors
    with trio.fail_after(60):  # a stuck --duration fails the test instead of hanging CI
        result = await trio.run_process(
            [sys.executable, "-m", "gatetrio", "serve", "--port", "0", "--duration", "0.5"],
            capture_stdout=True,
            capture_stderr=True,
        )
    assert result.returncode == 0, result.stderr
    assert b"listening on" in result.stdout, result.stdout


def test_fault_options_parse() -> None:
    assert parse_fault("gap:BTC_USDT:5@10/30") == FaultSpec("gap", ("BTC_USDT", "5"), 10.0, 30.0)
    assert parse_fault("drop") == FaultSpec("drop", (), 0.0, None)
    assert parse_fault("upgrade:3@60") == FaultSpec("upgrade", ("3",), 60.0, None)
    for bad in ["explode", "gap", "refuse", "refuse:x", "drop@soon", "drop@1/0"]:
        with pytest.raises(ValueError, match=r"\S"):
            parse_fault(bad)
    args = build_parser().parse_args(["serve", "--fault", "stall@5", "--fault", "resume@9"])
    assert [f.kind for f in args.fault] == ["stall", "resume"]


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--fault", "explode"])
    assert info.value.code == 2
    assert "unknown fault" in capsys.readouterr().err
    assert main(["serve", "--key", "k"]) == 2
