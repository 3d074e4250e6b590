"""The client against servers that misbehave (tests/hostile.py), over real loopback sockets.

Each test is one failure a trading client must survive: refused or redirected upgrades, a peer
that stops reading, upgrade notices on every connection, subscribes never acked, a trading reply
on the wrong socket, secrets in logs. They run on trio's real clock with short timings; each is
capped by a `trio.fail_after` hang guard, and asserts on behaviour, never on elapsed time.
"""

from __future__ import annotations

import json
import logging
import random

import pytest
import trio
from trio_websocket import open_websocket_url

import gatetrio
from gatetrio import ClientEventKind, channels

from .helpers import CREDS, record_events
from .hostile import FLOOD_TEXT, Behaviour, hostile_server, refusing_port

GUARD = 8.0  # s of real time a test may take at most before it counts as hung
SUBSCRIBE_TRADES = (
    '{"time": 1, "id": 7, "channel": "futures.trades", "event": "subscribe",'
    ' "payload": ["BTC_USDT"]}'
)
PING = '{"time": 1, "channel": "futures.ping"}'
PLACE_ORDER = (
    '{"time": 1, "channel": "futures.order_place", "event": "api", "payload": {"req_id": "r-1",'
    ' "req_param": {"contract": "BTC_USDT", "size": 1, "price": "1"}}}'
)


def config(**overrides: object) -> gatetrio.ClientConfig:
    """Short real-time timings; the URL comes from `open_client(url=...)`."""
    base: dict[str, object] = {
        "ping_interval": 1.0,
        "pong_timeout": 1.0,
        "connect_deadline": 1.0,
        "subscribe_deadline": 1.0,
        "first_connect_timeout": 2.0,
        "send_deadline": 1.0,
        "min_reconnect_interval": 0.1,
        "handover_grace": 1.0,
        "backoff_initial": 0.1,
        "backoff_max": 0.2,
        "backoff_jitter": 0.0,
        "rng": random.Random(0),
    }
    base.update(overrides)
    return gatetrio.ClientConfig(**base)  # type: ignore[arg-type]


def gatetrio_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if (r.name == "gatetrio" or r.name.startswith("gatetrio.")) and r.levelno == level
    ]


# ------------------------------------------------------------------------ the fixture itself


