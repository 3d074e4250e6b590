"""Fetching the contract listing over REST, every page of it (`_core/_listing.ListingPager`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from gatetrio._core._listing import LISTING_PAGE, ListingPager

if TYPE_CHECKING:
    from ._rest import RestClient

log: Final = logging.getLogger("gatetrio.rest")


async def fetch_listing(rest: RestClient, *, page_size: int = LISTING_PAGE) -> list[object]:
    """The market's `/contracts` listing, page after page until a short one: each entry's
    name and whether it is being delisted (`ListingPager`).

    Raises:
        RestUnavailable, RestTimeout, RequestRejected, ResponseTooLarge: a page failed (after
            the helper's retries).
        ProtocolError: a page is not a JSON array, or the listing has no end.
    """
    pager = ListingPager(page_size=page_size)
    path = rest.route.market_path("contracts")
    while pager.take(await rest.get(path, query=pager.query())):
        pass
    if pager.repeated:
        log.warning(
            "contract listing: page %d repeated earlier names (offset ignored?); kept %d entries",
            pager.pages,
            len(pager.entries),
        )
    return pager.entries
