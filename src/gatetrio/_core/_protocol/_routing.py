"""Where pushed data goes: the protocol's view of the channel catalogue's routing keys."""

from __future__ import annotations

from typing import Final

from gatetrio._core._catalog import ROUTING_KEYS, Item, KeyFn

__all__ = ["KEYS", "Item", "KeyFn", "key_for"]

KEYS: Final = ROUTING_KEYS  # data frame class -> routing key of its items


def key_for(event: object) -> KeyFn | None:
    """The routing key function of a data frame (a subclass of one too), or None."""
    key = KEYS.get(type(event))
    if key is None:
        key = next((fn for cls, fn in KEYS.items() if isinstance(event, cls)), None)
    return key