async def raw_upgrade(url_port: int) -> bytes:
    """Send a WebSocket upgrade request on a raw socket; return all the server sent back."""
    stream = await trio.open_tcp_stream("127.0.0.1", url_port)
    async with stream:
        await stream.send_all(
            b"GET /v4/ws/usdt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        response = b""
        while chunk := await stream.receive_some(65536):
            response += chunk
    return response


@pytest.mark.parametrize("status", [429, 503, 301, 200])
async def test_fixture_refuses_the_upgrade_with_the_status(status: int) -> None:
    with trio.fail_after(GUARD):
        async with hostile_server(handshake_status=status) as server:
            response = await raw_upgrade(server.port)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert body.startswith(str(status).encode())
    assert (b"\r\nLocation: ws://" in head) == (status == 301)
    assert server.connections == 1
    assert server.handshakes == 0


async def test_fixture_pongs_and_acks_by_default() -> None:
    with trio.fail_after(GUARD):
        async with (
            hostile_server() as server,
            open_websocket_url(server.url) as ws,
        ):
            await ws.send_message(SUBSCRIBE_TRADES)
            ack = json.loads(await ws.get_message())
            await ws.send_message(PING)
            pong = json.loads(await ws.get_message())
    assert (ack["channel"], ack["event"], ack["id"]) == ("futures.trades", "subscribe", 7)
    assert ack["result"] == {"status": "success"}
    assert pong["channel"] == "futures.pong"
    assert server.handshakes == 1
    assert [m["channel"] for m in server.log[0].messages()] == ["futures.trades", "futures.ping"]


async def test_fixture_never_acks_but_still_pongs() -> None:
    with trio.fail_after(GUARD):
        async with (
            hostile_server(never_ack=True) as server,
            open_websocket_url(server.url) as ws,
        ):
            await ws.send_message(SUBSCRIBE_TRADES)
            await ws.send_message(PING)
            first = json.loads(await ws.get_message())
    assert first["channel"] == "futures.pong"  # replies go out in order: no ack came before it


async def test_fixture_sends_the_upgrade_notice_after_each_ack() -> None:
    notices = []
    with trio.fail_after(GUARD):
        async with hostile_server(upgrade_on_every_connection=True) as server:
            for _ in range(2):
                async with open_websocket_url(server.url) as ws:
                    await ws.send_message(SUBSCRIBE_TRADES)
                    ack = json.loads(await ws.get_message())
                    assert ack["event"] == "subscribe"
                    notices.append(json.loads(await ws.get_message()))
    assert [(n["channel"], n["event"], n["result"]["type"]) for n in notices] == [
        ("futures.system", "update", "upgrade")
    ] * 2
    assert server.handshakes == 2


async def test_fixture_answers_a_trading_request_on_the_other_socket() -> None:
    with trio.fail_after(GUARD):
        async with (
            hostile_server(reply_on_other_socket=True) as server,
            open_websocket_url(server.url) as first,
        ):
            await first.send_message(PLACE_ORDER)
            notice = json.loads(await first.get_message())
            async with open_websocket_url(server.url) as second:
                ack = json.loads(await second.get_message())
                result = json.loads(await second.get_message())
    assert notice["channel"] == "futures.system"
    assert (ack["request_id"], ack["ack"]) == ("r-1", True)
    assert result["request_id"] == "r-1"
    assert "ack" not in result
    assert result["data"]["result"]["contract"] == "BTC_USDT"
    assert server.misrouted == [(1, 2, "r-1"), (1, 2, "r-1")]


async def test_fixture_floods_pings_and_stops_reading() -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Ping, Request, TextMessage

    pings = texts = 0
    with trio.fail_after(GUARD):
        async with hostile_server(ping_flood_no_read=True) as server:
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            async with stream:
                ws = WSConnection(ConnectionType.CLIENT)
                await stream.send_all(ws.send(Request(host="127.0.0.1", target="/v4/ws/usdt")))
                while pings < 1000 or texts < 10:
                    ws.receive_data(bytes(await stream.receive_some(65536)))
                    for event in ws.events():
                        if isinstance(event, AcceptConnection):
                            await stream.send_all(ws.send(TextMessage(data="never read")))
                        pings += isinstance(event, Ping)
                        texts += isinstance(event, TextMessage) and event.data == FLOOD_TEXT
    assert server.handshakes == 1
    assert server.log[0].received == []  # the text frame sent after the upgrade was never read
    assert server.log[0].flood_bytes > 0


def test_behaviour_rejects_a_101_refusal() -> None:
    with pytest.raises(ValueError, match="101"):
        Behaviour(handshake_status=101)


# --------------------------------------------------------------------- the client against it


async def test_client_works_against_the_well_behaved_default() -> None:
    """The control: the fixture's frames are ones the client accepts."""
    with trio.fail_after(GUARD):
        async with (
            hostile_server() as server,
            gatetrio.open_client(url=server.url, config=config()) as client,
            client.raw_frames() as frames,  # before the first ping: its pong is in here
            client.subscribe(channels.trades("BTC_USDT")),
        ):
            await server.wait_until(lambda: bool(server.frames("futures.ping")))
            async for frame in frames:  # the reader taps a frame as it handles it
                if isinstance(frame.text, str) and "futures.pong" in frame.text:
                    break
            stats = client.statistics()
    assert stats.url == server.url  # the endpoint actually dialed
    assert stats.connects == 1
    assert stats.open_subscriptions == 1
    assert server.connections == 1


@pytest.mark.parametrize("status", [429, 503, 301, 200])
async def test_refused_handshake_ends_in_first_connect_timeout(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gatetrio")
    first_connect_timeout = 2.0
    min_interval = 0.1
    with trio.fail_after(GUARD):
        async with hostile_server(handshake_status=status) as server:
            with pytest.raises(gatetrio.FirstConnectTimeout) as info:
                async with gatetrio.open_client(
                    url=server.url,
                    config=config(
                        first_connect_timeout=first_connect_timeout,
                        min_reconnect_interval=min_interval,
                    ),
                ):
                    pytest.fail(f"connected to a server that answers every upgrade with {status}")
    error = info.value
    assert isinstance(error, gatetrio.ConnectionLost)
    assert isinstance(error, TimeoutError)
    cause = error.__cause__
    assert isinstance(cause, gatetrio.ConnectionLost)
    assert str(status) in cause.reason
    # it kept trying, no faster than min_reconnect_interval, and the server saw each attempt
    assert 2 <= error.attempts <= first_connect_timeout / min_interval + 2
    assert abs(server.connections - error.attempts) <= 1  # the last may be cut short
    warnings = gatetrio_records(caplog, logging.WARNING)
    assert len(warnings) >= error.attempts - 1
    assert any(str(status) in r.getMessage() for r in warnings)


async def test_refused_tcp_connection_ends_in_first_connect_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gatetrio")
    with (
        trio.fail_after(GUARD),
        refusing_port() as url,
        pytest.raises(gatetrio.FirstConnectTimeout) as info,
    ):
        async with gatetrio.open_client(url=url, config=config()):
            pytest.fail("connected to a port that refuses TCP")
    cause = info.value.__cause__
    assert isinstance(cause, gatetrio.ConnectionLost)
    assert "refused" in cause.reason.lower()
    assert info.value.attempts >= 2
    warnings = gatetrio_records(caplog, logging.WARNING)
    assert any("refused" in r.getMessage().lower() for r in warnings)


async def test_peer_that_stops_reading_is_aborted_and_replaced() -> None:
    with trio.fail_after(GUARD):
        async with (
            hostile_server(ping_flood_no_read=True) as server,
            gatetrio.open_client(
                url=server.url,
                config=config(ping_interval=0.5, pong_timeout=1.0, send_deadline=0.5),
            ) as client,
            record_events(client) as log,
        ):
            await server.wait_until(lambda: server.handshakes >= 2)
    assert server.log[0].flood_bytes > 0
    disconnected = log.of(ClientEventKind.DISCONNECTED)
    assert disconnected, log.kinds()
    reason = disconnected[0].reason.lower()
    # HeartbeatTimeout: the pong deadline or the send deadline, whichever came first
    assert any(word in reason for word in ("pong", "heartbeat", "send", "deadline")), reason


async def test_upgrade_on_every_connection_is_followed_at_a_bounded_rate() -> None:
    min_interval = 0.5
    with trio.fail_after(GUARD):
        async with hostile_server(upgrade_on_every_connection=True) as server:
            start = trio.current_time()
            async with (
                gatetrio.open_client(
                    url=server.url, config=config(min_reconnect_interval=min_interval)
                ) as client,
                client.subscribe(channels.trades("BTC_USDT")),
            ):
                await trio.sleep(3.0)  # the window the rate is measured over
                upgrades = client.statistics().upgrades
            elapsed = trio.current_time() - start
    assert upgrades >= 1  # it does follow the notices (make before break)...
    assert server.handshakes >= 2
    # ...but never more often than min_reconnect_interval allows
    assert server.connections <= elapsed / min_interval + 2, server.connections


async def test_unacked_subscribe_times_out_and_leaves_nothing_registered() -> None:
    with trio.fail_after(GUARD):
        async with (
            hostile_server(never_ack=True) as server,
            gatetrio.open_client(url=server.url, config=config(subscribe_deadline=1.0)) as client,
        ):
            with pytest.raises(gatetrio.SubscribeTimeout) as info:
                async with client.subscribe(channels.trades("BTC_USDT")):
                    pytest.fail("subscribed without an ack")
            stats = client.statistics()
    assert isinstance(info.value, TimeoutError)
    assert info.value.channel == "futures.trades"
    assert stats.open_subscriptions == 0
    assert server.frames("futures.trades", "subscribe")  # it was sent; only the ack is missing


async def test_trading_reply_on_another_socket_is_not_accepted() -> None:
    order = gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="1000", tif="gtc")
    with trio.fail_after(GUARD):
        async with (
            hostile_server(reply_on_other_socket=True) as server,
            gatetrio.open_client(
                url=server.url, credentials=CREDS, config=config(handover_grace=1.0)
            ) as client,
        ):
            with pytest.raises(gatetrio.ConnectionLost):
                await client.request(order)
            # the reply to connection 1's order really went out on connection 2
            assert [(a, b) for a, b, _ in server.misrouted] == [(1, 2), (1, 2)]
            # the control: a request sent on connection 2 is answered there, and accepted
            result = await client.request(order)
    assert isinstance(result, gatetrio.Order)
    places = server.frames("futures.order_place")
    assert [index for index, _ in places] == [1, 2]  # the first was never replayed
    assert server.misrouted[0][2] == places[0][1]["payload"]["req_id"]


async def test_logs_say_why_connects_fail_and_never_contain_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="gatetrio")
    with trio.fail_after(GUARD):
        async with hostile_server(handshake_status=503) as refusing:
            with pytest.raises(gatetrio.FirstConnectTimeout):
                async with gatetrio.open_client(
                    url=refusing.url, credentials=CREDS, config=config(first_connect_timeout=1.0)
                ):
                    pytest.fail("connected through a 503")
        # the secret is in use here: the login and the private subscribe are signed with it
        async with (
            hostile_server() as server,
            gatetrio.open_client(url=server.url, credentials=CREDS, config=config()) as client,
        ):
            await client.request(gatetrio.Login())
            async with client.subscribe(channels.orders(CREDS.user_id)):
                pass
    assert server.frames("futures.login")
    assert server.frames("futures.orders", "subscribe")
    records = [r for r in caplog.records if r.name.split(".")[0] == "gatetrio"]
    assert any(r.levelno == logging.WARNING and "503" in r.getMessage() for r in records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        text = formatter.format(record) + repr(record.args) + repr(vars(record))
        assert CREDS.secret not in text, record
    assert CREDS.secret not in caplog.text
