"""`record`, `export`, `serve --replay` and `--all`, run as a user would: in subprocesses."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio

import gatetrio
from gatetrio.recording import EventLine, FrameLine, read_manifest, read_recording
from tests.commands import stream_until

pytestmark = pytest.mark.slow

HANG_GUARD = 60
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gatetrio", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=SRC)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cmd(*args), check=False, capture_output=True, text=True, timeout=HANG_GUARD, env=_env()
    )


def _readline(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], HANG_GUARD)
    if not ready:
        proc.kill()
        pytest.fail(f"no output within {HANG_GUARD}s")
    return proc.stdout.readline().decode()


def _recorded_trade_ids(directory: Path) -> list[int]:
    ids: list[int] = []
    for line in read_recording(directory):
        if isinstance(line, FrameLine) and '"futures.trades","event":"update"' in line.text:
            ids.extend(item["id"] for item in json.loads(line.text)["result"])
    return ids


async def _replayed_trade_ids(port: int, count: int) -> list[int]:
    ids: list[int] = []
    url = f"ws://127.0.0.1:{port}/v4/ws/usdt"
    async with (
        gatetrio.open_client(url=url) as client,
        client.subscribe(gatetrio.channels.trades("BTC_USDT")) as trades,
    ):
        with trio.fail_after(HANG_GUARD):
            async for trade in trades:
                ids.append(trade.id)
                if len(ids) == count:
                    break
    return ids


def test_record_export_and_replay_through_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "capture"
    result = _run(
        "record", "trades", "BTC_USDT", "--simulate", "--duration", "3", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "recorded" in result.stderr
    assert read_manifest(out).closed
    recorded = _recorded_trade_ids(out)
    assert len(recorded) > 3

    exported = _run("export", str(out), "--to", "parquet")
    assert exported.returncode == 0, exported.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(out / "parquet" / "trades.parquet")
    assert table.column("id").to_pylist() == recorded
    assert str(table.schema.field("id").type) == "int64"

    with subprocess.Popen(
        _cmd("serve", "--replay", str(out), "--as-fast-as-possible", "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as proc:
        try:
            banner = _readline(proc)
            port = int(banner.split(" on ")[1].split(" ")[0].rsplit(":", 1)[1])
            replayed = trio.run(_replayed_trade_ids, port, len(recorded))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(HANG_GUARD)
    assert replayed == recorded


def test_a_killed_recorder_leaves_every_completed_line_readable(tmp_path: Path) -> None:
    out = tmp_path / "capture"
    with subprocess.Popen(
        _cmd("record", "obu", "BTC_USDT", "level=50", "--simulate", "--out", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as proc:
        try:
            assert "recording to" in _readline(proc)
            part = out / "part-00000.jsonl.zst"
            deadline = time.monotonic() + HANG_GUARD
            while not (part.exists() and part.stat().st_size > 20_000):  # several batches
                assert time.monotonic() < deadline, "the recorder wrote nothing"
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(HANG_GUARD)
    before = json.loads((out / "manifest.json").read_text())
    assert before["frames"] == 0  # its totals are written when it closes: it never did
    manifest = read_manifest(out)  # reading repairs it: recounted from the parts
    assert not manifest.closed  # it never got to say goodbye
    assert manifest.repaired
    assert not manifest.parts[-1].complete
    lines = list(read_recording(out))  # every whole batch decodes; a cut one is skipped
    frames = [line for line in lines if isinstance(line, FrameLine)]
    assert len(frames) > 50
    assert manifest.frames == len(frames)
    assert manifest.events == sum(isinstance(line, EventLine) for line in lines)
    assert sum(part.lines for part in manifest.parts) == len(lines)
    assert json.loads((out / "manifest.json").read_text())["frames"] == len(frames)  # written
    for line in frames[1:]:
        json.loads(line.text)  # each frame whole, exactly as received


def test_stream_all_contracts(tmp_path: Path) -> None:
    listed = {"BTC_USDT", "ETH_USDT", "SOL_USDT", "HEI_USDT"}
    events, _ = stream_until(
        ["stream", "tickers", "--all", "--simulate"],
        lambda lines: {line["contract"] for line in lines} >= listed,
    )
    assert {event["contract"] for event in events} == listed


def _kinds(lines: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(line["type"], line.get("contract") or line.get("s", "")) for line in lines}


def test_watch_several_contracts_as_json_lines() -> None:
    # tickers and books of both (trades come when someone trades)
    wanted = {
        ("Ticker", "BTC_USDT"),
        ("Ticker", "ETH_USDT"),
        ("ObuDelta", "ob.BTC_USDT.50"),
        ("ObuDelta", "ob.ETH_USDT.50"),
    }
    events, _ = stream_until(
        ["watch", "BTC_USDT", "ETH_USDT", "--simulate"], lambda lines: _kinds(lines) >= wanted
    )
    assert {kind for kind, _ in _kinds(events)} <= {"Ticker", "Trade", "ObuDelta"}


def test_replay_refuses_a_directory_without_a_recording(tmp_path: Path) -> None:
    result = _run("serve", "--replay", str(tmp_path), "--speed", "2")
    assert result.returncode == 2
    assert "holds no recording" in result.stderr


def _one_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """The command failed with `code` and said so in one line naming `words`, nothing else."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gatetrio: error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_record_refuses_a_folder_it_cannot_use_before_connecting(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    others = tmp_path / "others"
    others.mkdir()
    (others / "notes.txt").write_text("mine")
    done = tmp_path / "done"
    made = _run("record", "trades", "BTC_USDT", "--simulate", "--duration", "1", "--out", str(done))
    assert made.returncode == 0, made.stderr
    assert read_manifest(done).closed
    for out, words in (
        (blocker / "capture", ("cannot record into", "is not a directory")),
        (blocker, ("cannot record into", "not a directory")),
        (others, ("is not empty", "notes.txt")),
        (done, ("already holds a recording",)),
    ):
        result = _run("record", "trades", "BTC_USDT", "--simulate", "--out", str(out))
        _one_line(result, 2, str(out), *words)
        assert result.stdout == ""  # nothing started: no "recording to" line
    assert sorted(p.name for p in others.iterdir()) == ["notes.txt"]  # left as it was


