"""`FakeRestTransport`: the client's REST helper reaching a fake exchange in memory.

It implements `gatetrio._shell._rest.RestTransport` over a function that answers one request
(`FakeGateServer._rest_exchange`: `serve_http` plus the fake's REST latency), so tests under
`autojump_clock` exercise the client's real REST path (headers, signing, size cap, deadline,
error map, retries) with exact times and no sockets. The body comes back in chunks, as a
socket would deliver it.
"""

from __future__ import annotations

import contextlib
import typing
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import attrs
import trio

if TYPE_CHECKING:
    from collections.abc import (
        AsyncGenerator,
        AsyncIterator,
        Awaitable,
        Callable,
        Mapping,
        Sequence,
    )

    from ._rest_reply import RestReply

CHUNK: Final = 65536


@typing.final
@attrs.frozen
class RestRequest:
    """A REST request the fake received (header names lower case)."""

    method: str
    target: str
    headers: Mapping[str, str] = attrs.field(repr=False)  # may hold a signature
    body: bytes = attrs.field(repr=False)


@typing.final
class _Answer:
    def __init__(self, reply: RestReply) -> None:
        self._reply = reply
        self.status = reply.status
        self.headers: Sequence[tuple[str, str]] = (
            *reply.headers,
            ("Content-Length", str(len(reply.body))),
        )

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        body = self._reply.body
        for start in range(0, len(body), CHUNK):
            await trio.lowlevel.checkpoint()
            yield body[start : start + CHUNK]


@typing.final
class FakeRestTransport:
    """REST in memory to a fake exchange: `FakeGateServer.rest_transport`."""

    def __init__(
        self, exchange: Callable[[str, str, Mapping[str, str], bytes], Awaitable[RestReply]]
    ) -> None:
        self._exchange = exchange

    @contextlib.asynccontextmanager
    async def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> AsyncIterator[_Answer]:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        reply = await self._exchange(method, target, dict(headers), body)
        yield _Answer(reply)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
