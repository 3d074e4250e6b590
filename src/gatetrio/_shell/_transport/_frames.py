"""WebSocket framing for the client side (RFC 6455 section 5): a receive parser and frame builder.

Pure (no trio, no I/O). `FrameParser.feed(data)` parses every complete frame in the bytes
received so far: messages (text as `str`, binary as `bytes`, fragments assembled) go to
`messages`, ping payloads to `pings`, and the first close frame, protocol violation or
oversized message ends parsing and is kept in `ended`. `client_frame` builds the masked frames
the client sends.

Why not wsproto for receiving (benchmarks/README.md, "Receive-side framing"): wsproto parses a
frame through a buffer object, two generators and an event object per frame, ~5 us a frame on
the benchmark machine; this loop slices each frame straight out of the received bytes. wsproto
remains the reference: `tests/test_frames.py` fuzzes this parser against it with hypothesis
(every opcode, length form, fragment, control frame and close payload, split at every byte)
and they must agree on every message, ping and close code. The handshake stays on wsproto.

Violations get wsproto's close codes: 1002 for framing (reserved bits, unknown opcode,
fragmented or long control frame, a length in more bytes than needed, a masked server frame,
a continuation with nothing to continue or a new message inside a fragmented one, a close
frame with a 1-byte payload or a code no peer may send), 1007 for bad UTF-8 in text or a close
reason; `max_message_size` gives 1009 as soon as a frame header says the message will not fit.

Memory, whatever the fragmentation. A message counts against `max_message_size` with every
byte its frames take on the wire, headers included: an empty fragment costs its 2-byte header,
so a stream of them ends in 1009 instead of running forever, and an 8 MiB message cut into
2-byte fragments costs 16 MiB of the limit. Fragments are assembled into one buffer as they
arrive (a text message's UTF-8 is checked fragment by fragment, so bad text still ends it at
once, and decoded once at the end), so holding a message costs its size, not an object per
fragment: the parser's peak is about twice the limit plus one received chunk (tests/
test_hostile_framing.py measures it with tracemalloc). Control frames between fragments do not
count (they are handled as they come); the transport answers only the latest ping.
"""

from __future__ import annotations

import codecs
import os
from typing import TYPE_CHECKING, Final, NamedTuple, final

if TYPE_CHECKING:
    import collections

PROTOCOL_ERROR: Final = 1002
INVALID_DATA: Final = 1007
MESSAGE_TOO_BIG: Final = 1009
NO_STATUS: Final = 1005  # a close frame without a payload (never sent on the wire)

TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA

BIG_FRAME: Final = 65536  # payloads at least this long are decoded through a view, not a copy

# close codes a peer may send: wsproto's CloseReason members less the local-only ones, and the
# ranges for libraries and applications
_PEER_CLOSE_CODES: Final = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013}
)


def _valid_close_code(code: int) -> bool:
    return 3000 <= code <= 4999 or code in _PEER_CLOSE_CODES


class Ended(NamedTuple):
    """Why parsing stopped: the server's close frame (`remote_close`) or a violation by it."""

    code: int
    reason: str
    remote_close: bool


def _violation(reason: str, code: int = PROTOCOL_ERROR) -> Ended:
    return Ended(code, reason, remote_close=False)


