"""Where pushed data goes: the protocol's view of the channel catalogue's routing keys."""

from __future__ import annotations

from typing import Final, Protocol

from gatetrio._core._catalog import ROUTING_KEYS, Item, KeyFn

__all__ = ["FRAME_ROUTES", "KEYS", "Item", "KeyFn", "Sink", "key_for"]

KEYS: Final = ROUTING_KEYS  # data frame class -> routing key of its items
# data frame class -> (its channel, the routing key of its items): one lookup per pushed frame
# instead of the frame's `channel` property (its msgspec tag, rebuilt as a str on each read)
FRAME_ROUTES: Final[dict[type[object], tuple[str, KeyFn]]] = {
    cls: (str(cls.__struct_config__.tag), key)  # type: ignore[attr-defined]
    for cls, key in KEYS.items()
}


class Sink(Protocol):
    """Where `GateProtocol.receive_pushed` puts a subscription's items (the shell's feed)."""

    def push(self, item: Item, now: float | None = None, /) -> bool:
        """Take `item`; True asks the reader to yield (a buffer is more than half full)."""
        ...


def key_for(event: object) -> KeyFn | None:
    """The routing key function of a data frame (a subclass of one too), or None."""
    key = KEYS.get(type(event))
    if key is None:
        key = next((fn for cls, fn in KEYS.items() if isinstance(event, cls)), None)
    return key
