"""The contract listing: REST `GET /futures/{settle}/contracts`, untrusted JSON in, names out.

Pure. Contracts being delisted (`in_delisting: true`) are left out: subscribing them invites a
rejection at the next reconnect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import ProtocolError

if TYPE_CHECKING:
    from collections.abc import Callable


def listed_contracts(body: object, *, keep: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """The names of the listed contracts in a `/contracts` body, sorted; `keep` filters them.

    Raises:
        ProtocolError: the body is not a list of objects with a string `name`.
    """
    if not isinstance(body, list):
        raise ProtocolError("the contracts listing is not a JSON array", raw=str(body)[:200])
    names: list[str] = []
    for item in body:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ProtocolError("a contracts entry has no name", raw=str(item)[:200])
        if item.get("in_delisting") is True:
            continue
        name: str = item["name"]
        if keep is None or keep(name):
            names.append(name)
    return tuple(sorted(names))
