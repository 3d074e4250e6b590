"""REST facts, pure (`_core/_rest.py`, `_core/_auth.py` REST signing, `_core/_listing.py` pages):
where a call goes, what it sends and signs, what any answer means, when to retry."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import zlib
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gatetrio._core import _rest
from gatetrio._core._auth import rest_sign_text, sign_rest, verify_rest_sign
from gatetrio._core._errors import (
    AuthenticationError,
    GateTrioError,
    ProtocolError,
    RateLimited,
    RequestRejected,
    ResponseTooLarge,
    RestTimeout,
    RestUnavailable,
    UsageError,
)
from gatetrio._core._listing import ListingPager, listed_contracts

# ------------------------------------------------------------------------------------ where


@pytest.mark.parametrize(
    ("ws_url", "base", "prefix"),
    [
        ("wss://fx-ws.gateio.ws/v4/ws/usdt", "https://api.gateio.ws/api/v4", "/futures/usdt"),
        ("wss://fx-ws.gateio.ws/v4/ws/btc", "https://api.gateio.ws/api/v4", "/futures/btc"),
        ("wss://fx-ws.gateio.ws/v4/ws/usd1", "https://api.gateio.ws/api/v4", "/futures/usd1"),
        # the legacy path is BTC-settled (spec 1)
        ("wss://fx-ws.gateio.ws/v4/ws", "https://api.gateio.ws/api/v4", "/futures/btc"),
        ("wss://fx-ws.gateio.ws/v4/ws/", "https://api.gateio.ws/api/v4", "/futures/btc"),
        (
            "wss://fx-ws.gateio.ws/v4/ws/delivery/usdt",
            "https://api.gateio.ws/api/v4",
            "/delivery/usdt",
        ),
        (
            "wss://ws-testnet.gate.com/v4/ws/futures/usdt",
            "https://api-testnet.gateapi.io/api/v4",
            "/futures/usdt",
        ),
        (
            "wss://fx-ws-testnet.gateio.ws/v4/ws/delivery/btc",
            "https://api-testnet.gateapi.io/api/v4",
            "/delivery/btc",
        ),
        # a fake on loopback serves REST beside its socket
        ("ws://127.0.0.1:8765/v4/ws/usdt", "http://127.0.0.1:8765/api/v4", "/futures/usdt"),
        (
            "wss://localhost:8443/v4/ws/delivery/btc",
            "https://localhost:8443/api/v4",
            "/delivery/btc",
        ),
        ("ws://[::1]:9/v4/ws/usd1", "http://[::1]:9/api/v4", "/futures/usd1"),
        ("WS://Example.COM/v4/ws/USDT", "http://example.com/api/v4", "/futures/usdt"),
        # userinfo in a socket URL never travels into REST URLs or messages
        ("ws://user:secret@127.0.0.1:9/v4/ws/btc", "http://127.0.0.1:9/api/v4", "/futures/btc"),
    ],
)
def test_route_follows_the_socket_url(ws_url: str, base: str, prefix: str) -> None:
    route = _rest.rest_route(ws_url)
    assert (route.base, route.prefix) == (base, prefix)


def test_route_paths_urls_and_signed_paths() -> None:
    route = _rest.rest_route("ws://127.0.0.1:1/v4/ws/usdt")
    assert route.market_path("order_book") == "/futures/usdt/order_book"
    # an order's text or a contract may hold anything: each segment is percent-encoded
    assert route.market_path("orders", "t-a/b c") == "/futures/usdt/orders/t-a%2Fb%20c"
    assert route.url("/spot/currencies") == "http://127.0.0.1:1/api/v4/spot/currencies"
    assert route.signed_path("/futures/usdt/orders") == "/api/v4/futures/usdt/orders"


@pytest.mark.parametrize(
    "url", ["https://api.gateio.ws/api/v4", "ws:///v4/ws/usdt", "nope", "ws://h:99999/v4/ws"]
)
def test_route_refuses_what_is_not_a_socket_url(url: str) -> None:
    with pytest.raises(UsageError, match=r"ws:// or wss://|bad port"):
        _rest.rest_route(url)


# ----------------------------------------------------------------------------- what it sends


def test_headers_ask_for_the_sizes_the_socket_asks_for() -> None:
    decimal = dict(_rest.request_headers(size_decimal=True, has_body=False))
    assert decimal["X-Gate-Size-Decimal"] == "1"
    assert decimal["Accept"] == "application/json"
    assert "Content-Type" not in decimal
    plain = dict(_rest.request_headers(size_decimal=False, has_body=True))
    assert "X-Gate-Size-Decimal" not in plain
    assert plain["Content-Type"] == "application/json"


def test_query_text_is_what_is_sent_and_signed() -> None:
    assert _rest.encode_query(None) == ""
    assert _rest.encode_query({}) == ""
    text = _rest.encode_query(
        {"status": "open", "contract": "BTC_USDT", "limit": 5, "with_id": True, "x": None}
    )
    assert text == "status=open&contract=BTC_USDT&limit=5&with_id=true"
    assert _rest.encode_query({"text": "t-a b/&="}) == "text=t-a%20b%2F%26%3D"
    with pytest.raises(UsageError, match="str, int or bool"):
        _rest.encode_query({"price": Decimal(1)})  # type: ignore[dict-item]


def test_body_is_compact_json_with_decimals_as_strings() -> None:
    body = {"contract": "BTC_USDT", "size": Decimal("0.5"), "price": "1", "reduce_only": False}
    assert _rest.encode_body(body) == (
        b'{"contract":"BTC_USDT","size":"0.5","price":"1","reduce_only":false}'
    )
    with pytest.raises(UsageError, match="not JSON"):
        _rest.encode_body({"x": object()})


# --------------------------------------------------------------------------------- signing


def reference_sign(secret: str, method: str, path: str, query: str, *, body: bytes, ts: str) -> str:
    """Gate's docs sample (gen_sign), written out independently."""
    hashed = hashlib.sha512(body).hexdigest()
    text = f"{method}\n{path}\n{query}\n{hashed}\n{ts}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def test_rest_signature_is_gates_apiv4_scheme() -> None:
    headers = sign_rest(
        "get",
        "/api/v4/futures/usdt/orders",
        "status=open",
        b"",
        timestamp="1700000000",
        key="KEY1",
        secret="SECRET1",
    )
    assert headers["KEY"] == "KEY1"
    assert headers["Timestamp"] == "1700000000"
    assert headers["SIGN"] == reference_sign(
        "SECRET1", "GET", "/api/v4/futures/usdt/orders", "status=open", body=b"", ts="1700000000"
    )
    # the empty body is hashed too (SHA-512 of "")
    assert rest_sign_text("GET", "/p", "", b"", "1").split("\n")[3] == (
        hashlib.sha512(b"").hexdigest()
    )
    with pytest.raises(UsageError, match="unix seconds"):
        sign_rest("GET", "/p", "", b"", timestamp="1.5", key="k", secret="s")