def test_export_failures_are_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _one_line(_run("export", str(blocker)), 1, "Not a directory", "manifest.json")
    _one_line(_run("export", str(tmp_path)), 2, "holds no recording")
    capture = tmp_path / "capture"
    recorded = _run(
        "record", "trades", "BTC_USDT", "--simulate", "--duration", "1", "--out", str(capture)
    )
    assert recorded.returncode == 0, recorded.stderr
    result = _run("export", str(capture), "--dest", str(blocker / "tables"))
    _one_line(result, 2, "cannot export into", "Not a directory")


def test_record_several_channels_in_one_process(tmp_path: Path) -> None:
    out = tmp_path / "capture"
    result = _run(
        "record", "trades,tickers,obu", "BTC_USDT", "ETH_USDT", "--simulate", "--duration", "2",
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = read_manifest(out)
    assert sorted(manifest.meta["subscriptions"]) == [  # type: ignore[call-overload]
        "futures.obu",
        "futures.tickers",
        "futures.trades",
    ]
    streams = set()
    for line in read_recording(out):
        if isinstance(line, FrameLine) and '"futures.obu"' in line.text:
            result_obj = json.loads(line.text).get("result") or {}
            if isinstance(result_obj, dict) and "s" in result_obj:
                streams.add(result_obj["s"])
    assert streams == {"ob.BTC_USDT.50", "ob.ETH_USDT.50"}  # the one default level
    bad = _run("record", "trades,tickers", "BTC_USDT", "level=50", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2
    assert "none of trades, tickers takes" in bad.stderr
    assert not (tmp_path / "x").exists()
