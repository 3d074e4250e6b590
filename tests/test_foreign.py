"""Other clients, unchanged but for their URLs, against `python -m gatetrio serve` (issue 10).

Each foreign client runs in its own virtualenv (their pins clash), made from
`tests/foreign/requirements-<client>.txt` with `python -m venv` + pip (PyPI) and cached under
`.venv-foreign/<client>-<hash of the pins>`. The fake runs as a subprocess on a free loopback
port, the client script (`tests/foreign/<client>_client.py`) as another; both are bounded in
time, and the script prints `ok <check>` per check. `nox -s foreign` runs the same tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import venv
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.slow, pytest.mark.foreign]

ROOT = Path(__file__).resolve().parent.parent
FOREIGN = Path(__file__).resolve().parent / "foreign"
KEY, SECRET = "k" * 32, "s" * 64
SERVE_SECONDS = 150  # the fake stops by itself after this, whatever happens to the test
CLIENT_TIMEOUT = 120
INSTALL_TIMEOUT = 420


def foreign_python(client: str) -> Path:
    """The interpreter of `client`'s virtualenv, made (once per pin set) if needed."""
    pins = (FOREIGN / f"requirements-{client}.txt").read_bytes()
    digest = hashlib.sha256(pins + sys.version.encode()).hexdigest()[:12]
    home = ROOT / ".venv-foreign" / f"{client}-{digest}"
    python = home / "bin" / "python"
    done = home / ".installed"
    if not done.exists():
        venv.create(home, with_pip=True, clear=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                str(FOREIGN / f"requirements-{client}.txt"),
            ],
            check=True,
            timeout=INSTALL_TIMEOUT,
        )
        done.touch()
    return python


class Served:
    def __init__(self, port: int, ca: str | None) -> None:
        self.port, self.ca = port, ca


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Iterator[Served]:
    """`python -m gatetrio serve` on a free port (with `--tls` if the test is parametrised so)."""
    tls = getattr(request, "param", False)
    args = [sys.executable, "-m", "gatetrio", "serve", "--port", "0", "--key", KEY]
    args += ["--secret", SECRET, "--duration", str(SERVE_SECONDS)]
    if tls:
        args.append("--tls")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:  # bounded: the server exits after SERVE_SECONDS
            banner.append(line.strip())
            if line.startswith("Ctrl-C"):
                break
        port = int(banner[0].split(":")[1].split()[0])
        ca = next((b.split(": ", 1)[1] for b in banner if b.startswith("CA certificate")), None)
        yield Served(port, ca)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def run_client(client: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    python = foreign_python(client)
    result = subprocess.run(
        [str(python), str(FOREIGN / f"{client}_client.py"), *args],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout)  # noqa: T201 - pytest shows it if the test fails
    # anywhere in a line: a client library may leave its own output without a newline
    return re.findall(r"ok (\S+)", result.stdout)


def test_gate_ws_sdk(serve: Served) -> None:
    checks = run_client("gatews", f"ws://127.0.0.1:{serve.port}/v4/ws/usdt", KEY, SECRET)
    assert set(checks) >= {
        "futures.trades",
        "futures.tickers",
        "futures.order_book_update",
        "futures.candlesticks",
        "futures.login",
        "futures.order_place",
        "futures.orders",
        "futures.order_status",
        "futures.order_cancel",
    }


def test_ccxt_pro_swap(serve: Served) -> None:
    checks = run_client("ccxt", f"127.0.0.1:{serve.port}", KEY, SECRET)
    assert checks == [
        "load_markets",
        "watch_trades",
        "watch_ticker",
        "watch_order_book",
        "watch_ohlcv",
        "create_order_ws",
        "watch_orders",
        "fetch_open_orders_ws",
        "fetch_order_ws",
        "edit_order_ws",
        "cancel_order_ws",
        "create_orders_ws",
        "cancel_all_orders_ws",
        "fetch_closed_orders_ws",
        "fetch_balance",
        "fetch_positions",
        "fetch_open_orders",
        "fetch_my_trades",
    ]


def test_ccxt_private_rest(serve: Served) -> None:
    # ccxt's signed REST calls, unchanged: the fake checks their signatures like live and
    # answers from the engine the WebSocket trading API placed the orders in
    checks = run_client("ccxt", f"127.0.0.1:{serve.port}", KEY, SECRET, "rest")
    assert checks == [
        "fetch_balance",
        "fetch_open_orders",
        "fetch_order",
        "fetch_order_cancelled",
        "fetch_my_trades",
        "fetch_positions",
    ]


def test_ccxt_private_streams(serve: Served) -> None:
    # ccxt pro's private watchers, unchanged: each gets the fake's pushes of one market buy
    checks = run_client("ccxt", f"127.0.0.1:{serve.port}", KEY, SECRET, "private")
    assert checks == [
        "watch_positions_snapshot",
        "watch_orders",
        "watch_my_trades",
        "watch_positions",
        "watch_balance",
    ]


@pytest.mark.parametrize("serve", [True], indirect=True, ids=["tls"])
def test_cryptofeed_over_tls(serve: Served) -> None:
    assert serve.ca is not None
    trust = {"SSL_CERT_FILE": serve.ca, "REQUESTS_CA_BUNDLE": serve.ca}
    checks = run_client("cryptofeed", f"127.0.0.1:{serve.port}", env=trust)
    assert set(checks) == {"trades", "ticker", "l2_book", "candles", "funding"}
