"""The REST helper (`Client.rest`, `_shell/_rest.py`) under autojump_clock with exact times:
retries paced by backoff and Gate's reset, one total deadline, state changes never repeated,
every failure counted, logged and reported; and against the fake, signed like live."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence

import attrs
import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import (
    AuthenticationError,
    ClientEventKind,
    ProtocolError,
    RateLimited,
    RequestRejected,
    ResponseTooLarge,
    RestTimeout,
    RestUnavailable,
    UsageError,
)
from gatetrio._core._rest import rest_route
from gatetrio._shell._rest import RestClient, RestStatistics, merge_rest_statistics
from gatetrio.testing import FakeGateServer

from .helpers import CREDS, client_config, record_events

JSON = (("Content-Type", "application/json"),)


@attrs.frozen
class Step:
    """One scripted answer: after `delay` s, `status` with `body` in chunks `every` s apart;
    `fail` raises instead (a transport failure)."""

    status: int = 200
    body: bytes = b"[]"
    headers: tuple[tuple[str, str], ...] = JSON
    delay: float = 0.0
    chunk: int = 1 << 20
    every: float = 0.0
    fail: BaseException | None = None


@attrs.define
class Sent:
    at: float
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class _Answer:
    def __init__(self, step: Step) -> None:
        self.step = step
        self.status = step.status
        self.headers: Sequence[tuple[str, str]] = step.headers

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        body, size = self.step.body, self.step.chunk
        for start in range(0, len(body), size):
            if start:
                await trio.sleep(self.step.every)
            yield body[start : start + size]


class ScriptedTransport:
    """Answers from a script, the last step repeating; records what was sent and when."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.sent: list[Sent] = []
        self.closed = False

    @contextlib.asynccontextmanager
    async def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> AsyncIterator[_Answer]:
        self.sent.append(Sent(trio.current_time(), method, url, dict(headers), body))
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        await trio.sleep(step.delay)
        if step.fail is not None:
            raise step.fail
        yield _Answer(step)

    async def aclose(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()


def make_rest(
    transport: ScriptedTransport,
    *,
    reports: list[tuple[str, str, int]] | None = None,
    **overrides: object,
) -> RestClient:
    config = client_config(url="ws://127.0.0.1:1/v4/ws/usdt", **overrides)
    report: Callable[[str, gatetrio.GateTrioError, int], None] | None = None
    if reports is not None:

        def report(call: str, error: gatetrio.GateTrioError, attempt: int) -> None:
            reports.append((call, type(error).__name__, attempt))

    return RestClient(
        rest_route(config.url),
        transport=transport,
        config=config,
        wall_clock=lambda: 1_700_000_000.0 + trio.current_time(),
        report=report,
    )


GATE_503 = Step(
    503, b"<html><body>503 Service Unavailable</body></html>", (("Content-Type", "text/html"),)
)


async def test_a_get_is_retried_with_backoff_until_it_succeeds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ScriptedTransport(GATE_503, GATE_503, Step(body=b'[{"name":"BTC_USDT"}]'))
    reports: list[tuple[str, str, int]] = []
    rest = make_rest(transport, reports=reports)
    assert await rest.get("/futures/usdt/contracts", query={"limit": 1000}) == [
        {"name": "BTC_USDT"}
    ]
    assert [s.at for s in transport.sent] == [0.0, 0.25, 0.75]
    assert transport.sent[0].url == "http://127.0.0.1:1/api/v4/futures/usdt/contracts?limit=1000"
    assert reports == [
        ("GET /api/v4/futures/usdt/contracts?limit=1000", "RestUnavailable", 1),
        ("GET /api/v4/futures/usdt/contracts?limit=1000", "RestUnavailable", 2),
    ]
    stats = rest.statistics()
    assert (stats.calls, stats.attempts, stats.retries, stats.failed) == (1, 3, 2, 0)
    assert (stats.unavailable, stats.rejected) == (2, 0)
    assert "HTTP 503" in stats.last_failure


async def test_retries_are_bounded_and_the_last_failure_surfaces(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ScriptedTransport(GATE_503)
    rest = make_rest(transport, rest_retries=2)
    with pytest.raises(RestUnavailable, match="HTTP 503") as caught:
        await rest.get("/x")
    assert caught.value.status == 503
    assert [s.at for s in transport.sent] == [0.0, 0.25, 0.75]
    assert rest.statistics().failed == 1


async def test_a_5xx_storm_ends_at_the_deadline_with_the_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ScriptedTransport(GATE_503)
    rest = make_rest(transport, rest_retries=1000, rest_deadline=6.0)
    with pytest.raises(RestUnavailable, match="HTTP 503"):
        await rest.get("/x")
    # 0.25, 0.5, 1, 2 s apart; the next wait (4 s) would pass the deadline: it says why now
    assert [s.at for s in transport.sent] == [0.0, 0.25, 0.75, 1.75, 3.75]
    assert trio.current_time() == 3.75


async def test_a_429_waits_until_gates_reset_then_succeeds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reset_ms = str((1_700_000_000 + 2) * 1000)  # wall time 2 s from now
    limited = Step(
        429,
        b'{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded (311)"}',
        (*JSON, ("X-Gate-RateLimit-Reset-Timestamp", reset_ms)),
    )
    transport = ScriptedTransport(limited, Step(body=b"{}"))
    rest = make_rest(transport)
    assert await rest.post("/futures/usdt/orders", body={"size": 1}, signed=False) == {}
    assert [s.at for s in transport.sent] == [0.0, 2.0]  # not the 0.25 s backoff: Gate's reset
    stats = rest.statistics()
    assert (stats.rate_limited, stats.rejected, stats.retries) == (1, 1, 1)


async def test_a_429_holds_every_other_call_until_gates_reset(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Gate's budget is the user's, not the call's: after one 429 no call goes out before the
    # reset, not even one that had nothing to do with it, and none is refused for it
    reset_ms = str((1_700_000_000 + 3) * 1000)
    limited = Step(
        429,
        b'{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded"}',
        (*JSON, ("X-Gate-RateLimit-Reset-Timestamp", reset_ms)),
        delay=0.5,
    )
    transport = ScriptedTransport(limited, Step(body=b"{}"))
    rest = make_rest(transport)
    answers: list[tuple[str, float]] = []

    async def call(path: str, start: float) -> None:
        await trio.sleep(start)
        await rest.get(path)
        answers.append((path, trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call, "/first", 0.0)  # refused at 0.5 s, Gate resets at 3 s
        for i, start in enumerate((1.0, 2.0, 2.9)):
            nursery.start_soon(call, f"/other{i}", start)
    sent = [(s.url.rsplit("/", 1)[1], s.at) for s in transport.sent]
    assert sent[0] == ("first", 0.0)
    assert sorted(at for _, at in sent[1:]) == [3.0, 3.0, 3.0, 3.0]  # all held until the reset
    assert len(answers) == 4
    stats = rest.statistics()
    assert (stats.rate_limited, stats.paused, stats.failed) == (1, 3, 0)


async def test_a_call_whose_deadline_ends_inside_the_pause_is_refused_unsent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reset_ms = str((1_700_000_000 + 30) * 1000)
    limited = Step(
        429,
        b'{"label":"TOO_MANY_REQUESTS"}',
        (*JSON, ("X-Gate-RateLimit-Reset-Timestamp", reset_ms)),
    )
    transport = ScriptedTransport(limited, Step(body=b"{}"))
    rest = make_rest(transport, rest_deadline=10.0)
    with pytest.raises(RateLimited):
        await rest.get("/first")  # its own reset is past its deadline: said at once
    with pytest.raises(RateLimited, match="not sent") as held:
        await rest.get("/second")
    assert held.value.reset_at == 1_700_000_030.0
    assert trio.current_time() == 0.0
    assert [s.url.rsplit("/", 1)[1] for s in transport.sent] == ["first"]
    await trio.sleep(30)
    assert await rest.get("/third") == {}  # the pause is over
    assert rest.statistics().paused == 1


async def test_a_reset_past_the_deadline_is_reported_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limited = Step(429, b"", (("Retry-After", "60"),))
    rest = make_rest(ScriptedTransport(limited), rest_deadline=10.0)
    with pytest.raises(RateLimited) as caught:
        await rest.get("/x")
    assert caught.value.reset_at == 1_700_000_060.0
    assert trio.current_time() == 0.0


async def test_a_state_change_that_may_have_run_is_never_repeated(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ScriptedTransport(GATE_503, Step(body=b"{}"))
    rest = make_rest(transport)
    with pytest.raises(RestUnavailable):
        await rest.post("/futures/usdt/orders", body={"contract": "BTC_USDT"}, signed=False)
    assert len(transport.sent) == 1
    # ...but one that never left is retried
    refused = Step(fail=RestUnavailable("cannot connect", sent=False))
    transport = ScriptedTransport(refused, Step(body=b'{"id":1}'))
    rest = make_rest(transport)
    assert await rest.post("/futures/usdt/orders", body={}, signed=False) == {"id": 1}
    assert len(transport.sent) == 2


async def test_gates_refusals_are_final(autojump_clock: trio.testing.MockClock) -> None:
    body = b'{"label":"INVALID_PARAM_VALUE","message":"limit must be 1..1000"}'
    transport = ScriptedTransport(Step(400, body))
    rest = make_rest(transport)
    with pytest.raises(RequestRejected) as caught:
        await rest.get("/futures/usdt/contracts", query={"limit": 0})
    assert caught.value.label == "INVALID_PARAM_VALUE"
    assert len(transport.sent) == 1
    transport = ScriptedTransport(Step(401, b'{"label":"INVALID_KEY","message":"Invalid key"}'))
    rest = make_rest(transport, credentials=CREDS)
    with pytest.raises(AuthenticationError):
        await rest.get("/futures/usdt/accounts", signed=True)
    assert len(transport.sent) == 1


async def test_a_trickled_body_ends_at_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # one byte every 2 s: no read ever waits long, the whole call does
    trickle = Step(body=b"[" + b" " * 1000 + b"]", chunk=1, every=2.0)
    rest = make_rest(ScriptedTransport(trickle), rest_deadline=15.0)
    with pytest.raises(RestTimeout, match=r"no complete answer within 15s \(attempt 1\)"):
        await rest.get("/futures/usdt/order_book", query={"contract": "BTC_USDT"})
    assert trio.current_time() == 15.0
    stats = rest.statistics()
    assert (stats.timeouts, stats.failed, stats.bytes_received) == (1, 1, 8)


async def test_a_server_that_never_answers_ends_at_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rest = make_rest(ScriptedTransport(Step(delay=1e9)), rest_deadline=4.0)
    with pytest.raises(RestTimeout):
        await rest.get("/x")
    assert trio.current_time() == 4.0


async def test_a_body_past_the_cap_is_refused_as_it_streams(
    autojump_clock: trio.testing.MockClock,
) -> None:
    big = Step(body=b"[" + b"0," * 600_000 + b"0]", chunk=65536)
    rest = make_rest(ScriptedTransport(big), rest_max_body=100_000)
    with pytest.raises(ResponseTooLarge) as caught:
        await rest.get("/x")
    assert caught.value.limit == 100_000
    stats = rest.statistics()
    assert stats.too_large == 1
    assert stats.bytes_received == 2 * 65536  # it stopped reading at the chunk past the cap
    # a declared length past the cap is refused before a byte is read
    declared = Step(body=b"[]", headers=(*JSON, ("Content-Length", "200000000")))
    rest = make_rest(ScriptedTransport(declared), rest_max_body=100_000)
    with pytest.raises(ResponseTooLarge, match="declares 200000000 bytes"):
        await rest.get("/x")
    assert rest.statistics().bytes_received == 0


async def test_a_transports_own_failure_is_mapped_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ScriptedTransport(Step(fail=OSError("connection reset")), Step(body=b"[]"))
    rest = make_rest(transport, rest_retries=0)
    with pytest.raises(RestUnavailable, match="OSError: connection reset") as caught:
        await rest.get("/x")
    assert isinstance(caught.value.__cause__, OSError)


async def test_bad_calls_raise_at_once(autojump_clock: trio.testing.MockClock) -> None:
    transport = ScriptedTransport(Step())
    rest = make_rest(transport)
    with pytest.raises(UsageError, match="needs credentials"):
        await rest.get("/futures/usdt/accounts", signed=True)
    with pytest.raises(UsageError, match="must start with '/'"):
        await rest.get("futures/usdt/accounts")
    with pytest.raises(UsageError, match="not JSON"):
        await rest.post("/x", body={"a": {1, 2}}, signed=False)
    assert transport.sent == []
    await rest.aclose()
    await rest.aclose()
    assert transport.closed
    with pytest.raises(UsageError, match="closed"):
        await rest.get("/x")


async def test_signed_calls_carry_gates_headers_and_secrets_stay_out_of_text(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gatetrio")
    transport = ScriptedTransport(
        Step(401, b'{"label":"INVALID_SIGNATURE","message":"Signature mismatch"}')
    )
    rest = make_rest(transport, credentials=CREDS)
    with pytest.raises(AuthenticationError) as caught:
        await rest.get(rest.route.market_path("orders"), query={"status": "open"}, signed=True)
    [sent] = transport.sent
    assert sent.headers["KEY"] == CREDS.key
    assert sent.headers["Timestamp"] == "1700000000"
    assert len(sent.headers["SIGN"]) == 128
    texts = [str(caught.value), repr(caught.value), repr(rest), caplog.text, str(rest.statistics())]
    for text in texts:
        assert CREDS.secret not in text
        assert CREDS.key not in text
        assert sent.headers["SIGN"] not in text


def test_statistics_merge_across_clients() -> None:
    merged = merge_rest_statistics(
        [
            RestStatistics(calls=2, attempts=3, last_failure="a"),
            RestStatistics(calls=1, timeouts=1),
            RestStatistics(calls=4, last_failure="c"),
        ]
    )
    assert (merged.calls, merged.attempts, merged.timeouts, merged.last_failure) == (7, 3, 1, "c")
    assert merge_rest_statistics([]) == RestStatistics()


# --------------------------------------------------------------------- against the fake


def open_client(
    gate: FakeGateServer, **overrides: object
) -> contextlib.AbstractAsyncContextManager[gatetrio.Client]:
    return gatetrio.open_client(
        connector=gate.connector,
        rest_transport=gate.rest_transport,
        config=client_config(rng=random.Random(0), **overrides),
        wall_clock=gate.wall_time,
        credentials=CREDS,
    )


@pytest.mark.fake(seed=3)
async def test_the_client_signs_like_live_and_the_fake_checks_it(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_client(gate) as client, record_events(client) as log:
        rest = client.rest
        account = await rest.get(rest.route.market_path("accounts"), signed=True)
        assert isinstance(account, dict)
        assert account["currency"] == "USDT"
        orders = await rest.get(
            rest.route.market_path("orders"), query={"status": "open"}, signed=True
        )
        assert orders == []
        # unsigned: refused as live refuses it, a typed error carrying Gate's label
        with pytest.raises(AuthenticationError) as caught:
            await rest.get(rest.route.market_path("positions"))
        assert caught.value.code == "MISSING_REQUIRED_HEADER"
        received = list(gate.rest_received)
        assert [r.headers.get("x-gate-size-decimal") for r in received] == ["1", "1", "1"]
        await log.wait(ClientEventKind.REST_FAILED)
        assert log.kinds() == [ClientEventKind.REST_FAILED]
        assert log.items[0].channel == "GET /api/v4/futures/usdt/positions"
        stats = client.statistics().rest
        assert (stats.calls, stats.failed, stats.rejected) == (3, 1, 1)


async def test_a_clock_off_by_more_than_a_minute_is_request_expired(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with gatetrio.open_client(
        connector=gate.connector,
        rest_transport=gate.rest_transport,
        config=client_config(),
        wall_clock=lambda: gate.wall_time() + 61,
        credentials=CREDS,
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.rest.get("/futures/usdt/accounts", signed=True)
        assert caught.value.code == "REQUEST_EXPIRED"


async def test_a_wrong_secret_is_invalid_signature(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    wrong = gatetrio.Credentials(key=CREDS.key, secret="t" * 64)
    async with gatetrio.open_client(
        connector=gate.connector,
        rest_transport=gate.rest_transport,
        config=client_config(),
        wall_clock=gate.wall_time,
        credentials=wrong,
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.rest.get("/futures/usdt/accounts", signed=True)
        assert caught.value.code == "INVALID_SIGNATURE"
        assert wrong.secret not in str(caught.value)


async def test_past_the_rate_limit_a_429_and_paced_retries(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_client(gate, rest_deadline=30.0) as client:
        path = client.rest.route.market_path("positions")
        start = trio.current_time()
        now_ms = round(gate.wall_time() * 1000)
        window_end_ms = now_ms - now_ms % 10_000 + 10_000  # the fake's fixed 10 s windows
        for _ in range(200):
            await client.rest.get(path, signed=True)
        assert gate.rest_auth.rate_limited == 0
        assert trio.current_time() == start  # no latency: all 200 in one window
        # the 201st in the window is refused; the helper waits for Gate's reset and succeeds
        assert isinstance(await client.rest.get(path, signed=True), list)
        assert gate.rest_auth.rate_limited == 1
        waited = trio.current_time() - start
        assert waited == pytest.approx(max(0.25, (window_end_ms - now_ms) / 1000), abs=1e-6)
        stats = client.statistics().rest
        assert (stats.rate_limited, stats.retries, stats.failed) == (1, 1, 0)


async def test_custom_connector_without_rest_transport_never_reaches_the_network(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with gatetrio.open_client(
        connector=gate.connector, config=client_config(), wall_clock=gate.wall_time
    ) as client:
        # the config's URL is live Gate's: REST must not go there from a test
        assert client.rest.route.base == "https://api.gateio.ws/api/v4"
        with pytest.raises(RestUnavailable, match="REST is off") as caught:
            await client.rest.get("/futures/usdt/contracts")
        assert not caught.value.sent
        assert trio.current_time() == 0.0  # not retried: nothing would change


async def test_the_rest_session_closes_with_the_client(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_client(gate) as client:
        rest = client.rest
    with pytest.raises(UsageError, match="closed"):
        await rest.get("/futures/usdt/contracts")


async def test_malformed_success_bodies_are_protocol_errors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    html = Step(200, b"<html>maintenance</html>", (("Content-Type", "text/html"),))
    rest = make_rest(ScriptedTransport(html))
    with pytest.raises(ProtocolError, match="text/html, not JSON"):
        await rest.get("/x")
    assert rest.statistics().malformed == 1
