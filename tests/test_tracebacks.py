"""What the library raises reads as the user's frame and the cause, not nursery machinery.

Issue 17.11: Ctrl-C printed 55 lines of nested groups from library internals and
`FirstConnectTimeout` arrived under 92 lines of chained groups. Each case here formats what
comes out of `open_client` the way Python prints it and holds it to: no exception group
anywhere in it (no box, no "Exceptions from Trio nursery", no "During handling of the above
exception" pointing at one), the cause named, and the user's own frame on top.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Sequence

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import channels
from gatetrio._shell._transport import WebSocketLike
from gatetrio.testing import FakeGateServer

from .helpers import client_config, open_against

GROUP_MARKS = ("ExceptionGroup", "Exceptions from Trio nursery", "+-+", "During handling")


def _printed(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _check_reads_well(exc: BaseException, *, cause: str) -> None:
    text = _printed(exc)
    for mark in GROUP_MARKS:
        assert mark not in text, f"{mark!r} in what the user sees:\n{text}"
    assert cause in text
    first_frame = traceback.extract_tb(exc.__traceback__)[0]
    assert first_frame.filename == __file__  # the user's frame comes first


async def _refuse(
    nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
) -> WebSocketLike:
    await trio.sleep(1.0)
    raise gatetrio.ConnectionLost("connect: [Errno 111] Connection refused")


async def test_first_connect_timeout_names_its_cause_without_groups(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = client_config(first_connect_timeout=5.0)
    with pytest.raises(gatetrio.FirstConnectTimeout) as info:
        async with gatetrio.open_client(connector=_refuse, config=config):
            pytest.fail("connected to nothing")  # pragma: no cover
    error = info.value
    _check_reads_well(error, cause="Connection refused")
    assert isinstance(error.__cause__, gatetrio.ConnectionLost)
    # one timeout, not a timeout caused by another timeout (a retry of the deadline itself)
    assert not isinstance(error.__cause__, gatetrio.FirstConnectTimeout)
    assert str(error).count("within 5s") == 1
    assert trio.current_time() == 5.0


@pytest.fixture
async def gate(nursery: trio.Nursery) -> FakeGateServer:
    server = FakeGateServer(seed=2)
    await nursery.start(server.run)
    return server


async def test_ctrl_c_in_the_block_comes_out_as_itself(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    interrupt = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt) as info:
        async with (
            open_against(gate) as client,
            client.subscribe(channels.trades("BTC_USDT")),
        ):
            await trio.sleep(1.0)
            raise interrupt
    assert info.value is interrupt
    text = _printed(info.value)
    assert "gatetrio" not in text.replace("tests/test_tracebacks.py", "")
    assert len(traceback.extract_tb(info.value.__traceback__)) == 1  # this frame, nothing else


async def test_ctrl_c_inside_the_library_comes_out_as_one_keyboard_interrupt(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    calls = 0

    async def connector(
        nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike:
        nonlocal calls
        calls += 1
        if calls > 1:  # the reconnect is where the signal lands
            raise KeyboardInterrupt
        return await gate.connector(nursery, url, headers)

    with pytest.raises(KeyboardInterrupt) as info:
        async with gatetrio.open_client(
            connector=connector, config=client_config(), wall_clock=gate.wall_time
        ):
            await trio.sleep(1.0)
            gate.drop()
            await trio.sleep_forever()
    _check_reads_well(info.value, cause="raise KeyboardInterrupt")


async def test_a_terminal_failure_in_the_block_reads_as_itself(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(gatetrio.ReconnectLimitReached) as info:
        async with open_against(gate, max_reconnects=1, rng=random.Random(1)):
            await trio.sleep(1.0)
            gate.refuse(10)
            gate.drop()
            await trio.sleep_forever()
    _check_reads_well(info.value, cause="handshake: HTTP 503")  # the refusal that ended it


async def test_an_overflow_the_consumer_asked_for_reads_as_itself(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(gatetrio.SubscriptionOverflow) as info:
        async with (
            open_against(gate) as client,
            client.subscribe(
                channels.trades("BTC_USDT"), buffer=1, overflow=gatetrio.OverflowPolicy.FAIL
            ),
        ):
            await trio.sleep_forever()  # never reads: the second trade overflows
    _check_reads_well(info.value, cause="futures.trades")