@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
    path=st.text(min_size=1, max_size=40),
    query=st.text(max_size=40),
    body=st.binary(max_size=200),
    ts=st.integers(0, 2**40).map(str),
    secret=st.text(min_size=1, max_size=30),
)
def test_rest_signatures_verify_and_any_change_breaks_them(  # noqa: PLR0917 - drawn
    method: str, path: str, query: str, body: bytes, ts: str, secret: str
) -> None:
    sign = sign_rest(method, path, query, body, timestamp=ts, key="k", secret=secret)["SIGN"]
    assert verify_rest_sign(method, path, query, body, ts, sign=sign, secret=secret)
    assert not verify_rest_sign(method, path, query, body + b"x", ts, sign=sign, secret=secret)
    assert not verify_rest_sign(method, path, query + "x", body, ts, sign=sign, secret=secret)
    assert not verify_rest_sign(method, path, query, body, ts + "0", sign=sign, secret=secret)
    assert not verify_rest_sign(method, path, query, body, ts, sign=sign, secret=secret + "x")


@pytest.mark.parametrize("bad", [None, 7, b"00", "é" * 128, "", ["x"]])
def test_rest_verify_never_raises_on_untrusted_signatures(bad: object) -> None:
    assert not verify_rest_sign("GET", "/p", "", b"", "1", sign=bad, secret="s")
    assert not verify_rest_sign("GET", "/p", "", b"", bad, sign="00", secret="s")


# ---------------------------------------------------------------------------- body reading


def test_body_reader_caps_exactly_at_the_limit() -> None:
    reader = _rest.BodyReader(10)
    reader.feed(b"12345")
    reader.feed(b"67890")
    assert reader.finish() == b"1234567890"
    reader = _rest.BodyReader(10)
    reader.feed(b"12345")
    with pytest.raises(ResponseTooLarge) as caught:
        reader.feed(b"678901")
    assert caught.value.limit == 10


