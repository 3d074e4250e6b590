"""Running `python -m gatetrio` as a user would, for the command-line tests."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

HANG_GUARD = 60  # seconds; a stuck command fails the test instead of hanging CI
SRC = str(Path(__file__).resolve().parents[1] / "src")


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=SRC, **extra)
    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES"):
        env.pop(name, None)
    return env


def gatetrio(*args: str) -> list[str]:
    return [sys.executable, "-m", "gatetrio", *args]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        gatetrio(*args),
        check=False,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env=cli_env(),
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    lines = stdout.splitlines()
    assert lines, "no output"
    return [json.loads(line) for line in lines]


def stream_until(
    args: list[str],
    enough: Callable[[list[dict[str, Any]]], bool],
    *,
    program: Sequence[str | Path] | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Run a JSON-lines command until its output is `enough`, then stop it as a service
    manager would (SIGTERM: exit 0); return every line it wrote, and its stderr. `program`
    replaces `python -m gatetrio` (an installed console script, say), run in `cwd` with `env`.

    A condition on the output, not a `--duration` guessed to be long enough on a loaded
    machine; HANG_GUARD only stops a command that never gets there.
    """
    command = gatetrio(*args) if program is None else [*map(str, program), *args]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=cli_env() if env is None else env,
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    data = b""
    try:
        while True:
            if not select.select([fd], [], [], HANG_GUARD)[0]:
                pytest.fail(f"{args}: no output for {HANG_GUARD}s")
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # it ended by itself
            data += chunk
            whole = data[: data.rfind(b"\n") + 1]
            if enough([json.loads(line) for line in whole.splitlines()]):
                proc.send_signal(signal.SIGTERM)
                break
        rest, stderr = proc.communicate(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    output = (data + rest).decode()
    assert output.endswith("\n")  # stopped between lines: the last one is whole
    return json_lines(output), stderr.decode()
