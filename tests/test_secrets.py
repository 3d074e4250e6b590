"""No key, secret, signature or password in any text a logged-in session produces (issue 17.7).

One session does what a trader's program does (private subscriptions, trading requests, a
rejected one, a recording, a raw-frame tap, events, statistics, DEBUG logging, a failed login),
and every piece of text it leaves behind is searched for the key, the secret and every signature
the fake exchange received from it: reprs, log records (with their tracebacks), exception texts,
statistics, events, raw frames, the recording's files (decompressed) and its manifest. The
recording's files are private to the user (0600 in a 0700 directory).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import traceback
from typing import TYPE_CHECKING, Any

import pytest
import trio

import gatetrio
from gatetrio import channels
from gatetrio.recording import open_recorder, read_recording
from gatetrio.testing import FakeGateServer
from tests.helpers import CREDS, EventLog, client_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from trio.testing import MockClock

# distinctive values, so a hit is never a coincidence (and never a real account's)
KEY, SECRET, USER = CREDS.key, CREDS.secret, CREDS.user_id
PASSWORD = "pa55w0rd-n0t-f0r-y0ur-eye5"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # the message and any traceback, as printed


@pytest.fixture
def library_log() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger("gatetrio")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _signatures(server: FakeGateServer) -> set[str]:
    """Every signature the client sent over the socket: login and trading requests, private
    subscriptions (REST signatures are recorded where they are made: `rest_signatures`)."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                if name in ("signature", "SIGN") and isinstance(item, str) and item:
                    found.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for received in server.received:
        frame = received.frame
        walk(json.loads(frame) if isinstance(frame, str) else frame)
    return found


def _exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def _assert_clean(texts: dict[str, str], secrets: set[str]) -> None:
    leaks = [
        f"{where}: {secret[:6]}..."
        for where, text in texts.items()
        for secret in secrets
        if secret in text
    ]
    assert not leaks, leaks


