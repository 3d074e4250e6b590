"""Outbound requests: what the client sends. Pure: no trio, no clock reads.

`ChannelSpec` is what `gatetrio.channels.*` builds and `Client.subscribe` takes: one channel, the
payloads to subscribe (positional channels need one subscribe frame per contract), and the routing
keys that select which pushed items belong to it.
"""

from __future__ import annotations

from typing import Final

import attrs

WILDCARD: Final = "*"
"""Routing key meaning "every item of the channel" (payload `!all`, balances, ...)."""


@attrs.frozen(kw_only=True)
class ChannelSpec:
    """A subscription target: `channel`, its subscribe `payloads`, and routing `keys`.

    Build these with the functions in `gatetrio.channels`, which validate their arguments.
    """

    channel: str
    payloads: tuple[tuple[str, ...], ...]
    keys: frozenset[str]
    private: bool = False
    # True when each payload element is an independent target (trades: contracts; obu: streams),
    # so overlapping subscriptions can share elements; False for positional payloads.
    batched: bool = False


@attrs.frozen(kw_only=True)
class Subscribe:
    channel: str
    payload: tuple[str, ...]
    private: bool = False


@attrs.frozen(kw_only=True)
class Unsubscribe:
    channel: str
    payload: tuple[str, ...]
    private: bool = False


@attrs.frozen(kw_only=True)
class Ping:
    """Application-level futures.ping."""
