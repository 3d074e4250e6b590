"""Fetching the contract listing over REST (httpx, imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gatetrio._core._config import rest_base_url
from gatetrio._core._errors import ConnectionLost, ProtocolError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


def rest_listing_fetcher(ws_url: str) -> Callable[[], Awaitable[object]]:
    """`await fetch()` returning the decoded `/futures/{settle}/contracts` body for `ws_url`'s
    market (delivery URLs: `/delivery/{settle}/contracts`)."""
    path = urlsplit(ws_url).path.rstrip("/")
    settle = path.rsplit("/", 1)[-1]
    if settle == "ws":
        settle = "btc"
    market = "delivery" if "/delivery/" in path else "futures"
    endpoint = f"{rest_base_url(ws_url)}/{market}/{settle}/contracts"

    async def fetch() -> object:
        import httpx  # noqa: PLC0415 - keeps httpx out of gatetrio's import time

        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                response = await http.get(endpoint)
                response.raise_for_status()
                return response.json()
        except httpx.HTTPError as exc:
            raise ConnectionLost(f"REST contracts {endpoint}: {exc!r}") from exc
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(f"REST contracts {endpoint} is not JSON: {exc!r}") from exc

    return fetch
