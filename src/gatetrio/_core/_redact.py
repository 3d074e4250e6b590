"""What never leaves the process: keys, secrets, signatures and passwords, masked in text.

Every repr, log line, exception text, raw frame and recording goes through one of these (the
Credentials and NatsOptions reprs, ProtocolError.raw, the trading replies' reprs, the raw-frame
tap that feeds recordings). Two kinds of masking:

- by field name, in JSON text or decoded JSON: the value of any field named in
  `SECRET_FIELDS` (Gate's `api_key` and `signature` in trading-API replies, which echo the
  request, `KEY` and `SIGN` in a private subscription's `auth`) becomes `REDACTED`;
- by position, in a URL: the password (or a lone token) of `scheme://user:password@host`.

`redact_frame` runs on every frame a raw-frame tap takes from a client with credentials, so it
looks for the key itself first: a 32-character needle, skipped through in a few percent of the
frame's decode time. Gate echoes the signature only beside the key (a trading request's echo),
and nothing else received can hold a secret, so a frame without the key is passed through
untouched. Cold paths (`redact_text`: an exception's excerpt, a reply's repr) check the field
names instead, whatever the key. Pure: no trio, no clock.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit, urlunsplit

REDACTED: Final = "<redacted>"
SECRET_FIELDS: Final = ("api_key", "signature", "KEY", "SIGN", "secret", "password", "token")

_FIELD_NAMES: Final = "|".join(SECRET_FIELDS)
# "name": "value" (JSON text; a value with escaped quotes is matched whole)
_TEXT_FIELD: Final = re.compile(rf'"({_FIELD_NAMES})"(\s*:\s*)"(?:[^"\\]|\\.)*"')
_BYTES_FIELD: Final = re.compile(rf'"({_FIELD_NAMES})"(\s*:\s*)"(?:[^"\\]|\\.)*"'.encode())
_TEXT_PROBES: Final = tuple(f'"{name}"' for name in SECRET_FIELDS)


def redacted(_value: object) -> str:
    """An attrs `repr=` for a secret field: the value never shows."""
    return REDACTED


def redact_text(text: str) -> str:
    """JSON text with the value of every secret-named field replaced by `REDACTED`."""
    if not any(probe in text for probe in _TEXT_PROBES):
        return text
    return _TEXT_FIELD.sub(rf'"\1"\2"{REDACTED}"', text)


def redact_frame(frame: str | bytes, key: str) -> str | bytes:
    """A received frame (text, or bytes) without `key`, nor the secret fields beside it."""
    if isinstance(frame, str):
        if key not in frame:
            return frame
        return _TEXT_FIELD.sub(rf'"\1"\2"{REDACTED}"', frame).replace(key, REDACTED)
    needle = key.encode()
    if needle not in frame:
        return frame
    masked = _BYTES_FIELD.sub(rf'"\1"\2"{REDACTED}"'.encode(), frame)
    return masked.replace(needle, REDACTED.encode())


def redact_json(value: object) -> object:
    """Decoded JSON with the value of every secret-named field replaced (a copy if changed)."""
    if isinstance(value, dict):
        return {
            name: REDACTED if name in SECRET_FIELDS and item else redact_json(item)
            for name, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_json(item) for item in value)
    return value


def redact_url(url: str) -> str:
    """`nats://user:<redacted>@host:4222` for `nats://user:secret@host:4222`; a URL with a
    lone token (`nats://token@host`) keeps only the host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED  # not a URL we can read: show none of it
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{REDACTED}" if colon else REDACTED
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))
