"""The fake's checks on private REST calls, as live Gate makes them.

1. Gate's APIv4 signature headers (``KEY``, ``Timestamp``, ``SIGN``, see `_core/_auth.py`):
   one missing is 400 ``MISSING_REQUIRED_HEADER`` (live, 2026-09), a foreign key 401
   ``INVALID_KEY``, a timestamp more than `max_time_skew` from the fake's clock 401
   ``REQUEST_EXPIRED``, a signature that does not match 401 ``INVALID_SIGNATURE``. The query
   signed may be the one sent or its percent-decoded text (ccxt signs the latter, Gate's SDKs
   the former); the timestamp may carry a fraction (Gate's docs sample signs ``time.time()``).
2. The rate limit: 200 requests per 10 s per endpoint and account (Gate's table for private
   futures endpoints), in fixed windows; past it, 429 ``TOO_MANY_REQUESTS`` and the window's
   end in ``X-Gate-RateLimit-Reset-Timestamp`` (ms). Every answer carries the three
   ``X-Gate-RateLimit-*`` headers.

Without credentials on the server there is no signature check (one account, served to anyone),
but the rate limit holds.
"""

from __future__ import annotations

import math
import typing
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote

from gatetrio._core._auth import verify_rest_sign

from ._rest_reply import RestReply, error

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from gatetrio._core._config import Credentials

REST_RATE_LIMIT: Final = 200  # requests per window, per endpoint and account
REST_RATE_WINDOW_MS: Final = 10_000


@typing.final
class RestAuth:
    """Signature, timestamp and rate-limit checks for one server's private REST routes."""

    def __init__(
        self,
        *,
        credentials: Callable[[], Credentials | None],
        wall_ms: Callable[[], int],
        max_time_skew: Callable[[], float],
        limit: int = REST_RATE_LIMIT,
        window_ms: int = REST_RATE_WINDOW_MS,
    ) -> None:
        self._credentials = credentials
        self._wall_ms = wall_ms
        self._max_time_skew = max_time_skew
        self.limit = limit
        self.window_ms = window_ms
        self._windows: dict[str, tuple[int, int]] = {}  # endpoint -> (window start ms, count)
        self.refused = 0  # requests refused for their signature or timestamp (count)
        self.rate_limited = 0  # requests refused for the rate limit (count)

    def check(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        endpoint: str,
    ) -> RestReply | tuple[tuple[str, str], ...]:
        """The refusal of this request, or the rate-limit headers its answer carries."""
        refusal = self._signature(method, path, query, headers, body)
        if refusal is not None:
            self.refused += 1
            return refusal
        now_ms = self._wall_ms()
        start, count = self._windows.get(endpoint, (0, 0))
        if now_ms >= start + self.window_ms:
            start, count = now_ms - now_ms % self.window_ms, 0
        count += 1
        self._windows[endpoint] = (start, count)
        over = count > self.limit
        limits = (
            ("X-Gate-RateLimit-Requests-Remain", str(max(0, self.limit - count))),
            ("X-Gate-RateLimit-Limit", str(self.limit)),
            ("X-Gate-RateLimit-Reset-Timestamp", str(start + self.window_ms if over else now_ms)),
        )
        if over:
            self.rate_limited += 1
            return error(
                429, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded (311)", headers=limits
            )
        return limits

    def _signature(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> RestReply | None:
        creds = self._credentials()
        if creds is None:
            return None
        for name in ("KEY", "Timestamp", "SIGN"):
            if not headers.get(name.lower()):
                return error(400, "MISSING_REQUIRED_HEADER", f"Missing required header: {name}")
        if headers["key"] != creds.key:
            return error(401, "INVALID_KEY", "Invalid key provided")
        stamp = headers["timestamp"]
        try:
            seconds = float(stamp)
        except ValueError:
            seconds = math.nan
        skew = self._max_time_skew()
        if not math.isfinite(seconds) or abs(seconds - self._wall_ms() / 1000) > skew:
            return error(
                401,
                "REQUEST_EXPIRED",
                f"gap between request Timestamp and server time exceeds {skew:g}",
            )
        sign = headers["sign"]
        queries = dict.fromkeys([query, unquote(query)])
        if not any(
            verify_rest_sign(method, path, text, body, stamp, sign=sign, secret=creds.secret)
            for text in queries
        ):
            return error(401, "INVALID_SIGNATURE", "Signature mismatch")
        return None
