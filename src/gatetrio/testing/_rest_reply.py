"""`RestReply`: one answer of the fake's REST side, and Gate's two shapes of it."""

from __future__ import annotations

import json
import typing
from typing import Final

import attrs

JSON_HEADERS: Final = (("Content-Type", "application/json"),)


@typing.final
@attrs.frozen
class RestReply:
    """One REST answer of the fake: status, body bytes, extra headers (Content-Type JSON
    unless given)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS


def error(
    status: int, label: str, message: str, *, headers: tuple[tuple[str, str], ...] = ()
) -> RestReply:
    """Gate's error body ``{"label", "message"}`` with `status`."""
    body = json.dumps({"label": label, "message": message}).encode()
    return RestReply(status, body, JSON_HEADERS + headers)


def ok(body: object, *, headers: tuple[tuple[str, str], ...] = ()) -> RestReply:
    """A 200 with `body` as compact JSON."""
    return RestReply(200, json.dumps(body, separators=(",", ":")).encode(), JSON_HEADERS + headers)
