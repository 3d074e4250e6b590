"""Hostile upgrade handshakes, against the client's transport and the whole client.

Connection 1 answers the upgrade request in a hostile way; connection 2 is well behaved. A
handshake the client must refuse ends in ConnectionLost ("handshake: ..." or "connect: ..."),
counted in `statistics().connect_failures` and logged at WARNING with its reason (no event:
`events()` opens once connected), and the client connects again; one it must accept (interim
1xx responses, bare LFs, a response cut into single bytes) gives a working connection 1. Every
case is bounded in virtual time: a server that answers slowly or never is cut off by
`connect_deadline`. The same cases also run over loopback TCP with the default connector.
"""

from __future__ import annotations

import logging
from typing import Final

import attrs
import pytest
import trio
import trio.testing

from gatetrio import ConnectionLost
from gatetrio._shell._transport._wsproto import MAX_RESPONSE_HEAD, ResponseHead

from .hostile_run import drive, hostile_config, loopback_config
from .scripted import (
    Await,
    Eof,
    Hold,
    Repeat,
    Reply,
    Script,
    Send,
    Trickle,
    Upgrade,
    ack_for,
    trade_text,
    upgrade_response,
)

CONNECT_DEADLINE: Final = 5.0  # hostile_config's


def respond(**options: object) -> Upgrade:
    return Upgrade(lambda key: upgrade_response(key, **options))  # type: ignore[arg-type]


def answer(data: bytes) -> Upgrade:
    """Answer the upgrade request with `data`, whatever the request said."""
    return Upgrade(lambda _key: data)


def then_trade(upgrade: Upgrade, *more: object) -> Script:
    """`upgrade`, then serve the trades subscribe and send the MARK_ID trade on it."""
    return Script(
        (upgrade, *more, Await("futures.trades", "subscribe"), Reply(ack_for), Send(trade_text()))  # type: ignore[arg-type]
    )


@attrs.frozen
class Case:
    name: str
    script: Script
    refused: str = ""  # in the ConnectionLost reason; "" = connection 1 must work
    max_time: float = 3.0  # virtual seconds for the run


CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
ACCEPTED: Final = [
    Case("100 Continue before 101", then_trade(respond(before=CONTINUE))),
    Case(
        "several 1xx with headers",
        then_trade(
            respond(
                before=CONTINUE
                + b"HTTP/1.1 102 Processing\r\n\r\n"
                + b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
                + b"HTTP/1.1 199 Whatever\r\nX-A: b\r\n\r\n"
            )
        ),
    ),
    Case("1xx with bare LFs", then_trade(respond(before=b"HTTP/1.1 100 Continue\n\n"))),
    Case(
        "101 with bare LFs and a frame right behind it",
        Script(
            (
                Upgrade(lambda key: upgrade_response(key).replace(b"\r\n", b"\n") + trade_text(7)),
                Await("futures.trades", "subscribe"),
                Reply(ack_for),
                Send(trade_text()),
            )
        ),
    ),
    Case(
        "1xx and 101 one byte at a time",
        then_trade(Upgrade(lambda key: upgrade_response(key, before=CONTINUE), trickle=0.001)),
    ),
    Case(
        "101 with extra headers and a body length",
        then_trade(respond(extra=[(b"Server", b"x" * 4000), (b"Content-Length", b"0")])),
    ),
    Case(
        "101 with the headers in odd case",
        then_trade(respond(upgrade=b"WebSocket", connection=b"upgrade")),
    ),
]

REFUSED: Final = [
    Case(
        "wrong Sec-WebSocket-Accept",
        Script((respond(accept=b"dGhlIHNhbXBsZSBub25jZQ=="),)),
        "accept",
    ),
    Case("no Sec-WebSocket-Accept", Script((respond(accept=b""),)), "accept token"),
    Case("no Upgrade header", Script((respond(upgrade=None),)), "Upgrade: websocket"),
    Case("no Connection header", Script((respond(connection=None),)), "Connection: Upgrade"),
    Case("Upgrade: h2c", Script((respond(upgrade=b"h2c"),)), "Upgrade: websocket"),
    Case(
        "an extension not asked for",
        Script((respond(extra=[(b"Sec-WebSocket-Extensions", b"permessage-deflate")]),)),
        "extension",
    ),
    Case(
        "a subprotocol not asked for",
        Script((respond(extra=[(b"Sec-WebSocket-Protocol", b"chat")]),)),
        "subprotocol",
    ),
    Case(
        "HTTP/1.0 101",
        Script((respond(status=b"HTTP/1.0 101 Switching Protocols"),)),
        "HTTP/1.0 101",
    ),
    Case("HTTP/2 101", Script((respond(status=b"HTTP/2 101 Switching Protocols"),)), "HTTP/2 101"),
    Case(
        "200 OK",
        Script((answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),)),
        "HTTP 200",
    ),
    Case(
        "429 with a body and no length",
        Script((answer(b"HTTP/1.1 429 Slow down\r\n\r\n" + b"x" * 100), Eof())),
        "HTTP 429",
    ),
    Case(
        "1xx then 403",
        Script((answer(CONTINUE + b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),)),
        "HTTP 403",
    ),
    Case(
        "1xx then EOF",
        Script((answer(CONTINUE), Eof())),
        "closed during the handshake",
    ),
    Case("garbage", Script((answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),)), "connect"),
    Case("binary garbage", Script((answer(bytes(range(256)) * 4),)), "connect"),
    Case("a frame instead of a response", Script((answer(trade_text()),)), "connect"),
    Case("status code 1000", Script((respond(status=b"HTTP/1.1 1000 Nope"),)), "connect"),
    Case(
        "EOF right after the request",
        Script((answer(b""), Eof())),
        "closed during the handshake",
    ),
    Case(
        "no answer at all",
        Script((answer(b""), Hold())),
        "no handshake within",
        max_time=CONNECT_DEADLINE + 3,
    ),
    Case(
        "half a response, then silence",
        Script((Upgrade(lambda key: upgrade_response(key)[:40]), Hold())),
        "no handshake within",
        max_time=CONNECT_DEADLINE + 3,
    ),
    Case(
        "huge headers at once",
        Script(
            (
                answer(b"HTTP/1.1 101 Switching Protocols\r\nX-Pad: " + b"p" * 40_000 + b"\r\n"),
                Hold(),
            )
        ),
        "connect",
    ),
    Case(
        "endless headers trickled",
        Script(
            (
                answer(b"HTTP/1.1 101 Switching Protocols\r\n"),
                Trickle(b"X-A: b\r\n" * 10_000, every=0.01, size=8),
            )
        ),
        "no handshake within",
        max_time=CONNECT_DEADLINE + 3,
    ),
    Case(
        "endless 1xx as fast as they go",
        Script((answer(b""), Repeat(CONTINUE, None))),
        f"no final response in the first {MAX_RESPONSE_HEAD} bytes",
    ),
    Case(
        "endless 1xx slowly",
        Script((answer(b""), Repeat(CONTINUE, None, every=0.1))),
        "no handshake within",
        max_time=CONNECT_DEADLINE + 3,
    ),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.name)
