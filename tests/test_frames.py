"""_shell/_transport/_frames: the receive-side frame parser agrees with wsproto, the reference.

Hypothesis builds server byte streams (every opcode, the three length forms and non-minimal
ones, fragments with control frames between them, masked frames, reserved bits, close payloads
of every shape, bad UTF-8) and splits them at arbitrary points; the parser and wsproto (driven
like the transport drove it before) must agree on every message, every ping and the end: close
code and whether the server closed or broke the protocol.
"""

from __future__ import annotations

import collections
import struct
from typing import NamedTuple

from hypothesis import example, given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType
from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from gatetrio._shell._transport._frames import Ended, FrameParser, client_frame, close_frame

BIG = 1 << 30


class Outcome(NamedTuple):
    messages: list[str | bytes]
    pings: list[bytes]
    end: tuple[int, bool] | None  # close code, and whether it was the server's close frame


def reference(chunks: list[bytes], limit: int = BIG) -> Outcome:
    """wsproto's view, assembled as the transport did before it had its own parser, with
    the message limit as the parser defines it: checked at each data frame's header, every
    frame of the message counted with its header (see `over_limit`).
    """
    conn = Connection(ConnectionType.CLIENT)
    messages: list[str | bytes] = []
    pings: list[bytes] = []
    fragments: list[str | bytes] = []
    headers = walk(b"".join(chunks))
    state = _LimitState()
    if state.over_limit(headers, limit):
        return Outcome(messages, pings, (1009, False))
    for chunk in chunks:
        conn.receive_data(chunk)
        for event in conn.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                data = event.data
                fragments.append(data if isinstance(data, str) else bytes(data))
                if event.message_finished:
                    if isinstance(fragments[0], str):
                        messages.append("".join(f for f in fragments if isinstance(f, str)))
                    else:
                        messages.append(
                            b"".join(bytes(f) for f in fragments if not isinstance(f, str))
                        )
                    fragments.clear()
                if not event.frame_finished:
                    continue
            elif isinstance(event, Ping):
                pings.append(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                remote = conn.state is ConnectionState.REMOTE_CLOSING
                return Outcome(messages, pings, (int(event.code), remote))
            # a frame is complete (data, ping or pong): the next one's header is due
            state.frame_done(headers)
            if state.over_limit(headers, limit):
                return Outcome(messages, pings, (1009, False))
    return Outcome(messages, pings, None)


class Header(NamedTuple):
    first: int  # FIN, RSV and opcode
    second: int  # MASK and the 7-bit length
    size: int  # header bytes, mask key included
    length: int  # payload bytes


def walk(stream: bytes) -> list[Header]:
    """The header of every frame in `stream`, in order, as far as it can be followed."""
    out: list[Header] = []
    position = 0
    while len(stream) - position >= 2:
        first, second = stream[position], stream[position + 1]
        length, size = second & 0x7F, 2
        if length >= 126:
            size = 4 if length == 126 else 10
            length = int.from_bytes(stream[position + 2 : position + size], "big")
        size += 4 if second & 0x80 else 0
        out.append(Header(first, second, size, length))
        position += size + length
    return out


class _LimitState:
    """Where wsproto stands in the stream: frames done, and the message being assembled."""

    def __init__(self) -> None:
        self.done = 0
        self.fragmented = False
        self.cost = 0  # wire bytes of the fragmented message's frames so far

    def frame_done(self, headers: list[Header]) -> None:
        header = headers[self.done]
        self.done += 1
        opcode, fin = header.first & 0x0F, header.first & 0x80
        if opcode >= 8:
            return
        if opcode and not fin:
            self.fragmented, self.cost = True, header.size + header.length
        elif not opcode:
            self.cost += header.size + header.length
            if fin:
                self.fragmented, self.cost = False, 0

    def over_limit(self, headers: list[Header], limit: int) -> bool:
        """Whether the next frame is a data frame that wsproto would take (valid header, in
        sequence) and that takes its message over `limit`: the parser says 1009 there, at
        its header, before reading a payload it will not keep."""
        if self.done >= len(headers):
            return False
        first, second, size, length = headers[self.done]
        opcode = first & 0x0F
        minimal = (
            (second & 0x7F) < 126
            or ((second & 0x7F) == 126 and length >= 126)
            or ((second & 0x7F) == 127 and 65536 <= length < 1 << 63)
        )
        valid = opcode in (0, 1, 2) and not first & 0x70 and not second & 0x80 and minimal
        in_sequence = bool(opcode) != self.fragmented
        return valid and in_sequence and self.cost + size + length > limit


def ours(chunks: list[bytes], limit: int = BIG) -> Outcome:
    messages: collections.deque[str | bytes] = collections.deque()
    parser = FrameParser(messages, max_message_size=limit)
    for chunk in chunks:
        parser.feed(chunk)
    ended = parser.ended
    end = None if ended is None else (ended.code, ended.remote_close)
    return Outcome(list(messages), parser.pings, end)


def server_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    length_form: int = 0,  # 0: minimal; 2 or 8: that extended form even when not needed
    mask: bytes | None = None,
) -> bytes:
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    size = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if length_form == 8 or (not length_form and size >= 65536):
        header = bytes((first, mask_bit | 127)) + struct.pack("!Q", size)
    elif length_form == 2 or (not length_form and size >= 126):
        header = bytes((first, mask_bit | 126)) + struct.pack("!H", size)
    else:
        header = bytes((first, mask_bit | size))
    if mask is None:
        return header + payload
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


