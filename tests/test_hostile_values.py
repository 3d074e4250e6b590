"""A hostile server through the whole client: a bad frame is counted, never a crash.

For each channel a real frame the fake exchange pushed is the template; one value in it is
replaced by a hostile one (huge ints, 1e400, NaN text, nulls, deep nesting, wrong types) and
pushed raw with `FakeGateServer.push(text)`, followed by the template itself. Nothing but a
`GateTrioError` may leave `open_client`; a frame the decoder refuses is counted in
`statistics().malformed_frames`; and the subscription still delivers the good frame.

Until the shell's reader has its per-frame catch-all, a frame that decodes but breaks later
code would escape here as an untyped error: these tests say so.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, Final

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gatetrio
from gatetrio import channels
from gatetrio._core._errors import ProtocolError
from gatetrio._core._reference_decode import decode_message_reference
from gatetrio.testing import FakeGateServer

from .helpers import open_against
from .test_decode_hostile import substitute_hostile

if TYPE_CHECKING:
    from collections.abc import Callable

    from gatetrio._core._requests import ChannelSpec

CONTRACT: Final = "BTC_USDT"
SPECS: Final[dict[str, Callable[[], ChannelSpec[Any]]]] = {
    "futures.trades": lambda: channels.trades(CONTRACT),
    "futures.tickers": lambda: channels.tickers(CONTRACT),
    "futures.book_ticker": lambda: channels.book_ticker(CONTRACT),
    "futures.candlesticks": lambda: channels.candlesticks(CONTRACT),
}
TRADES_401: Final = (
    '{"time":1786540580,"time_ms":' + "9" * 401 + ',"channel":"futures.trades",'
    '"event":"update","result":[{"id":807645691,"size":4681,"create_time":1786540580,'
    '"create_time_ms":1786540580824,"price":"63994.5","contract":"BTC_USDT"}]}'
)


def _run(afn: Callable[[], Any]) -> Any:
    return trio.run(afn, clock=trio.testing.MockClock(autojump_threshold=0))


async def _first_push(channel: str) -> str:
    """The first frame of `channel` the fake pushes to a subscribed client, as sent."""
    gate = FakeGateServer(seed=0)
    seen: list[str] = []

    async def recording(nursery: trio.Nursery, url: str, headers: Any) -> Any:
        ws = await gate.connector(nursery, url, headers)
        return _Recording(ws, seen)

    async with trio.open_nursery() as nursery:
        await nursery.start(gate.run)
        async with (
            gatetrio.open_client(connector=recording, wall_clock=gate.wall_time) as client,
            client.subscribe(SPECS[channel]()) as sub,
        ):
            await sub.receive()
        nursery.cancel_scope.cancel()
    return next(f for f in seen if f'"channel":"{channel}"' in f and '"event":"update"' in f)


class _Recording:
    """A WebSocketLike that keeps every text frame it hands over."""

    def __init__(self, inner: Any, seen: list[str]) -> None:
        self._inner = inner
        self._seen = seen
        self.endpoint = inner.endpoint

    def _keep(self, message: str | bytes) -> str | bytes:
        if isinstance(message, str):
            self._seen.append(message)
        return message

    async def get_message(self) -> str | bytes:
        return self._keep(await self._inner.get_message())

    def receive_nowait(self) -> str | bytes:
        return self._keep(self._inner.receive_nowait())

    async def send_message(self, message: str | bytes) -> None:
        await self._inner.send_message(message)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def abort(self) -> None:
        await self._inner.abort()


@functools.cache
def template(channel: str) -> str:
    frame: str = _run(functools.partial(_first_push, channel))
    return frame


async def _bad_then_good(channel: str, bad: str, good: str) -> int:
    """Push `bad` then `good`; return how many frames the client counted malformed meanwhile.

    Returns once the subscription delivered the items of `good`. The fake runs another seed
    than the template's, so its own pushes cannot pass for `good`.
    """
    gate = FakeGateServer(seed=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(gate.run)
        async with (
            open_against(gate) as client,
            client.subscribe(SPECS[channel]()) as sub,
        ):
            await sub.receive()  # subscribed, and the fake's market is flowing
            before = client.statistics().malformed_frames
            gate.push(bad)
            gate.push(good)
            wanted = _items(good)
            with trio.fail_after(60):
                async for item in sub:
                    if item in wanted:
                        break
            counted = client.statistics().malformed_frames - before
        nursery.cancel_scope.cancel()
    return counted


def _items(frame: str) -> list[object]:
    event: Any = decode_message_reference(frame)
    result = event.result
    return list(result) if isinstance(result, tuple) else [result]


def _refused(frame: str) -> bool:
    try:
        decode_message_reference(frame)
    except ProtocolError:
        return True
    return False


@pytest.mark.parametrize("channel", sorted(SPECS))
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_a_hostile_value_is_counted_and_the_next_frame_delivered(
    channel: str, data: st.DataObject
) -> None:
    good = template(channel)
    bad = data.draw(st.builds(lambda: None).flatmap(lambda _: _hostile(good)))
    try:
        counted = _run(functools.partial(_bad_then_good, channel, bad, good))
    except gatetrio.GateTrioError:
        return  # typed, out of open_client: allowed (a closed connection, say)
    assert counted == (1 if _refused(bad) else 0), bad[:200]


def _hostile(frame: str) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: st.DrawFn) -> str:
        return substitute_hostile(draw, frame)

    return build()


def test_the_401_digit_time_ms_trades_frame_is_counted() -> None:
    good = template("futures.trades")
    counted = _run(functools.partial(_bad_then_good, "futures.trades", TRADES_401, good))
    assert counted == 1
    assert json.loads(good)["channel"] == "futures.trades"