def test_a_compressed_bomb_is_refused_as_it_expands() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 kB
    assert len(bomb) < 100_000
    reader = _rest.BodyReader(1024 * 1024, "gzip")
    with pytest.raises(ResponseTooLarge):
        for start in range(0, len(bomb), 4096):
            reader.feed(bomb[start : start + 4096])
    # decompression never ran ahead of the cap: nothing near 64 MiB was ever held
    assert reader.raw_bytes < len(bomb)


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "", "identity"])
def test_encoded_bodies_decode_within_the_cap(encoding: str) -> None:
    data = json.dumps([{"name": f"C{i}_USDT"} for i in range(500)]).encode()
    if encoding in ("gzip", "x-gzip"):
        wire = gzip.compress(data)
    elif encoding == "deflate":
        wire = zlib.compress(data)
    else:
        wire = data
    reader = _rest.BodyReader(len(data), encoding)
    for start in range(0, len(wire), 7):
        reader.feed(wire[start : start + 7])
    assert reader.finish() == data


def test_corrupt_truncated_or_unasked_encodings_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="not valid compressed"):
        _rest.BodyReader(100, "gzip").feed(b"not gzip at all")
    cut = _rest.BodyReader(10_000, "gzip")
    cut.feed(gzip.compress(b"x" * 5000)[:20])
    with pytest.raises(ProtocolError, match="cut short"):
        cut.finish()
    with pytest.raises(ProtocolError, match="not asked for"):
        _rest.BodyReader(100, "br")


# ----------------------------------------------------------------------- what answers mean


def answer(status: int, body: bytes | str = b"", **headers: str) -> _rest.Answer:
    raw = body.encode() if isinstance(body, str) else body
    return _rest.Answer(status, {k.replace("_", "-"): v for k, v in headers.items()}, raw)


CALL = "GET /api/v4/futures/usdt/orders"


def interpret(status: int, body: bytes | str = b"", **headers: str) -> object:
    return _rest.interpret_answer(CALL, answer(status, body, **headers), wall_time=1000.0)


def test_success_is_json_of_json_content() -> None:
    assert interpret(200, '[{"id":1,"t":1.5}]', content_type="application/json") == [
        {"id": 1, "t": 1.5}
    ]
    assert interpret(200, "{}") == {}  # no Content-Type at all: still read
    assert interpret(201, "[]", content_type="application/problem+json; charset=utf-8") == []


@pytest.mark.parametrize(
    ("body", "content_type", "match"),
    [
        ("<html>hi</html>", "text/html", "text/html, not JSON"),
        ("ok", "text/plain", "text/plain, not JSON"),
        ("{", "application/json", "not JSON"),
        ("[NaN]", "application/json", "not JSON"),
        ("[1e999]", "application/json", "not JSON"),
        ("[" * 100_000, "application/json", "not JSON"),
        (b"\xff\xfe", "application/json", "not UTF-8"),
        ("1" * 5000, "application/json", "not JSON"),  # past Python's int digits limit
    ],
)
def test_a_success_that_is_not_json_is_a_protocol_error(
    body: str | bytes, content_type: str, match: str
) -> None:
    with pytest.raises(ProtocolError, match=match):
        interpret(200, body, content_type=content_type)