texts = st.text(st.characters(codec="utf-8"), max_size=40).map(str.encode)
bad_utf8 = st.sampled_from([b"\xff", b"abc\xc3", b"\xed\xa0\x80", b"ok\xe2\x82"])


@st.composite
def frames(draw: st.DrawFn, *, valid_text: bool) -> bytes:
    kind = draw(
        st.sampled_from(
            ["text", "binary", "fragmented", "ping", "pong", "close", "odd", "big", "weird"]
        )
    )
    if kind == "text":
        return server_frame(0x1, draw(texts if valid_text else texts | bad_utf8))
    if kind == "binary":
        return server_frame(0x2, draw(st.binary(max_size=300)))
    if kind == "big":  # the 2- and 8-byte length forms, valid
        size = draw(st.sampled_from([126, 127, 65535, 65536, 70000]))
        return server_frame(draw(st.sampled_from([0x1, 0x2])), b"a" * size)
    if kind == "fragmented":
        opcode = draw(st.sampled_from([0x1, 0x2]))
        # (ASCII when sizes are compared: wsproto holds back a character cut between frames)
        alphabet = st.characters(max_codepoint=127 if valid_text else None, codec="utf-8")
        text = draw(st.text(alphabet, min_size=1, max_size=30)).encode()
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=3)))
        parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        out = b""
        for i, part in enumerate(parts):
            out += server_frame(opcode if i == 0 else 0, part, fin=i == len(parts) - 1)
            if draw(st.booleans()):
                out += server_frame(0x9, draw(st.binary(max_size=10)))
        return out
    if kind == "ping":
        return server_frame(0x9, draw(st.binary(max_size=125)))
    if kind == "pong":
        return server_frame(0xA, draw(st.binary(max_size=20)))
    if kind == "close":
        shape = draw(st.sampled_from(["empty", "one", "code", "reason", "bad_reason"]))
        code = draw(
            st.sampled_from([1000, 1001, 1005, 1006, 1011, 1014, 1015, 999, 2999, 3000, 4999, 5000])
        )
        payload = {
            "empty": b"",
            "one": b"\x03",
            "code": struct.pack("!H", code),
            "reason": struct.pack("!H", code) + draw(texts),
            "bad_reason": struct.pack("!H", code) + draw(bad_utf8),
        }[shape]
        return server_frame(0x8, payload)
    if kind == "odd":  # a frame no server may send
        opcode = draw(st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x7, 0x8, 0x9, 0xB, 0xF]))
        if valid_text and opcode < 2:  # (ASCII: a character cut between frames stays valid)
            payload = draw(st.text(st.characters(max_codepoint=127), max_size=130)).encode()
        else:
            payload = draw(st.binary(max_size=130))
        return server_frame(opcode, payload, fin=draw(st.booleans()), rsv=draw(st.integers(0, 7)))
    # weird: a length in more bytes than needed, or a masked frame
    payload = draw(st.binary(max_size=20))
    if draw(st.booleans()):
        return server_frame(0x2, payload, length_form=draw(st.sampled_from([2, 8])))
    return server_frame(0x2, payload, mask=b"\x01\x02\x03\x04")


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(
    stream=st.lists(frames(valid_text=False), min_size=1, max_size=12).map(b"".join),
    cuts=st.lists(st.integers(0, 1 << 20), max_size=8),
)
def test_agrees_with_wsproto(stream: bytes, cuts: list[int]) -> None:
    chunks = split(stream, cuts)
    assert ours(chunks) == reference(chunks)


