"""`python -m gatetrio watch` and `stream`, run as a user would: in a subprocess.

`--simulate` serves the fake exchange inside the command's own process, so these need no
network. Every subprocess has a generous timeout that only stops a hung test; nothing here
asserts on timing.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import termios
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from tests.commands import HANG_GUARD, cli_env, gatetrio, run, stream_until

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Z0-9])")


# ----------------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", ["watch", "stream"])
def test_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    for option in ("--simulate", "--duration", "--settle"):
        assert option in result.stdout
    assert result.stderr == ""


def test_commands_are_listed() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert re.search(r"^\s+watch\s", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+stream\s", result.stdout, re.MULTILINE)


# --------------------------------------------------------------------------------- stream


def test_stream_trades_as_json_lines() -> None:
    events, stderr = stream_until(
        ["stream", "trades", "BTC_USDT", "--simulate"], lambda lines: len(lines) >= 5
    )
    assert stderr == ""
    assert {event["type"] for event in events} == {"Trade"}
    assert {event["contract"] for event in events} == {"BTC_USDT"}
    for event in events:
        assert isinstance(event["price"], str)
        assert Decimal(event["price"]) > 0  # decimals are strings, exact
        assert isinstance(event["id"], int)
    ids = [event["id"] for event in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_stream_channel_arguments_by_name() -> None:
    events, _ = stream_until(
        ["stream", "obu", "BTC_USDT", "level=50", "--simulate"], lambda lines: len(lines) >= 2
    )
    assert {event["type"] for event in events} == {"ObuDelta"}
    assert {event["s"] for event in events} == {"ob.BTC_USDT.50"}
    first = events[0]
    assert first["full"] is True  # obu starts with a snapshot
    price, size = first["b"][0]  # levels keep Gate's [price, size] shape
    assert Decimal(price) > 0
    assert Decimal(size) > 0


def _readline(proc: subprocess.Popen[bytes]) -> bytes:
    """One line of the child's stdout, or fail (and kill it) after HANG_GUARD seconds."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], HANG_GUARD)
    if not ready:
        proc.kill()
        pytest.fail(f"no output within {HANG_GUARD}s")
    return proc.stdout.readline()