async def test_handshake_accepted(case: Case, autojump_clock: trio.testing.MockClock) -> None:
    outcome = await drive([case.script], then=Script((Hold(),)))
    assert outcome.error is None, outcome.error
    assert outcome.marked
    assert outcome.stats is not None
    assert (outcome.stats.connects, outcome.stats.connect_failures) == (1, 0)
    assert outcome.ended_at <= case.max_time


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
async def test_handshake_refused(
    case: Case, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gatetrio")
    outcome = await drive([case.script], measure=True)
    assert outcome.error is None, outcome.error
    assert outcome.marked, "the client did not connect after the refused handshake"
    assert outcome.stats is not None
    assert outcome.stats.connect_failures == 1
    assert outcome.stats.connects == 1
    warnings = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert case.refused in warnings, warnings
    assert outcome.ended_at <= case.max_time
    assert outcome.peak < 4 << 20


async def test_every_handshake_refused_ends_in_first_connect_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    import gatetrio

    wrong = Script((respond(accept=b"x"),))
    outcome = await drive([], then=wrong, config=hostile_config(first_connect_timeout=10.0))
    assert isinstance(outcome.error, gatetrio.FirstConnectTimeout)
    assert "accept" in str(outcome.error.__cause__)
    assert outcome.ended_at == 10.0
    assert outcome.error.attempts == len(outcome.connections)


# ---------------------------------------------------------------------- the pure head reader


@pytest.mark.parametrize(
    ("chunks", "final", "interim"),
    [
        ([b"HTTP/1.1 101 OK\r\n\r\nframes"], b"HTTP/1.1 101 OK\r\n\r\nframes", []),
        ([CONTINUE + b"HTTP/1.1 101 OK\r\n\r\n"], b"HTTP/1.1 101 OK\r\n\r\n", [100]),
        ([b"HTTP/1.1 10", b"0 Continue\r", b"\n\r\nHTTP/1.1 101\r\n"], b"HTTP/1.1 101\r\n", [100]),
        ([b"HT", b"TP/1.1 100 A\r\n\r\n", b"HTT", b"P/1.1 101 B\n"], b"HTTP/1.1 101 B\n", [100]),
        ([b"HTTP/1.1 101"], b"", []),  # (not decided before its line ends)
        ([b"HTTP/1.1 1000 X\r\n"], b"HTTP/1.1 1000 X\r\n", []),
        ([b"HTTP/1.1 103 Hints\nLink: x\n\nHTTP/1.1 500 No\n\n"], b"HTTP/1.1 500 No\n\n", [103]),
    ],
)
def test_response_head_drops_interim_responses(
    chunks: list[bytes], final: bytes, interim: list[int]
) -> None:
    head = ResponseHead()
    out = b"".join(head.feed(chunk) for chunk in chunks)
    assert out == final
    assert head.interim == interim


@pytest.mark.parametrize("start", [b"garbage\r\n", b"\x81\x05hello", b"H", b"HTTX", b"\r\n"])
def test_response_head_refuses_what_is_not_http_at_once(start: bytes) -> None:
    head = ResponseHead()
    if b"HTTP/".startswith(start[:5]) and len(start) < 5 and start != b"\r\n":
        assert head.feed(start) == b""  # could still become HTTP
        return
    with pytest.raises(ConnectionLost, match="not an HTTP response"):
        head.feed(start)


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [c for c in ACCEPTED + REFUSED if "trickled" not in c.name and "slowly" not in c.name],
    ids=lambda case: case.name,
)
async def test_handshake_over_loopback(case: Case) -> None:
    """The same answers over TCP, with the default connector and trio's real clock."""
    outcome = await drive([case.script], loopback=True, config=loopback_config(), limit=20)
    assert outcome.error is None, outcome.error
    assert outcome.marked
    assert outcome.stats is not None
    assert outcome.stats.connect_failures == (1 if case.refused else 0)
