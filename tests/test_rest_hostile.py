"""The REST helper against hostile HTTP servers on loopback (issue 17.5): whatever a server
does, a REST call ends within its deadline in one typed error (or a correct answer), holds no
more than its size cap, and says why. Real sockets, real clock, the
production transport."""

from __future__ import annotations

import time
import tracemalloc

import pytest
import trio

import gatetrio
from gatetrio import (
    ProtocolError,
    RateLimited,
    RequestRejected,
    ResponseTooLarge,
    RestTimeout,
    RestUnavailable,
)
from gatetrio._core._rest import rest_route
from gatetrio._shell._http import H11Transport
from gatetrio._shell._rest import RestClient

from .hostile_http import (
    Behaviour,
    HostileHttp,
    answer,
    endless,
    gzip_bomb,
    hang_up,
    head,
    hostile_http,
    keep_alive,
    raw,
    sequence,
    silent,
    trickle,
)

DEADLINE = 2.0
CAP = 1024 * 1024
HANG_GUARD = 20.0  # no test may take this long, whatever the code under test does
JSON = "Content-Type: application/json"


def rest_for(server: HostileHttp, **overrides: object) -> RestClient:
    options: dict[str, object] = {
        "url": server.url,
        "rest_deadline": DEADLINE,
        "rest_max_body": CAP,
        "rest_retries": 2,
    }
    options.update(overrides)
    config = gatetrio.ClientConfig(**options)  # type: ignore[arg-type]
    return RestClient(
        rest_route(server.url), transport=H11Transport(), config=config, wall_clock=time.time
    )


async def run(
    behaviour: Behaviour, expected: type[BaseException], *, method: str = "GET", **overrides: object
) -> tuple[BaseException, HostileHttp, RestClient, float]:
    """One call against `behaviour`; the error it ends in, the server, the helper, the time."""
    with trio.fail_after(HANG_GUARD):
        async with hostile_http(behaviour) as server:
            rest = rest_for(server, **overrides)
            start = trio.current_time()
            try:
                with pytest.raises(expected) as caught:
                    await rest.request(method, "/futures/usdt/order_book", query={"limit": 5})
            finally:
                await rest.aclose()
            return caught.value, server, rest, trio.current_time() - start


# ------------------------------------------------------------------------------- size


async def test_a_declared_200_mb_body_is_refused_before_it_is_read() -> None:
    error, _, rest, _ = await run(
        endless(chunked=False, declared=200 * 1024 * 1024), ResponseTooLarge, rest_deadline=10.0
    )
    assert "declares 209715200 bytes" in str(error)
    assert rest.statistics().bytes_received == 0


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "until-close"])
async def test_an_endless_body_stops_at_the_cap_without_holding_more(chunked: bool) -> None:
    tracemalloc.start()
    try:
        # a generous deadline: this one must end by size, not time, on a loaded machine too
        error, _, rest, _ = await run(
            endless(chunked=chunked), ResponseTooLarge, rest_deadline=10.0
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, ResponseTooLarge)
    assert error.limit == CAP
    assert CAP < rest.statistics().bytes_received < CAP + 256 * 1024
    # the cap bounds memory: the body collected, a read buffer or two, nothing like 200 MB
    assert peak < 6 * CAP, peak


