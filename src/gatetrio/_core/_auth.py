"""HMAC-SHA512 signing for private subscriptions and the trading API. Pure: no trio, no clock.

Three schemes (spec sections 5 and 8.2, and Gate's APIv4 REST authentication), all hex-encoded
HMAC-SHA512 keyed with the API secret:

- private subscribe/unsubscribe: ``channel=<channel>&event=<event>&time=<time>``, where ``time`` is
  the request's integer ``time`` field. The payload is not signed. The event signed is the real one:
  an unsubscribe signs ``unsubscribe`` (the Go SDK signs ``subscribe`` for both, a bug).
- trading API: ``api\\n<channel>\\n<req_param text>\\n<timestamp>``; ``futures.login`` signs the
  empty req_param text.
- REST: ``<METHOD>\\n<path>\\n<query>\\n<hex SHA-512 of the body>\\n<timestamp>``, sent as the
  headers ``KEY``, ``Timestamp`` and ``SIGN``. `path` includes ``/api/v4``; `query` is the query
  string exactly as sent (no ``?``, "" for none); the body hash covers "" when there is no
  body; `timestamp` is unix seconds as text, the same as the ``Timestamp`` header (Gate refuses
  one more than 60 s off its clock: ``REQUEST_EXPIRED``). This is what Gate's docs sample and
  ccxt's ``gate.sign`` compute.

The ``verify_*`` helpers are for the fake exchange. They compare in constant time and return False,
never raise, for any signature text an untrusted client could send.
"""

from __future__ import annotations

import hashlib
import hmac

from ._errors import UsageError


def _utf8(text: str) -> bytes:
    # surrogatepass: text from untrusted JSON may hold lone surrogates; encoding must not raise.
    return text.encode("utf-8", "surrogatepass")


def _hex_hmac(secret: str, text: str) -> str:
    return hmac.new(_utf8(secret), _utf8(text), hashlib.sha512).hexdigest()


def _same(expected: str, given: object) -> bool:
    # compare_digest rejects non-ASCII str with TypeError; such a signature is simply wrong.
    if not isinstance(given, str) or not given.isascii():
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def subscription_sign_text(channel: str, event: str, wall_time_s: int) -> str:
    """The exact text a private subscription signs."""
    if isinstance(wall_time_s, bool) or not isinstance(wall_time_s, int):
        raise UsageError(
            f"wall_time_s must be the request's integer unix seconds, got {wall_time_s!r}"
        )
    return f"channel={channel}&event={event}&time={wall_time_s}"


def sign_subscription(
    channel: str, event: str, wall_time_s: int, *, key: str, secret: str
) -> dict[str, str]:
    """The ``auth`` object of a private subscribe or unsubscribe request.

    Example::

        sign_subscription("futures.orders", "subscribe", 1700000000, key="k", secret="s")
        # {"method": "api_key", "KEY": "k", "SIGN": "<128 hex digits>"}
    """
    sign = _hex_hmac(secret, subscription_sign_text(channel, event, wall_time_s))
    return {"method": "api_key", "KEY": key, "SIGN": sign}


def verify_subscription_sign(
    channel: object, event: object, wall_time_s: object, *, sign: object, secret: str
) -> bool:
    """True when `sign` is the signature of this channel, event and time under `secret`.

    The inputs may come straight from an untrusted frame: wrong types just give False.
    """
    if (
        not isinstance(channel, str)
        or not isinstance(event, str)
        or isinstance(wall_time_s, bool)
        or not isinstance(wall_time_s, int)
    ):
        return False
    return _same(_hex_hmac(secret, subscription_sign_text(channel, event, wall_time_s)), sign)


def api_sign_text(channel: str, req_param_string: str, timestamp: str) -> str:
    """The exact text a trading-API request signs (login: `req_param_string` is "")."""
    return f"api\n{channel}\n{req_param_string}\n{timestamp}"


def sign_api(channel: str, req_param_string: str, timestamp: str, secret: str) -> str:
    """Hex HMAC-SHA512 of ``api\\n<channel>\\n<req_param_string>\\n<timestamp>``.

    `timestamp` is unix seconds as a decimal string, the same text as ``payload.timestamp``.

    Example::

        sign_api("futures.login", "", "1700000000", "YOUR_API_SECRET")  # 'f90fd806...'
    """
    return _hex_hmac(secret, api_sign_text(channel, req_param_string, timestamp))


def verify_api_sign(
    channel: object, req_param_string: str, timestamp: object, *, signature: object, secret: str
) -> bool:
    """True when `signature` signs this channel, req_param text and timestamp under `secret`.

    `channel` and `timestamp` may come straight from an untrusted frame: non-str gives False.
    """
    if not isinstance(channel, str) or not isinstance(timestamp, str):
        return False
    return _same(_hex_hmac(secret, api_sign_text(channel, req_param_string, timestamp)), signature)


def rest_sign_text(method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
    """The exact text a REST request signs (see the module docstring)."""
    body_hash = hashlib.sha512(body).hexdigest()
    return f"{method.upper()}\n{path}\n{query}\n{body_hash}\n{timestamp}"


def sign_rest(
    method: str, path: str, query: str, body: bytes, *, timestamp: str, key: str, secret: str
) -> dict[str, str]:
    """The three headers that sign a REST request: ``KEY``, ``Timestamp``, ``SIGN``.

    Example::

        sign_rest("GET", "/api/v4/futures/usdt/orders", "status=open", b"",
                  timestamp="1700000000", key="k", secret="s")
        # {"KEY": "k", "Timestamp": "1700000000", "SIGN": "<128 hex digits>"}
    """
    if not timestamp.isdigit():
        raise UsageError(f"timestamp must be unix seconds as digits, got {timestamp!r}")
    sign = _hex_hmac(secret, rest_sign_text(method, path, query, body, timestamp))
    return {"KEY": key, "Timestamp": timestamp, "SIGN": sign}


def verify_rest_sign(
    method: str, path: str, query: str, body: bytes, timestamp: object, *, sign: object, secret: str
) -> bool:
    """True when `sign` signs this request under `secret` (for the fake exchange; wrong types
    from an untrusted request give False)."""
    if not isinstance(timestamp, str):
        return False
    return _same(_hex_hmac(secret, rest_sign_text(method, path, query, body, timestamp)), sign)