@settings(max_examples=100, deadline=None)
@given(
    stream=st.lists(frames(valid_text=True), min_size=1, max_size=8).map(b"".join),
    cuts=st.lists(st.integers(0, 1 << 20), max_size=4),
    limit=st.sampled_from([0, 1, 10, 30, 200, 70000]),
)
# A 1-byte text fragment that is both over the limit and not UTF-8: wsproto, which reads the
# payload first, said 1007; the parser says 1009 at the header, without reading a payload it
# would not keep, and that is the answer (either is a violation; the earlier one is reported).
@example(stream=b"\x01\x01\x80", cuts=[], limit=0)
@example(stream=b"\x81\x00", cuts=[], limit=0)  # an empty message still costs its header
@example(stream=b"\x01\x00" + b"\x00\x00" * 7 + b"\x80\x00", cuts=[3], limit=17)  # empties count
def test_max_message_size_agrees_with_the_old_transport(
    stream: bytes, cuts: list[int], limit: int
) -> None:
    # valid text only in the drawn frames (see the examples for a message both too big and not
    # UTF-8)
    chunks = split(stream, cuts)
    assert ours(chunks, limit) == reference(chunks, limit)


SAMPLE = b"".join(
    [
        server_frame(0x1, "héllo".encode()),
        server_frame(0x9, b"p1"),
        server_frame(0x1, b"frag", fin=False),
        server_frame(0xA, b""),
        server_frame(0x0, "mént".encode(), fin=True),
        server_frame(0x2, b"\x00" * 300),
        server_frame(0x1, b"x" * 70000),
        server_frame(0x8, struct.pack("!H", 1001) + b"bye"),
        server_frame(0x1, b"after the close"),
    ]
)


def test_split_at_every_byte_and_byte_by_byte() -> None:
    expected = reference([SAMPLE])
    assert expected.end == (1001, True)
    assert len(expected.messages) == 4
    for cut in range(0, len(SAMPLE) + 1, 7):  # a two-chunk split every 7 bytes
        assert ours([SAMPLE[:cut], SAMPLE[cut:]]) == expected, cut
    head = SAMPLE[:1000]
    assert ours([head[i : i + 1] for i in range(len(head))]) == reference([head])


def test_a_big_message_in_small_chunks_is_not_reparsed() -> None:
    messages: collections.deque[str | bytes] = collections.deque()
    parser = FrameParser(messages, max_message_size=BIG)
    frame = server_frame(0x2, bytes(range(256)) * 4096)  # 1 MiB
    for i in range(0, len(frame), 1000):
        parser.feed(frame[i : i + 1000])
    assert list(messages) == [bytes(range(256)) * 4096]
    assert parser.ended is None


def test_nothing_is_parsed_after_the_end() -> None:
    messages: collections.deque[str | bytes] = collections.deque()
    parser = FrameParser(messages, max_message_size=BIG)
    parser.feed(server_frame(0x3, b""))
    assert parser.ended == Ended(1002, "invalid opcode 0x3", remote_close=False)
    parser.feed(server_frame(0x1, b"late"))
    assert not messages


@given(payload=st.binary(max_size=70000), opcode=st.sampled_from([0x1, 0x2, 0x9, 0xA]))
@settings(max_examples=50, deadline=None)
def test_client_frames_are_what_a_wsproto_server_reads(payload: bytes, opcode: int) -> None:
    if opcode >= 8:
        payload = payload[:125]
    if opcode == 0x1:
        payload = payload.decode("utf-8", "replace").encode()
    server = Connection(ConnectionType.SERVER)
    server.receive_data(client_frame(opcode, payload))
    (event,) = server.events()
    got = getattr(event, "data", None) if opcode < 8 else getattr(event, "payload", None)
    assert (got.encode() if isinstance(got, str) else bytes(got or b"")) == payload


@given(code=st.sampled_from([None, 1000, 1005, 1006, 1009, 3000, 4999]), reason=st.text())
def test_close_frames_are_what_a_wsproto_server_reads(code: int | None, reason: str) -> None:
    server = Connection(ConnectionType.SERVER)
    server.receive_data(close_frame(code, reason if code not in (None, 1005) else ""))
    (event,) = server.events()
    assert isinstance(event, CloseConnection)
    expected = {None: 1005, 1006: 1000}.get(code, code)
    assert int(event.code) == expected
    if code not in (None, 1005):
        assert reason.encode().startswith((event.reason or "").encode())
        assert len((event.reason or "").encode()) <= 123


def test_every_close_code_is_judged_like_wsproto() -> None:
    for code in [*range(5100), 65535]:
        chunks = [server_frame(0x8, struct.pack("!H", code) + b"why")]
        assert ours(chunks) == reference(chunks), code