async def test_a_compressed_bomb_is_refused_as_it_expands() -> None:
    bomb = gzip_bomb(64 * 1024 * 1024)
    tracemalloc.start()
    try:
        await run(
            answer("200 OK", bomb, JSON, "Content-Encoding: gzip"),
            ResponseTooLarge,
            rest_deadline=10.0,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * CAP, peak


async def test_an_encoding_not_asked_for_is_refused() -> None:
    await run(answer("200 OK", b"[]", JSON, "Content-Encoding: br"), ProtocolError)


# ------------------------------------------------------------------------------- time


async def test_a_body_trickled_a_byte_at_a_time_ends_at_the_deadline() -> None:
    error, _, rest, elapsed = await run(trickle(b"[" + b" " * 100 + b"]", every=0.3), RestTimeout)
    assert f"no complete answer within {DEADLINE:g}s" in str(error)
    assert DEADLINE <= elapsed < DEADLINE + 1.0
    assert rest.statistics().timeouts == 1


async def test_a_server_that_reads_and_never_answers_ends_at_the_deadline() -> None:
    _, server, _, elapsed = await run(silent, RestTimeout)
    assert DEADLINE <= elapsed < DEADLINE + 1.0
    assert server.connections == 1


# ------------------------------------------------------------------------- no answer


async def test_a_hang_up_is_retried_then_reported() -> None:
    error, server, rest, _ = await run(hang_up, RestUnavailable)
    assert isinstance(error, RestUnavailable)
    assert str(error).endswith(": no answer, the connection closed"), str(error)
    assert error.sent  # it may have been read: a state change would not be repeated
    assert server.connections == 3  # the first try and two paced retries
    assert rest.statistics().retries == 2


async def test_a_hang_up_is_not_retried_for_a_state_change() -> None:
    _, server, _, _ = await run(hang_up, RestUnavailable, method="POST")
    assert server.connections == 1


async def test_a_refused_connection_was_never_sent() -> None:
    async with hostile_http(hang_up) as server:
        url = server.url
    config = gatetrio.ClientConfig(url=url, rest_deadline=DEADLINE, rest_retries=1)
    rest = RestClient(
        rest_route(url), transport=H11Transport(), config=config, wall_clock=time.time
    )
    with (
        trio.fail_after(HANG_GUARD),
        pytest.raises(RestUnavailable, match="cannot connect") as caught,
    ):
        await rest.post("/futures/usdt/orders", body={}, signed=False)
    await rest.aclose()
    assert not caught.value.sent
    assert rest.statistics().attempts == 2  # never sent, so even a POST is tried again


# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("body", "content_type", "match"),
    [
        (b"<html><body>maintenance</body></html>", "text/html", "text/html, not JSON"),
        (b"{{", "application/json", "not JSON"),
        (b"\xff\xfe\x00", "application/json", "not UTF-8"),
        (b"[" * 50_000, "application/json", "not JSON"),
    ],
)
async def test_a_success_that_is_not_json_is_a_protocol_error(
    body: bytes, content_type: str, match: str
) -> None:
    error, server, _, _ = await run(
        answer("200 OK", body, f"Content-Type: {content_type}"), ProtocolError
    )
    assert match in str(error)
    assert server.connections == 1  # junk is not retried: it would come again


async def test_an_html_error_page_is_unavailable_with_its_status() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    error, server, _, _ = await run(
        answer("502 Bad Gateway", page, "Content-Type: text/html"), RestUnavailable
    )
    assert isinstance(error, RestUnavailable)
    assert error.status == 502
    assert "an HTML page: '502 Bad Gateway nginx'" in str(error)
    assert server.connections == 3


async def test_a_5xx_storm_is_paced_and_bounded() -> None:
    error, server, rest, elapsed = await run(
        answer("503 Service Unavailable", b""), RestUnavailable, rest_retries=50, rest_deadline=3.0
    )
    # 0.25 + 0.5 + 1 s of backoff fit in 3 s, the next 2 s wait would not: it stops there
    assert server.connections == 4
    assert elapsed < 3.0
    stats = rest.statistics()
    assert (stats.unavailable, stats.failed) == (4, 1)
    assert "HTTP 503" in str(error)


async def test_a_429_waits_for_gates_reset_then_succeeds() -> None:
    reset_ms = int((time.time() + 0.8) * 1000)
    limited = answer(
        "429 Too Many Requests",
        b'{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded (311)"}',
        JSON,
        f"X-Gate-RateLimit-Reset-Timestamp: {reset_ms}",
    )
    async with hostile_http(sequence(limited, answer("200 OK", b"[1]", JSON))) as server:
        rest = rest_for(server)
        start = trio.current_time()
        with trio.fail_after(HANG_GUARD):
            assert await rest.get("/futures/usdt/orders") == [1]
        await rest.aclose()
    assert trio.current_time() - start >= 0.7
    assert rest.statistics().rate_limited == 1


async def test_a_429_past_the_deadline_is_reported_with_its_reset() -> None:
    limited = answer("429 Too Many Requests", b"", "Retry-After: 120")
    error, server, _, elapsed = await run(limited, RateLimited)
    assert isinstance(error, RateLimited)
    assert error.reset_at is not None
    assert error.reset_at > time.time() + 100
    assert server.connections == 1
    assert elapsed < 1.0


async def test_a_redirect_is_never_followed() -> None:
    async with hostile_http(answer("200 OK", b"[]", JSON)) as elsewhere:
        redirect = answer("302 Found", b"", f"Location: http://127.0.0.1:{elsewhere.port}/steal")
        error, _, _, _ = await run(redirect, RestUnavailable)
        assert "redirect to http://127.0.0.1" in str(error)
        assert "not followed" in str(error)
        assert elsewhere.connections == 0


async def test_gates_refusal_is_typed_with_its_label() -> None:
    body = b'{"label":"CONTRACT_NOT_FOUND","message":"contract NOPE_USDT not found"}'
    error, server, _, _ = await run(answer("400 Bad Request", body, JSON), RequestRejected)
    assert isinstance(error, RequestRejected)
    assert error.label == "CONTRACT_NOT_FOUND"
    assert server.connections == 1