@final
class FrameParser:
    """Receive side of a client WebSocket: feed bytes, take messages, pings and the end."""

    __slots__ = (
        "_assembly",
        "_buffer",
        "_carry",
        "_fragment_opcode",
        "_fragment_size",
        "_need",
        "ended",
        "max_message_size",
        "messages",
        "pings",
    )

    def __init__(self, messages: collections.deque[str | bytes], *, max_message_size: int) -> None:
        self.messages = messages
        self.pings: list[bytes] = []  # payloads to answer, in order; the caller empties it
        self.ended: Ended | None = None
        self.max_message_size = max_message_size
        self._buffer = bytearray()  # the start of a frame not yet complete
        self._need = 0  # how long _buffer must get before a frame is complete, when known
        self._assembly = bytearray()  # the payload of a fragmented message so far
        self._fragment_opcode = 0  # of the message being assembled, 0 when none
        self._fragment_size = 0  # wire bytes of its frames so far, headers included
        self._carry = b""  # a fragmented text's last bytes that may start a character

    def feed(self, data: bytes) -> None:
        """Parse every complete frame of what was received so far (nothing after the end)."""
        if self.ended is not None:
            return
        pending = self._buffer
        if pending:  # the rest of a frame begun in an earlier chunk
            pending += data
            if len(pending) < self._need:
                return  # still incomplete: no re-parse, no copy (a big message in many chunks)
            buffer = bytes(pending)
            pending.clear()
        else:
            buffer = data
        size = len(buffer)
        append = self.messages.append
        limit = self.max_message_size
        position = 0
        need = 0  # bytes the incomplete frame at `position` needs at least, when known
        while size - position >= 2:
            first = buffer[position]
            length = buffer[position + 1]
            start = position + 2
            if length >= 126:  # 126: 2-byte length, 127: 8-byte; >= 128: the mask bit is set
                if length == 126:
                    start += 2
                    if start > size:
                        break
                    length = int.from_bytes(buffer[position + 2 : start], "big")
                    if length < 126:
                        self._end(_violation("payload length used 2 bytes when 1 would do"))
                        return
                elif length == 127:
                    start += 8
                    if start > size:
                        break
                    length = int.from_bytes(buffer[position + 2 : start], "big")
                    if length < 65536:
                        self._end(_violation("payload length used 8 bytes when 2 would do"))
                        return
                    if length >> 63:
                        self._end(_violation("8-byte payload length with the top bit set"))
                        return
                else:
                    self._end(_bad_header(first, length) or _violation("masked server frame"))
                    return
            end = start + length
            if first in {0x81, 0x82} and not self._fragment_opcode:
                # the usual frame: a whole text or binary message, no reserved bits
                if end - position > limit:
                    self._end(_too_big(limit))
                    return
                if end > size:
                    need = end - position
                    break
                if first == 0x81:
                    try:
                        if length < BIG_FRAME:
                            append(buffer[start:end].decode())
                        else:  # no copy of a big payload before it is decoded
                            append(str(memoryview(buffer)[start:end], "utf-8"))
                    except UnicodeDecodeError as exc:
                        self._end(_violation(f"text is not UTF-8: {exc}", INVALID_DATA))
                        return
                else:
                    append(buffer[start:end])
                position = end
                continue
            if not first & 0x7F and self._fragment_opcode:
                # a continuation frame (final or not, no reserved bits) of the message at hand
                cost = self._fragment_size + end - position
                if cost > limit:
                    self._end(_too_big(limit))
                    return
                if end > size:
                    need = end - position
                    break
                ended = self._fragment(
                    buffer[start:end] if length < BIG_FRAME else memoryview(buffer)[start:end],
                    first,
                    cost,
                )
                position = end
                if ended is not None:
                    self._end(ended)
                    return
                continue
            ended = _bad_header(first, length) or self._sequence_error(first & 0x0F)
            if (
                ended is None
                and first & 0x0F < 8  # a data frame: it counts, header and all
                and self._fragment_size + (end - position) > limit
            ):
                ended = _too_big(limit)
            if ended is not None:
                self._end(ended)
                return
            if end > size:
                need = end - position
                break
            ended = self._frame(
                first & 0x0F,
                first & 0x80,
                buffer[start:end] if length < BIG_FRAME else memoryview(buffer)[start:end],
                end - position,
            )
            position = end
            if ended is not None:
                self._end(ended)
                return
        if position < size:
            self._buffer += buffer[position:]
            self._need = need

    def _sequence_error(self, opcode: int) -> Ended | None:
        """A data frame out of place: a new message inside a fragmented one, or the reverse."""
        if opcode >= 8:
            return None  # control frames may come between fragments
        if opcode and self._fragment_opcode:
            return _violation("new message inside a fragmented one")
        if not opcode and not self._fragment_opcode:
            return _violation("continuation frame with no message to continue")
        return None

    def _frame(self, opcode: int, fin: int, payload: bytes | memoryview, cost: int) -> Ended | None:
        """A control frame, or the first frame of a fragmented message; header, sequence and
        size checked. `cost` is the frame's bytes on the wire, header and payload."""
        if opcode >= 8:
            if opcode == PING:
                self.pings.append(bytes(payload))
            elif opcode == CLOSE:
                return _close(bytes(payload))
            return None  # pong: we never ping at the WebSocket level
        self._fragment_opcode = opcode  # (never 0: feed() takes the continuation frames)
        return self._fragment(payload, fin, cost)

    def _fragment(self, payload: bytes | memoryview, fin: int, cost: int) -> Ended | None:
        """Add a data frame of a fragmented message; `cost`: the message's wire bytes so far."""
        if self._fragment_opcode == TEXT:
            # check the text as it comes (a bad byte ends it now, as wsproto does); the text is
            # made once, whole, at the end. Only an incomplete last character is carried.
            carry = self._carry
            text = carry + payload if carry else payload
            try:
                _, used = codecs.utf_8_decode(text, "strict", bool(fin))
            except UnicodeDecodeError as exc:
                return _violation(f"text is not UTF-8: {exc}", INVALID_DATA)
            self._carry = bytes(text[used:])
        self._fragment_size = cost
        assembly = self._assembly
        assembly += payload
        if fin & 0x80:
            if self._fragment_opcode == TEXT:
                self.messages.append(assembly.decode())
            else:
                self.messages.append(bytes(assembly))
            self._assembly = bytearray()  # (a fresh one: clear() may keep the big buffer)
            self._fragment_opcode = 0
            self._fragment_size = 0
        return None

    def _end(self, ended: Ended) -> None:
        self.ended = ended
        self._buffer = bytearray()
        self._assembly = bytearray()
        self._carry = b""


