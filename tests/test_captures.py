"""Every inbound frame captured from (or documented by) Gate decodes to a typed event.

The frames live in ../shared/data (see its README); the `shared_data` fixture skips without it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from gatetrio._core._decode import _decode_typed, decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._events import DATA_EVENT_TYPES, UnknownEvent
from gatetrio._core._reference_decode import decode_message_reference

if TYPE_CHECKING:
    from pathlib import Path

# Channels the client models; any frame on one of them must come out typed.
KNOWN = frozenset(DATA_EVENT_TYPES) | {"futures.pong", "futures.system"}


def inbound_frames(data: Path) -> list[str]:
    frames: list[str] = []
    for name in ("capture-2023-usdt.jsonl", "gocryptotrader-wsFutures.jsonl"):
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("dir", "in") == "in":
                frames.append(record["frame"])
    ws = (data / "cryptofeed-GATEIO_FUTURES.ws.1.0.txt").read_text(encoding="utf-8")
    for line in ws.splitlines():
        # "<ts>: <frame>" received; "<url> <- <ts>: <frame>" sent; "<url> <-> <ts>" connected
        if " <- " in line or " <-> " in line or not line.strip():
            continue
        frames.append(line.partition(": ")[2])
    return frames


def test_every_captured_frame_decodes_typed(shared_data: Path) -> None:
    frames = inbound_frames(shared_data)
    assert len(frames) > 900  # the four files: 472 + 16 + 472 minus the 55 + 55 we sent
    typed_path = 0
    for frame in frames:
        event = decode_message(frame)
        assert decode_message_reference(frame) == event
        assert decode_message(frame.encode()) == event
        channel = json.loads(frame).get("channel")
        if channel in KNOWN:
            assert not isinstance(event, UnknownEvent), frame
        assert decode_message(encode_event(event)) == event
        typed_path += _decode_typed(frame) is not None
    # the 2023 capture is mostly order_book_update and book_ticker: the fast path's home
    assert typed_path > 0.8 * len(frames)


def test_http_file_holds_rest_snapshots_not_frames(shared_data: Path) -> None:
    # Documents why the fourth file is not decoded above: REST bodies, not WS frames.
    text = (shared_data / "cryptofeed-GATEIO_FUTURES.http.0.0.txt").read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert " -> " in first
    assert "/order_book?" in first
    body = json.loads(first.partition(": ")[2])
    assert {"current", "update", "asks", "bids"} <= body.keys()