def test_gates_error_body_becomes_request_rejected_with_its_label() -> None:
    with pytest.raises(RequestRejected) as caught:
        interpret(
            400,
            '{"label":"CONTRACT_NOT_FOUND","message":"contract NOPE_USDT not found"}',
            content_type="application/json",
        )
    err = caught.value
    assert (err.label, err.status, err.req_id, err.channel) == (
        "CONTRACT_NOT_FOUND",
        "400",
        "",
        CALL,
    )
    assert err.message == "contract NOPE_USDT not found"
    assert not isinstance(err, RateLimited | AuthenticationError)
    # ccxt's note: some answers carry `detail` instead of `message`
    with pytest.raises(RequestRejected, match="invalid size"):
        interpret(400, '{"label":"INVALID_ARGUMENT","detail":"invalid size"}')
    with pytest.raises(RequestRejected) as caught:
        interpret(404, '{"label":"ORDER_NOT_FOUND","message":"Order not found"}')
    assert caught.value.label == "ORDER_NOT_FOUND"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, '{"label":"INVALID_KEY","message":"Invalid key provided"}'),
        (401, '{"label":"INVALID_SIGNATURE","message":"Signature mismatch"}'),
        (401, '{"label":"REQUEST_EXPIRED","message":"gap between timestamps"}'),
        (400, '{"label":"MISSING_REQUIRED_HEADER","message":"Missing required header: KEY"}'),
        (403, '{"label":"IP_FORBIDDEN","message":"ip not in whitelist"}'),
        (401, "<html>denied</html>"),
    ],
)
def test_refused_credentials_are_authentication_errors(status: int, body: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        interpret(status, body)
    assert caught.value.channel == CALL


def test_rate_limits_carry_gates_reset_time() -> None:
    body = '{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded (311)"}'
    with pytest.raises(RateLimited) as caught:
        interpret(429, body, x_gate_ratelimit_reset_timestamp="1700000001500")
    assert caught.value.reset_at == 1700000001.5  # milliseconds, as the trading API sends
    assert caught.value.label == "TOO_MANY_REQUESTS"
    with pytest.raises(RateLimited) as caught:
        interpret(429, body, x_gate_ratelimit_reset_timestamp="1700000002")
    assert caught.value.reset_at == 1700000002  # seconds, as some REST answers send
    with pytest.raises(RateLimited) as caught:
        interpret(429, "", retry_after="3")
    assert caught.value.reset_at == 1003.0
    for junk in ("soon", "-5", "nan", "inf", "1e999"):
        with pytest.raises(RateLimited) as caught:
            interpret(429, "", x_gate_ratelimit_reset_timestamp=junk, retry_after="x")
        assert caught.value.reset_at is None
    # the label alone (a 200-range status is success; Gate puts it on 4xx)
    with pytest.raises(RateLimited):
        interpret(400, body)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 599])
def test_server_errors_and_proxy_pages_are_unavailable(status: int) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"
    with pytest.raises(RestUnavailable) as caught:
        interpret(status, page, content_type="text/html")
    assert caught.value.status == status
    assert caught.value.sent
    assert "an HTML page" in str(caught.value)
    assert "<" not in str(caught.value)
    assert not isinstance(caught.value, RestTimeout)


def test_redirects_are_never_followed() -> None:
    with pytest.raises(RestUnavailable, match=r"redirect to https://evil\.example/ \(not followed"):
        interpret(302, "", location="https://evil.example/")


def test_a_4xx_without_gates_body_is_rejected_with_what_it_said() -> None:
    with pytest.raises(RequestRejected, match="HTTP 404: an HTML page: 'Not Found'") as caught:
        interpret(404, "<h1>Not Found</h1>", content_type="text/html")
    assert caught.value.label == ""
    with pytest.raises(RequestRejected, match="an empty body"):
        interpret(405)


