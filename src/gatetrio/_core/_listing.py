"""The contract listing: REST `GET /futures/{settle}/contracts`, untrusted JSON in, names out.

Pure: `ListingPager` says which page to ask for next, `listed_contracts` reads the names.
Contracts being delisted (`in_delisting: true`) are left out: subscribing them invites a
rejection at the next reconnect.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Final

from ._errors import ProtocolError, UsageError
from ._requests import check_contract

if TYPE_CHECKING:
    from collections.abc import Callable


def listed_contracts(body: object, *, keep: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """The names of the listed contracts in a `/contracts` body, sorted; `keep` filters them.

    Raises:
        ProtocolError: the body is not a list of objects with a string `name`, or a name is
            no contract name (`check_contract`: it could only be refused later, as the
            caller's mistake).
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
        try:
            check_contract(name)
        except UsageError as exc:
            why = f"the contracts listing names {name[:80]!r}, which is no contract name"
            raise ProtocolError(why, raw=name[:200]) from exc
        if keep is None or keep(name):
            names.append(name)
    return tuple(sorted(names))


LISTING_PAGE: Final = 1000  # contracts asked per page: Gate's documented maximum `limit`
MAX_LISTING_PAGES: Final = 100  # a listing longer than this many pages is not a listing


@typing.final
class ListingPager:
    """Pages through `GET /{futures|delivery}/{settle}/contracts` (`limit` + `offset`).

    Gate's docs give the listing a `limit` (default 100, at most 1000) and an `offset`; live
    answered all contracts without a `limit` in 2026-09 but pages with one. Asking for pages
    explicitly is right either way: `query()` is the next page's query, `take(page)` adds one
    answer and says whether another page is due (a full page), and `entries` is everything so
    far. A page that repeats names already seen (a server ignoring `offset`) ends the listing
    rather than looping; more than `max_pages` full pages is a `ProtocolError`. Of each entry
    it keeps only what `listed_contracts` reads (the name, and whether it is being delisted):
    a listing of fat entries, up to `max_pages` bodies of the REST size cap each, would
    otherwise all be held at once.

        pager = ListingPager()
        while True:
            if not pager.take(await get(path, query=pager.query())):
                break
        listed_contracts(pager.entries)
    """

    __slots__ = ("_names", "entries", "max_pages", "offset", "page_size", "pages", "repeated")

    def __init__(
        self, *, page_size: int = LISTING_PAGE, max_pages: int = MAX_LISTING_PAGES
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise UsageError(f"page_size must be a positive int, got {page_size!r}")
        self.page_size = page_size
        self.max_pages = max_pages
        self.offset = 0
        self.pages = 0
        self.repeated = False  # the server answered a page of names it had sent already
        self.entries: list[object] = []
        self._names: set[str] = set()

    def query(self) -> dict[str, int]:
        return {"limit": self.page_size, "offset": self.offset}

    def take(self, page: object) -> bool:
        """Add one page; True when the next page is due.

        Raises:
            ProtocolError: the page is not a JSON array, or the listing runs past `max_pages`.
        """
        if not isinstance(page, list):
            raise ProtocolError("the contracts listing is not a JSON array", raw=str(page)[:200])
        self.pages += 1
        fresh = 0
        for item in page:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):  # stays, cut short: `listed_contracts` refuses it
                self.entries.append(str(item)[:200])
                continue
            if name in self._names:
                continue
            self._names.add(name)
            fresh += 1
            self.entries.append({"name": name, "in_delisting": item.get("in_delisting") is True})
        if len(page) != self.page_size:
            return False  # a short page is the last; a longer one than asked is all of it
        if page and not fresh:
            self.repeated = True
            return False
        if self.pages >= self.max_pages:
            raise ProtocolError(
                f"the contracts listing runs past {self.max_pages} pages of {self.page_size}"
            )
        self.offset += self.page_size
        return True