def test_stream_into_a_closed_pipe_ends_quietly() -> None:
    proc = subprocess.Popen(
        gatetrio("stream", "trades", "BTC_USDT", "--simulate"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = _readline(proc)
    assert json.loads(first)["type"] == "Trade"
    proc.stdout.close()  # like `| head -1`
    assert proc.wait(HANG_GUARD) == 0
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert stderr == ""


def test_stream_ctrl_c_exits_130_without_traceback() -> None:
    proc = subprocess.Popen(
        gatetrio("stream", "tickers", "BTC_USDT", "--simulate"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert proc.stdout is not None
    json.loads(_readline(proc))  # running, connected and streaming
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 130  # the shell convention for "interrupted"
    assert stderr == b""
    for line in stdout.splitlines():
        assert json.loads(line)["type"] == "Ticker"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_exchange_is_one_line_suggesting_simulate() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/v4/ws/usdt"
    result = run("stream", "trades", "BTC_USDT", "--url", url)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"gatetrio: error: cannot reach {url}")
    assert "--simulate" in lines[0]


def test_http_404_gets_no_network_hint() -> None:
    # the network works; the URL is wrong: suggesting --simulate would mislead
    from gatetrio._cli._connect import network_hint

    assert network_hint("handshake: HTTP 404") == ""
    assert network_hint("connect: name resolution failed for fx-ws.gateio.ws") != ""
    assert network_hint("connect: [Errno 111] Connection refused") != ""
    assert network_hint("connect: TLS: certificate verify failed") == ""


def test_serve_port_is_range_checked() -> None:
    result = run("serve", "--port", "99999")
    assert result.returncode == 2
    assert "out of range" in result.stderr
    assert "default: 8765" in run("serve", "--help").stdout


def test_version_and_the_console_scripts_own_name() -> None:
    import gatetrio
    from gatetrio._cli._main import program_name

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.split() == ["python", "-m", "gatetrio", gatetrio.__version__]
    assert program_name("/usr/local/bin/gatetrio") == "gatetrio"
    assert program_name("/x/gatetrio/__main__.py") == "python -m gatetrio"


def test_log_level_shows_the_librarys_warnings() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/v4/ws/usdt"
    result = run("--log-level", "warning", "stream", "trades", "BTC_USDT", "--url", url)
    assert result.returncode == 1
    assert "WARNING: gatetrio" in result.stderr
    assert "connect to" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("gatetrio: error: cannot reach")


def test_stream_private_channel_against_the_simulated_account() -> None:
    result = run("stream", "positions", "--simulate", "--duration", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_stream_status_line_on_a_terminal_stderr() -> None:
    # stdout is a pipe (the JSON lines), stderr a terminal (the status line); stopped (SIGTERM,
    # a normal stop) once the line says it subscribed, however long that takes under load
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        gatetrio("stream", "contract_stats", "BTC_USDT", "--simulate"),
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=cli_env(),
    )
    os.close(slave)
    output = bytearray()
    stopped = False
    try:
        while True:
            if not select.select([master], [], [], HANG_GUARD)[0]:
                proc.kill()
                pytest.fail("no status line for too long")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            status = _plain(output)
            if not stopped and ("subscribed; waiting" in status or "messages" in status):
                proc.send_signal(signal.SIGTERM)
                stopped = True
    finally:
        os.close(master)
    assert proc.wait(HANG_GUARD) == 0
    status = _plain(output)
    assert status.lstrip("\r").startswith("connecting")
    assert "connecting to \r" not in status  # before --simulate serves: no empty "to "
    assert output.endswith(b"\r\x1b[K")  # the line is erased on exit, not left behind


def test_unknown_contract_is_the_exchanges_error() -> None:
    result = run("stream", "trades", "NOPE_USDT", "--simulate", "--duration", "30")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "gatetrio: error: futures.trades: error 2: unknown currency pair: NOPE_USDT"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stream", "nope"], "unknown channel 'nope'"),
        (["stream", "orders", "20011"], "private channel"),
        (["stream", "obu", "BTC_USDT", "level=7"], "obu level must be one of"),
        (["stream", "candlesticks"], "usage: stream candlesticks CONTRACT [interval=1m]"),
        (["stream", "trades", "BTC_USDT", "--duration", "0"], "--duration must be > 0"),
        (["watch", "btc usdt"], "btc usdt"),
        (["stream", "trades", "BTC_USDT", "--simulate", "--url", "ws://x"], "exclude each other"),
        (["stream", "trades", "BTC_USDT", "--seed", "3"], "use it with --simulate"),
        (["watch", "BTC_USDT", "--url", "http://127.0.0.1:1/"], "must be a ws:// or wss://"),
        (["stream", "balances"], "set GATE_API_KEY and GATE_API_SECRET"),
    ],
)
def test_bad_arguments_fail_before_connecting(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gatetrio: error: ")
    assert message in lines[0]


# ---------------------------------------------------------------------------------- watch


def test_watch_without_a_terminal_streams_json_lines() -> None:
    kinds = {"Ticker", "Trade", "ObuDelta"}
    events, _ = stream_until(
        ["watch", "BTC_USDT", "--simulate"],
        lambda lines: {line["type"] for line in lines} >= kinds,
    )
    assert {event["type"] for event in events} == kinds


def _run_in_terminal(
    args: list[str],
    *,
    stop_when: Callable[[str], bool] | None = None,
    stop_signal: int = signal.SIGINT,
    columns: int = 130,
    rows: int = 50,
) -> tuple[int, bytes]:
    """Run under a pseudo-terminal; return (exit code, everything it wrote).

    With `stop_when`, send `stop_signal` (Ctrl-C by default) once `stop_when(screen)` holds
    for the screen so far: a condition on what was drawn, not a guess at how long it takes.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        gatetrio(*args),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=cli_env(TERM="xterm-256color"),
        close_fds=True,
    )
    os.close(slave)
    output = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], HANG_GUARD)
            if not ready:
                proc.kill()
                pytest.fail("watch produced no output for too long")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if stop_when is not None and stop_when(_plain(output)):
                proc.send_signal(stop_signal)
                stop_when = None
    finally:
        os.close(master)
    code = proc.wait(HANG_GUARD)
    return code, bytes(output)


def _plain(output: bytes | bytearray) -> str:
    return ANSI.sub("", output.decode("utf-8", "replace"))


BOOK_ROWS = (50 - 1 - 2 - 4) // 2  # a 50-row terminal: a row spare; ticker, status; borders,
# header, spread


def _frames(screen: str) -> list[str]:
    """Every frame drawn, from its ticker line on (the first may be partial)."""
    return screen.split("BTC_USDT  last ")[1:]


def _ladder_drawn(screen: str) -> bool:
    """The latest whole frame (the last may still be arriving) shows the full ladder."""
    frames = _frames(screen)
    return len(frames) >= 2 and _ladder_in(frames[-2])


def _ladder_in(frame: str) -> bool:
    """`frame` shows a synced book of full depth and the trades tape."""
    return (
        len(re.findall(r"\s\d+\.\d+ bid\b", frame)) == BOOK_ROWS
        and "(syncing)" not in frame
        and re.search(r"\d\d:\d\d:\d\d\.\d{3} (buy|sell)", frame) is not None
    )


def test_watch_renders_the_ladder_in_a_terminal() -> None:
    # stopped by SIGTERM (a normal stop: exit 0) once the ladder is drawn, however long the
    # connect and the book's sync take on a loaded machine
    code, raw = _run_in_terminal(
        ["watch", "BTC_USDT", "--simulate"], stop_when=_ladder_drawn, stop_signal=signal.SIGTERM
    )
    screen = _plain(raw)
    assert code == 0, screen[-2000:]
    assert "Traceback" not in screen
    frames = _frames(screen)
    # the last frame drawn while connected (rich draws the final one twice, on exit)
    frame = next(f for f in reversed(frames) if _ladder_in(f) and "● connected" in f)
    assert "order book BTC_USDT" in frame
    asks = [Decimal(p) for p in re.findall(r"\s(\d+\.\d+) ask\b", frame)]
    bids = [Decimal(p) for p in re.findall(r"\s(\d+\.\d+) bid\b", frame)]
    assert len(asks) == BOOK_ROWS
    assert len(bids) == BOOK_ROWS
    assert asks == sorted(asks, reverse=True)  # best ask lowest, next to the spread
    assert bids == sorted(bids, reverse=True)  # best bid first
    assert min(asks) > max(bids)
    assert re.search(r"spread \d", frame)
    assert re.search(
        r"● connected  [\d,]+ msg/s .*ws://127\.0\.0\.1:\d+/v4/ws/usdt  \[simulated\]", frame
    )
    assert re.search(r"order book BTC_USDT  \d+\.\ds", frame)  # the age of its last message
    # nothing reconnected, and no frame says so: closing the client at the end is not a
    # reconnect (it once drew "reconnecting ... reconnects 0" while shutting down)
    assert "reconnecting" not in screen
    assert all("reconnects 0" in f for f in frames if "reconnects" in f)
    # the frame left on the terminal says the watch stopped, with the book still on it
    last = frames[-1]
    assert "● stopped" in last
    assert len(re.findall(r"\s\d+\.\d+ bid\b", last)) == BOOK_ROWS


def test_watch_stopped_by_duration_ends_on_a_stopped_frame() -> None:
    code, raw = _run_in_terminal(["watch", "BTC_USDT", "--simulate", "--duration", "2"])
    screen = _plain(raw)
    assert code == 0, screen[-2000:]
    assert "reconnecting" not in screen
    assert "● stopped" in _frames(screen)[-1]


def test_watch_ctrl_c_exits_130_and_restores_the_terminal() -> None:
    code, raw = _run_in_terminal(
        ["watch", "BTC_USDT", "--simulate"], stop_when=lambda screen: " bid" in screen
    )
    screen = _plain(raw)
    assert code == 130
    # the live view hid the cursor and showed it again on the way out
    assert raw.rindex(b"\x1b[?25h") > raw.rindex(b"\x1b[?25l")
    assert "Traceback" not in screen
    assert "KeyboardInterrupt" not in screen
    assert "order book BTC_USDT" in screen
    assert "● stopped" in _frames(screen)[-1]


def test_channel_spec_from_the_command_line() -> None:
    from gatetrio import channels
    from gatetrio._cli._channel_args import channel_spec

    assert channel_spec("futures.obu", ["BTC_USDT", "level=50"]) == channels.obu(
        "BTC_USDT", level=50
    )
    assert channel_spec("trades", ["BTC_USDT", "ETH_USDT"]) == channels.trades(
        "BTC_USDT", "ETH_USDT"
    )
    assert channel_spec("candlesticks", ["BTC_USDT", "5m", "price=mark"]) == (
        channels.candlesticks("BTC_USDT", "5m", price="mark")
    )


def test_ctrl_c_while_connecting_is_130_and_silent() -> None:
    # a server that takes the TCP connection and never answers the WebSocket handshake
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(HANG_GUARD)
        url = f"ws://127.0.0.1:{silent.getsockname()[1]}/v4/ws/usdt"
        proc = subprocess.Popen(
            gatetrio("stream", "trades", "BTC_USDT", "--url", url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(),
        )
        conn, _ = silent.accept()  # the command is connecting: interrupt it there
        with conn:
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 130
    assert stdout == b""
    assert stderr == b""


def test_a_first_connect_that_never_completes_is_one_line() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"ws://127.0.0.1:{silent.getsockname()[1]}/v4/ws/usdt"
        result = run("stream", "trades", "BTC_USDT", "--url", url)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"gatetrio: error: cannot reach {url}")
