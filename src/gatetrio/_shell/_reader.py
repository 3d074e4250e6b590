"""The reader: one task per connection, from the socket through the protocol to the feeds.

After each `get_message()` it drains, without awaiting, what the transport has already parsed
(`receive_nowait`, up to MAX_BATCH frames): the reader then runs once per batch instead of once
per frame (benchmarks/README.md "End-to-end"). A consumer takes one item per scheduler pass,
though, so the batch ends early once a subscription's buffer is more than half full
(`SubscriptionFeed.push`): the next `get_message()` is a checkpoint and the consumers catch up
instead of their buffers overflowing. The reader never waits for a consumer; one that falls
behind for real loses items by its overflow policy.

Each frame goes through `GateProtocol.receive_pushed`: a one-item data frame (almost every frame
of a flood) is routed and pushed into its feed inside that one call, with the same state changes
as `receive_text`; anything else comes back as `receive_text`'s outputs and is handled here.

The exception boundary for inbound data is here and in `GateProtocol.receive_text`: whatever
handling one frame raises (a hostile value the decoder let through, anything short of a
consumer's FAIL-policy overflow, which must end the client) is counted and reported as a
malformed frame, and the next frame is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import trio

from gatetrio._core._errors import ConnectionLost, SubscriptionOverflow
from gatetrio._core._protocol import Delivery
from gatetrio._core._redact import redact_frame

from ._raw_tap import RawFrame

if TYPE_CHECKING:
    from ._connection import Connection
    from ._runtime import Runtime

MAX_BATCH: Final = 64  # frames per wake-up at most (one receive_some can hold ~300)


async def run_reader(rt: Runtime, conn: Connection) -> None:
    """Read `conn` until it ends: ConnectionLost, or return quietly after our own close."""
    ws = conn.ws
    drain = ws.receive_nowait
    generation = conn.generation
    protocol = rt.protocol
    receive_pushed = protocol.receive_pushed  # data straight into the feeds (its docstring)
    feeds = rt.feeds.by_id  # live views: subscriptions and taps come and go while we read
    taps = rt.feeds.taps
    handle = rt.handle
    wall_clock = rt.wall_clock
    current_time = trio.current_time
    credentials = rt.config.credentials
    key = None if credentials is None else credentials.key  # what a tapped frame must not hold
    while True:
        try:
            text: str | bytes = await ws.get_message()
        except ConnectionLost:
            if conn.closing:
                return  # our own close: the close reply (or EOF) ended the read
            raise
        now = current_time()  # a batch is handled without yielding: one clock read each
        wall = wall_clock()
        crowded = False
        left = MAX_BATCH
        tapped = bool(taps)  # the one check per batch when no tap is open
        received_ns = round(wall * 1e9) if tapped else 0
        while True:
            if tapped:
                raw = text if key is None else redact_frame(text, key)
                frame = RawFrame(received_ns, generation, raw)
                for tap in taps:
                    tap.push(frame)  # before decoding: a recording holds what broke us too
            try:
                outputs = receive_pushed(
                    text, now=now, generation=generation, wall_time=wall, sinks=feeds
                )
                if outputs is True:  # a data frame, already in its feeds: the hot path
                    crowded = True
                elif outputs is not False:
                    for output in outputs:
                        if type(output) is Delivery:
                            feed = feeds.get(output.sub_id)
                            if feed is not None and feed.push(output.item, now):
                                crowded = True
                        else:
                            handle(output)
            except SubscriptionOverflow:
                raise  # the consumer asked for this to end the client (OverflowPolicy.FAIL)
            except Exception as exc:  # noqa: BLE001 - the boundary: one frame is never fatal
                handle(protocol.frame_failed(text, exc))
            left -= 1
            if crowded or not left:
                break
            try:
                text = drain()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break  # nothing queued, or closed: get_message() reports it properly
