"""The raw-frame tap: every frame exactly as the socket delivered it, for recorders.

`Client.raw_frames()` adds a bounded `SubscriptionFeed[RawFrame]` to the taps
(`Feeds.tapping`); the reader pushes each frame of a batch into every open tap before the
protocol sees it. With no tap open the reader pays one truthiness check per batch.
"""

from __future__ import annotations

from typing import Final, final

import msgspec

from gatetrio._core._requests import ChannelSpec


@final
class RawFrame(msgspec.Struct, frozen=True, gc=False):
    """One frame as received: `received_ns` is the client's wall clock (unix ns) when its batch
    was read, `generation` the connection it came on (1, 2, ... per client), `text` the frame
    verbatim (bytes for a binary frame) but for the API key and the signatures a trading reply
    echoes, masked, and `shard` the pool shard (0 for a lone client)."""

    received_ns: int
    generation: int
    text: str | bytes
    shard: int = 0


RAW_SPEC: Final[ChannelSpec[RawFrame]] = ChannelSpec(
    channel="gatetrio.raw", payloads=(), keys=frozenset()
)
RAW_BUFFER: Final = 16384  # frames; a recorder's writer drains it in batches