# --------------------------------------------------------------------- broken framing


@pytest.mark.parametrize(
    "wire",
    [
        head("200 OK", "Transfer-Encoding: chunked") + b"zz\r\nhello\r\n0\r\n\r\n",
        head("200 OK", "Transfer-Encoding: chunked") + b"f" * 100_000 + b"\r\n",
        head("200 OK", "Transfer-Encoding: chunked") + b"5;" + b"x" * 100_000 + b"\r\n",
        head("200 OK", "Transfer-Encoding: chunked") + b"5\r\nhello\r\n",  # then closes
        head("200 OK", "Content-Length: 100") + b"[1,2",  # then closes
        head("200 OK", *(f"X-Junk-{i}: {'v' * 100}" for i in range(5000))),
        b"HTTP/1.1 abc Nope\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"\x16\x03\x01\x02\x00" * 10,
        head("200 OK", "Content-Length: 5", "Content-Length: 7") + b"[1,2]",
    ],
    ids=[
        "bad-chunk-size",
        "endless-chunk-size-line",
        "chunk-extension-flood",
        "chunked-cut-short",
        "length-cut-short",
        "header-flood",
        "bad-status-line",
        "not-http",
        "tls-to-http",
        "two-lengths",
    ],
)
async def test_broken_framing_is_unavailable(wire: bytes) -> None:
    error, _, _, elapsed = await run(raw(wire), RestUnavailable)
    assert isinstance(error, RestUnavailable)
    assert elapsed < DEADLINE + 1.0


async def test_an_informational_answer_before_the_real_one_is_skipped() -> None:
    body = b'[{"name":"BTC_USDT"}]'
    wire = (
        head("100 Continue")
        + head("103 Early Hints", "Link: </x>")
        + head("200 OK", JSON, f"Content-Length: {len(body)}")
        + body
    )
    async with hostile_http(raw(wire)) as server:
        rest = rest_for(server)
        with trio.fail_after(HANG_GUARD):
            assert await rest.get("/futures/usdt/contracts") == [{"name": "BTC_USDT"}]
        await rest.aclose()


async def test_requests_carry_the_headers_the_sockets_data_assumes() -> None:
    async with hostile_http(answer("200 OK", b"{}", JSON)) as server:
        rest = rest_for(server)
        with trio.fail_after(HANG_GUARD):
            await rest.get("/futures/usdt/order_book", query={"contract": "BTC_USDT", "limit": 5})
        await rest.aclose()
    [request] = server.requests
    lines = request.decode("latin-1").lower().split("\r\n")
    assert lines[0] == "get /api/v4/futures/usdt/order_book?contract=btc_usdt&limit=5 http/1.1"
    assert "x-gate-size-decimal: 1" in lines
    assert "accept: application/json" in lines


async def test_gets_reuse_a_kept_alive_connection() -> None:
    async with hostile_http(keep_alive(b"[1]", requests=3)) as server:
        rest = rest_for(server)
        with trio.fail_after(HANG_GUARD):
            for _ in range(3):
                assert await rest.get("/futures/usdt/contracts") == [1]
        await rest.aclose()
    assert server.connections == 1
    assert len(server.requests) == 1  # the server logs the first head of each connection


async def test_a_kept_alive_connection_the_server_dropped_is_replaced_unseen() -> None:
    async with hostile_http(keep_alive(b"[1]", requests=1)) as server:
        rest = rest_for(server)
        with trio.fail_after(HANG_GUARD):
            assert await rest.get("/futures/usdt/contracts") == [1]
            await trio.sleep(0.1)  # the server has closed the idle connection by now
            assert await rest.get("/futures/usdt/contracts") == [1]
        await rest.aclose()
    assert server.connections == 2
    stats = rest.statistics()
    assert (stats.attempts, stats.retries, stats.failed) == (2, 0, 0)


async def test_a_state_change_never_rides_a_kept_alive_connection() -> None:
    async with hostile_http(keep_alive(b"{}", requests=5)) as server:
        rest = rest_for(server)
        with trio.fail_after(HANG_GUARD):
            await rest.get("/futures/usdt/contracts")
            await rest.post("/futures/usdt/orders", body={"size": 1}, signed=False)
        await rest.aclose()
    assert server.connections == 2
    post = server.requests[1].decode("latin-1").lower()
    assert post.startswith("post /api/v4/futures/usdt/orders http/1.1")
    assert "content-length: 10" in post
    assert "content-type: application/json" in post
