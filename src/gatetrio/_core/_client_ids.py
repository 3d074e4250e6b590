"""Client order ids: the `text` every order carries, unique across processes and restarts. Pure.

Gate takes a client tag on each order: ``t-`` and at most 28 bytes of ``[0-9A-Za-z_.-]``
(spec 7.1, 8.5). An order whose reply never came can only be found again by it, so every order
gatetrio sends carries one; the caller's, or one generated here.

Generated ids are ULIDs in Crockford's base32 (26 characters, all in Gate's alphabet): 48 bits
of unix milliseconds then 80 random bits. Two processes, or one process before and after a
restart, collide only if they draw the same 80 bits in the same millisecond (odds of 2**-80
per pair of ids); within one generator ids never repeat and sort in the order they were made,
because an id in the same (or an earlier, if the wall clock stepped back) millisecond as the
last one is the last one plus one (the ULID "monotonic" rule). Sorting by id sorts by time,
which makes them easy to find in Gate's order lists and logs.

Pure: the wall time is an argument and the random bits come from the `entropy` function the
shell passes in (`os.urandom`; tests pass a seeded source).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from ._errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

CLIENT_ID_PREFIX: Final = "t-"
MAX_CLIENT_ID_BYTES: Final = 28  # after the prefix (spec 8.5)
CLIENT_ID_PATTERN: Final = re.compile(r"t-[0-9A-Za-z_.\-]{1,28}", re.ASCII)

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_TIME_BITS: Final = 48
_RANDOM_BITS: Final = 80
_RANDOM_BYTES: Final = _RANDOM_BITS // 8
_CHARS: Final = 26  # 130 bits of room for 128


def is_client_id(text: object) -> bool:
    """True for a valid Gate client order id (``t-`` and 1-28 of ``[0-9A-Za-z_.-]``)."""
    return isinstance(text, str) and CLIENT_ID_PATTERN.fullmatch(text) is not None


def _encode(value: int) -> str:
    chars = []
    for _ in range(_CHARS):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


class ClientIds:
    """Generates client order ids: ``t-`` + a 26-character ULID.

    Example::

        ids = ClientIds(os.urandom)
        ids.next(wall_time=time.time())   # 't-01JG9Y7W6N3Q8X0ZPK4T2M5RVA'
    """

    __slots__ = ("_entropy", "_last")

    def __init__(self, entropy: Callable[[int], bytes]) -> None:
        self._entropy = entropy
        self._last = -1  # the last id as a 128-bit number

    def next(self, *, wall_time: float) -> str:
        """A new id for an order sent at `wall_time` (unix seconds).

        Raises:
            UsageError: `wall_time` is not a unix time in seconds.
        """
        if not 0 <= wall_time < 2**_TIME_BITS / 1000:
            raise UsageError(f"wall_time must be unix seconds, got {wall_time!r}")
        random = self._entropy(_RANDOM_BYTES)
        if len(random) != _RANDOM_BYTES:
            raise UsageError(f"the entropy source gave {len(random)} bytes, not {_RANDOM_BYTES}")
        value = int(wall_time * 1000) << _RANDOM_BITS | int.from_bytes(random, "big")
        if value >> _RANDOM_BITS <= self._last >> _RANDOM_BITS:
            # same millisecond as the last id, or the clock stepped back: count on from it
            value = self._last + 1
        self._last = value
        return CLIENT_ID_PREFIX + _encode(value)