@pytest.fixture
def rest_signatures(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every REST signature the client makes from here on (the SIGN header's value)."""
    from gatetrio._shell import _rest

    made: set[str] = set()
    sign = _rest.sign_rest  # type: ignore[attr-defined]

    def recording(*args: Any, **kwargs: Any) -> dict[str, str]:
        headers = sign(*args, **kwargs)
        made.add(headers["SIGN"])
        return headers

    monkeypatch.setattr(_rest, "sign_rest", recording)
    return made


async def test_a_logged_in_session_leaves_no_secret_anywhere(
    autojump_clock: MockClock, tmp_path: Path, library_log: _Records, rest_signatures: set[str]
) -> None:
    server = FakeGateServer(seed=0, credentials=CREDS)
    capture = tmp_path / "capture"
    texts: dict[str, str] = {}
    log = EventLog()
    frames: list[gatetrio.RawFrame] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        config = client_config(credentials=CREDS)
        async with gatetrio.open_client(
            connector=server.connector,
            rest_transport=server.rest_transport,
            config=config,
            wall_clock=server.wall_time,
        ) as client:
            await nursery.start(log.record, client)  # to the client's end: its close too
            async with (
                open_recorder(client, capture, wall_clock=server.wall_time, in_thread=False),
                client.raw_frames() as tap,
                client.subscribe(channels.orders(USER, "BTC_USDT")) as orders,
                client.subscribe(channels.usertrades(USER, "BTC_USDT")) as fills,
                client.subscribe(channels.positions(USER)) as positions,
                client.subscribe(channels.balances(USER)) as balances,
            ):
                placed = await client.request(
                    gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="30000", text="t-1")
                )
                assert isinstance(placed, gatetrio.Order)
                crossing = await client.request(
                    gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="0", tif="ioc")
                )
                cancelled = await client.request(gatetrio.CancelOrder(order_id=placed.id))
                with pytest.raises(gatetrio.RequestRejected) as rejected:
                    await client.request(
                        gatetrio.PlaceOrder(contract="NOPE_USDT", size=1, price="1")
                    )
                listed = await client.request(
                    gatetrio.ListOrders(contract="BTC_USDT", status="open")
                )
                login = await client.request(gatetrio.Login())  # its reply holds the key
                # signed REST: the account's positions, and a call the exchange refuses
                rest = client.rest
                positions_body = await rest.get(rest.route.market_path("positions"), signed=True)
                with pytest.raises(gatetrio.GateTrioError) as refused:
                    await rest.get(rest.route.market_path("no_such_call"), signed=True)
                texts["rest"] = repr(positions_body) + _exception_text(refused.value)
                texts["rest statistics"] = repr(rest.statistics())
                await trio.sleep(3)
                items: list[object] = [orders.receive_nowait()]
                for name, sub in (
                    ("fills", fills),
                    ("positions", positions),
                    ("balances", balances),
                ):
                    texts[f"{name} statistics"] = repr(sub.statistics())
                    while True:
                        try:
                            items.append(sub.receive_nowait())
                        except trio.WouldBlock:
                            break
                while True:
                    try:
                        frames.append(tap.receive_nowait())
                    except trio.WouldBlock:
                        break
                texts["replies"] = repr([placed, crossing, cancelled, listed, login])
                texts["replies str"] = str(login) + str(placed)
                texts["items"] = repr(items)
                texts["rejected"] = _exception_text(rejected.value)
                texts["subscription"] = repr(orders) + repr(orders.statistics())
            texts["client"] = repr(client) + repr(client.config)
            texts["statistics"] = repr(client.statistics())
        # a login that fails: the exchange's refusal must not carry the key either
        wrong = gatetrio.Credentials(key=KEY, secret="not-" + SECRET, user_id=USER)
        with pytest.raises(gatetrio.GateTrioError) as failed:
            async with gatetrio.open_client(
                connector=server.connector,
                config=client_config(credentials=wrong),
                wall_clock=server.wall_time,
            ) as client:
                await client.request(gatetrio.ListOrders(contract="BTC_USDT", status="open"))
        texts["failed login"] = _exception_text(failed.value)
        nursery.cancel_scope.cancel()

    signatures = _signatures(server)
    assert len(signatures) >= 5  # the login, the private subscriptions, the failed login
    assert len(rest_signatures) >= 2
    signatures |= rest_signatures
    assert frames, "the tap saw the session"
    assert any(f.channel == "futures.login" for f in server.received)
    texts["raw frames"] = repr(frames)
    texts["events"] = repr(log.items) + "".join(str(e.reason) for e in log.items)
    texts["log"] = "\n".join(library_log.lines)
    assert any("DEBUG" in line for line in library_log.lines)
    texts["reprs"] = repr(CREDS) + str(CREDS) + repr(client_config(credentials=CREDS))
    for path in sorted(capture.iterdir()):
        texts[path.name] = path.read_bytes().decode("latin-1")
    texts["recording"] = "\n".join(repr(line) for line in read_recording(capture))
    assert "futures.login" in texts["recording"]  # the login reply was recorded, redacted
    _assert_clean(texts, {KEY, SECRET, *signatures})


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
async def test_a_recording_is_private_to_its_user(
    autojump_clock: MockClock, tmp_path: Path
) -> None:
    server = FakeGateServer(seed=0)
    capture = tmp_path / "new" / "capture"
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        async with (
            gatetrio.open_client(
                connector=server.connector, config=client_config(), wall_clock=server.wall_time
            ) as client,
            open_recorder(
                client, capture, wall_clock=server.wall_time, in_thread=False, max_part_bytes=1
            ),
            client.subscribe(channels.trades("BTC_USDT")),
        ):
            await trio.sleep(5)  # several parts (one batch each)
        nursery.cancel_scope.cancel()
    assert stat.S_IMODE(capture.stat().st_mode) == 0o700
    files = sorted(capture.iterdir())
    assert len(files) > 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    # whatever the umask: a permissive one does not widen them
    old = os.umask(0)
    try:
        again = tmp_path / "again"
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            async with (
                gatetrio.open_client(
                    connector=server.connector, config=client_config(), wall_clock=server.wall_time
                ) as client,
                open_recorder(client, again, wall_clock=server.wall_time, in_thread=False),
            ):
                await trio.sleep(1)
            nursery.cancel_scope.cancel()
    finally:
        os.umask(old)
    assert stat.S_IMODE(again.stat().st_mode) == 0o700
    for path in again.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_reprs_redact_every_credential() -> None:
    from gatetrio.nats import NatsOptions

    texts = {
        "Credentials": repr(CREDS) + str(CREDS),
        "ClientConfig": repr(gatetrio.ClientConfig(credentials=CREDS)),
        "NatsOptions": repr(NatsOptions(servers="nats://127.0.0.1:4222", password=PASSWORD)),
        "NatsOptions URL": repr(NatsOptions(servers=f"nats://me:{PASSWORD}@127.0.0.1:4222")),
        "NatsOptions token URL": repr(
            NatsOptions(servers=(f"tls://{PASSWORD}@nats.example:4222",))
        ),
    }
    _assert_clean(texts, {KEY, SECRET, PASSWORD})
    assert "user_id='20011'" in texts["Credentials"]  # what is not secret still shows


def test_redaction_masks_fields_and_the_key_and_passes_other_frames_untouched() -> None:
    from gatetrio._core._redact import REDACTED, redact_frame, redact_json, redact_text

    book = '{"time":1,"channel":"futures.obu","result":{"b":[["63990.1","12"]]}}'
    assert redact_frame(book, KEY) is book  # no copy, no change: the common case
    assert redact_frame(book.encode(), KEY) == book.encode()
    login = (
        '{"header":{"channel":"futures.login"},"data":{"result":{"uid":"1",'
        f'"api_key":"{KEY}","signature" : "a\\"b"}}}},"request_id":"1"}}'
    )
    for masked in (redact_frame(login, KEY), redact_frame(login.encode(), KEY)):
        text = masked if isinstance(masked, str) else masked.decode()
        assert KEY not in text
        assert '"signature" : "<redacted>"' in text
        assert json.loads(text)["data"]["result"] == {
            "uid": "1",
            "api_key": REDACTED,
            "signature": REDACTED,
        }
    # the key anywhere else in a frame (an error text quoting it) goes too
    assert KEY not in str(redact_frame(f'{{"message":"bad key {KEY}"}}', KEY))
    assert redact_json({"a": [{"SIGN": "x", "n": 1}], "KEY": ""}) == {
        "a": [{"SIGN": REDACTED, "n": 1}],
        "KEY": "",
    }
    assert redact_text(login).count(REDACTED) == 2
    error = gatetrio.ProtocolError("bad", raw=login + " " * 500)
    assert error.raw is not None
    assert KEY not in error.raw
    assert KEY not in repr(error)