def _bad_header(first: int, length: int) -> Ended | None:
    """The violation in a frame's first bytes (`length` after the extended forms), if any."""
    opcode = first & 0x0F
    if opcode not in (0, TEXT, BINARY, CLOSE, PING, PONG):
        return _violation(f"invalid opcode {opcode:#x}")
    if opcode >= 8:
        if not first & 0x80:
            return _violation("fragmented control frame")
        if length > 125:
            return _violation("control frame with a payload over 125 bytes")
    if first & 0x70:
        return _violation("reserved bit set without an extension")
    return None


def _too_big(limit: int) -> Ended:
    return _violation(f"message too big (over {limit} bytes)", MESSAGE_TOO_BIG)


def _close(payload: bytes) -> Ended:
    if not payload:
        return Ended(NO_STATUS, "", remote_close=True)
    if len(payload) == 1:
        return _violation("close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if not _valid_close_code(code):
        return _violation(f"close frame with code {code}, which no peer may send")
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError as exc:
        return _violation(f"close reason is not UTF-8: {exc}", INVALID_DATA)
    return Ended(code, reason, remote_close=True)


# ---------------------------------------------------------------------------------- sending


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 5.3: a client masks every frame)."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    key = os.urandom(4)
    if not size:
        return header + key
    mask = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(size, "big")
    return header + key + masked


def close_frame(code: int | None, reason: str = "") -> bytes:
    """A close frame: `code` None (or 1005) sends none; the reason is cut to fit 123 bytes."""
    if code is None or code == NO_STATUS:
        return client_frame(CLOSE, b"")
    if code in (1006, 1015):  # local-only codes: never on the wire (wsproto sends 1000 too)
        code = 1000
    text = reason.encode()[:123]
    while True:  # never cut a character in half
        try:
            text.decode()
            break
        except UnicodeDecodeError:
            text = text[:-1]
    return client_frame(CLOSE, code.to_bytes(2, "big") + text)