@given(
    status=st.integers(100, 999),
    body=st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | st.builds(
        lambda label, message: json.dumps({"label": label, "message": message}).encode(),
        st.one_of(st.text(max_size=20), st.integers(), st.none()),
        st.one_of(st.text(max_size=50), st.integers(), st.lists(st.integers(), max_size=3)),
    ),
    headers=st.dictionaries(
        st.sampled_from(
            ["content-type", "location", "retry-after", _rest.RESET_HEADER, "content-length"]
        ),
        st.text(max_size=30),
    ),
)
@example(status=429, body=b"", headers={_rest.RESET_HEADER: "9" * 400})
@example(status=200, body=b'{"a":' * 2000, headers={})
def test_any_answer_is_json_or_one_typed_error(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    try:
        _rest.interpret_answer(CALL, _rest.Answer(status, headers, body), wall_time=1.0)
    except GateTrioError as exc:
        message = str(exc)
    else:
        return
    assert message
    assert len(message) < 2000  # bounded, whatever the body


# ---------------------------------------------------------------------------------- retrying


def test_only_what_may_pass_is_retried_and_state_changes_only_when_unsent() -> None:
    down = RestUnavailable("503", status=503)
    never_sent = RestUnavailable("refused", sent=False)
    limited = RateLimited("slow down", label="TOO_MANY_REQUESTS", status="429", req_id="")
    rejected = RequestRejected("no", label="INVALID_PARAM_VALUE", status="400", req_id="")
    assert _rest.may_retry(down, method="GET")
    assert not _rest.may_retry(down, method="POST")  # it may have been executed
    assert _rest.may_retry(never_sent, method="POST")
    assert _rest.may_retry(limited, method="POST")  # refused before execution
    for final in (rejected, ProtocolError("junk"), AuthenticationError("x", code="INVALID_KEY")):
        assert not _rest.may_retry(final, method="GET")
    assert not _rest.may_retry(ResponseTooLarge("big", limit=1), method="GET")


def test_retry_delays_back_off_and_wait_for_the_reset() -> None:
    down = RestUnavailable("503", status=503)
    delays = [
        _rest.retry_delay(down, n, initial=0.25, maximum=4.0, wall_time=0.0) for n in range(1, 8)
    ]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    limited = RateLimited(
        "slow", label="TOO_MANY_REQUESTS", status="429", req_id="", reset_at=1003.0
    )
    assert _rest.retry_delay(limited, 1, initial=0.25, maximum=4.0, wall_time=1000.0) == 3.0
    # a reset in the past is no reason to hurry past the backoff
    assert _rest.retry_delay(limited, 2, initial=0.25, maximum=4.0, wall_time=2000.0) == 0.5


# ---------------------------------------------------------------------------------- listing


def page(names: range | list[str]) -> list[dict[str, object]]:
    return [{"name": n if isinstance(n, str) else f"C{n}_USDT"} for n in names]


def test_listing_pages_until_a_short_page() -> None:
    pager = ListingPager(page_size=100)
    assert pager.query() == {"limit": 100, "offset": 0}
    assert pager.take(page(range(100)))
    assert pager.query() == {"limit": 100, "offset": 100}
    assert pager.take(page(range(100, 200)))
    assert not pager.take(page(range(200, 250)))
    assert len(listed_contracts(pager.entries)) == 250
    assert (pager.pages, pager.repeated) == (3, False)
    # an exact multiple ends with an empty page
    pager = ListingPager(page_size=2)
    assert pager.take(page(range(2)))
    assert not pager.take([])
    assert pager.pages == 2


def test_listing_stops_when_the_server_ignores_offset() -> None:
    pager = ListingPager(page_size=3)
    assert pager.take(page(range(3)))
    assert not pager.take(page(range(3)))  # the same names again
    assert pager.repeated
    assert len(pager.entries) == 3
    # a page longer than asked (the server ignored `limit`) is the whole listing
    pager = ListingPager(page_size=3)
    assert not pager.take(page(range(10)))
    assert len(pager.entries) == 10


def test_listing_keeps_of_each_entry_only_what_it_reads() -> None:
    # fat entries (a hostile listing: 100 pages of them were all held at once)
    pager = ListingPager(page_size=2)
    fat = [
        {"name": "A_USDT", "pad": "x" * 100_000},
        {"name": "B_USDT", "in_delisting": True, "pad": "x" * 100_000},
    ]
    assert pager.take(fat)
    assert not pager.take([{"pad": "y" * 100_000}])
    assert pager.entries == [
        {"name": "A_USDT", "in_delisting": False},
        {"name": "B_USDT", "in_delisting": True},
        "{'pad': '" + "y" * 191,  # a nameless entry, cut short: refused below
    ]
    assert listed_contracts(pager.entries[:2]) == ("A_USDT",)
    with pytest.raises(ProtocolError, match="no name"):
        listed_contracts(pager.entries)


@pytest.mark.parametrize("name", ["", "!all", "btc_usdt", "BTCUSDT", "A B_C", "\x00_X"])
def test_a_listed_name_that_is_no_contract_is_a_protocol_error(name: str) -> None:
    # (it would surface later as a UsageError, blaming the caller for the server's data)
    with pytest.raises(ProtocolError, match="which is no contract name"):
        listed_contracts([{"name": "BTC_USDT"}, {"name": name}])


def test_listing_refuses_what_is_not_a_listing() -> None:
    with pytest.raises(ProtocolError, match="not a JSON array"):
        ListingPager().take({"name": "BTC_USDT"})
    pager = ListingPager(page_size=1, max_pages=3)
    assert pager.take(page(["A"]))
    assert pager.take(page(["B"]))
    with pytest.raises(ProtocolError, match="past 3 pages"):
        pager.take(page(["C"]))
    with pytest.raises(UsageError):
        ListingPager(page_size=0)
