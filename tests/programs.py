"""Run the README's code blocks and the `examples/` programs as a user would, bounded in time.

Each program runs in a fresh interpreter (or bash, for a `sh` block) with Gate's endpoints
pointed at loopback, so nothing here can reach the internet even on a machine with network:
by default at a closed port (an attempt to reach Gate fails at once), or with `gate=fake` at a
fake exchange (`gatetrio serve`) that the test starts and stops.

What a program needs is declared next to it, in a `test:` directive: in the README an HTML
comment on the line(s) just above the block, in an example a comment line in its first lines:

    <!-- test: gate=fake stop-after-lines=3 -->          README
    # test: needs=nats-server timeout=30                  example

Keys (all optional; several directives above one README block run it several times):
    skip="why"            not run; the reason is required (e.g. it installs from PyPI)
    run                   for a `sh` block: run it (sh blocks are skipped unless marked)
    needs=a,b             skip unless each is an executable on PATH or an importable module
    gate=closed|fake      where Gate's URLs point (default closed)
    stop-after-lines=N    the program runs until interrupted: send Ctrl-C after N stdout lines
    expect-error=Name     the program must fail with this exception (named in its traceback)
    timeout=S             seconds before the run counts as hung (default 60)
    slow                  mark the run @pytest.mark.slow
A block with no directive runs with the defaults: to completion, exit 0, within 60 s.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DEFAULT_TIMEOUT = 60.0

_FENCE = re.compile(r"^```(\w*)\s*$")
_README_DIRECTIVE = re.compile(r"^<!--\s*test:(.*?)-->\s*$")
_EXAMPLE_DIRECTIVE = re.compile(r"^#\s*test:(.*)$")
_KEYS = {"skip", "run", "needs", "gate", "stop-after-lines", "expect-error", "timeout", "slow"}

# Imported by every program's interpreter (via PYTHONPATH): points Gate's endpoint tables at
# GATETRIO_TEST_GATE before the program runs, so `open_client(settle="usdt")` stays local; and
# on SIGUSR1 writes every trio task's await stack (and every thread's) to stderr, which the
# runner asks for before it kills a program that hung: the failure then says where.
_SITECUSTOMIZE = """
import os
import signal as _signal

# Ctrl-C raises KeyboardInterrupt, as in a program started from a terminal, even when the
# test runner was itself started in the background (`cmd &` in a script ignores SIGINT for
# it and for everything it starts, and Python then installs no KeyboardInterrupt handler)
_signal.signal(_signal.SIGINT, _signal.default_int_handler)
_base = os.environ.get("GATETRIO_TEST_GATE")
if _base:
    from urllib.parse import urlsplit
    from gatetrio._core import _config
    for _table in (_config.PERPETUAL_URLS, _config.PERPETUAL_TESTNET_URLS,
                   _config.DELIVERY_URLS, _config.DELIVERY_TESTNET_URLS):
        for _key, _url in list(_table.items()):
            _table[_key] = _base + urlsplit(_url).path


def _dump_tasks(signum, frame):
    import faulthandler, sys
    def walk(task, depth):
        print("  " * depth + "task " + task.name, file=sys.stderr)
        coro = task.coro
        while coro is not None:
            code_frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if code_frame is not None:
                code = code_frame.f_code
                where = f"{code.co_filename}:{code_frame.f_lineno} {code.co_name}"
                print("  " * depth + "  " + where, file=sys.stderr)
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child, depth + 1)
    try:
        import trio
        walk(trio.lowlevel.current_root_task(), 0)
    except Exception as exc:  # not in trio, or mid-teardown: the threads still say something
        print(f"no trio task tree: {exc!r}", file=sys.stderr)
    faulthandler.dump_traceback(all_threads=True)
    sys.stderr.flush()


_signal.signal(_signal.SIGUSR1, _dump_tasks)
"""


@attrs.frozen(kw_only=True)
class Program:
    """One run of a README block or an example, with its directive."""

    name: str
    language: str  # "python" or "sh"
    source: str
    directive: dict[str, str] = attrs.field(factory=dict)
    path: Path | None = None  # an example file, run in place

    @property
    def skip_reason(self) -> str | None:
        if "skip" in self.directive:
            return self.directive["skip"] or "no reason given"
        if self.language == "sh" and "run" not in self.directive:
            return "sh block not marked `run`"
        for need in filter(None, self.directive.get("needs", "").split(",")):
            if shutil.which(need) is None and importlib.util.find_spec(need) is None:
                return f"needs {need}"
        return None

    @property
    def gate(self) -> str:
        return self.directive.get("gate", "closed")

    def param(self) -> object:
        marks = [pytest.mark.slow] if "slow" in self.directive else []
        return pytest.param(self, id=self.name, marks=marks)


def parse_directive(text: str) -> dict[str, str]:
    """`gate=fake stop-after-lines=3 slow` -> {"gate": "fake", "stop-after-lines": "3", ...}."""
    directive: dict[str, str] = {}
    for word in shlex.split(text):
        key, _, value = word.partition("=")
        if key not in _KEYS:
            raise ValueError(f"unknown test directive key {key!r} (known: {sorted(_KEYS)})")
        directive[key] = value
    return directive


def readme_programs(path: Path) -> list[Program]:
    """Every ```python and ```sh block of a Markdown file, once per directive above it."""
    lines = path.read_text().splitlines()
    programs: list[Program] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None or not fence.group(1):
            i += 1
            continue
        language, start = fence.group(1), i
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        i = end + 1
        if language not in ("python", "sh"):
            continue
        directives: list[dict[str, str]] = []
        j = start - 1
        while j >= 0 and (match := _README_DIRECTIVE.match(lines[j])):
            directives.insert(0, parse_directive(match.group(1)))
            j -= 1
        source = "\n".join(lines[start + 1 : end]) + "\n"
        for n, directive in enumerate(directives or [{}]):
            suffix = f"-{n + 1}" if len(directives) > 1 else ""
            name = f"{path.name}:{start + 1}{suffix}"
            programs.append(
                Program(name=name, language=language, source=source, directive=directive)
            )
    return programs


def example_programs(folder: Path) -> list[Program]:
    """Every `*.py` in `folder`, with the directive from a `# test:` line in its first lines."""
    programs = []
    for path in sorted(folder.glob("*.py")):
        directive: dict[str, str] = {}
        for line in path.read_text().splitlines()[:30]:
            match = _EXAMPLE_DIRECTIVE.match(line.strip())
            if match:
                directive = parse_directive(match.group(1))
                break
        programs.append(
            Program(
                name=path.name,
                language="python",
                source=path.read_text(),
                directive=directive,
                path=path,
            )
        )
    return programs


# ------------------------------------------------------------------------------- gates


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class FakeGate:
    """`gatetrio serve` on a free loopback port, for programs declared `gate=fake`."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gatetrio", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_base_env(),
        )
        assert self.proc.stdout is not None
        banner = _readline(self.proc.stdout, DEFAULT_TIMEOUT)
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", banner)
        assert match, f"unexpected banner from gatetrio serve: {banner!r}"
        self.url = f"ws://127.0.0.1:{match.group(1)}"

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=DEFAULT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def _readline(stream: object, timeout: float) -> str:
    """One line from a text pipe, or fail after `timeout` seconds (a thread does the read)."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)  # type: ignore[attr-defined]
    reader.start()
    reader.join(timeout)
    if not result:
        pytest.fail(f"no output line within {timeout}s")
    return result[0]


# --------------------------------------------------------------------------------- running


def _base_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    for name in ("GATE_API_KEY", "GATE_API_SECRET", "GATE_USER_ID", "COLUMNS", "LINES"):
        env.pop(name, None)  # a developer's real credentials must never reach a test program
    return env


def run_program(program: Program, workdir: Path, fake: FakeGate | None) -> str:
    """Run `program` as its directive says and check how it ended; return its stdout."""
    reason = program.skip_reason
    if reason is not None:
        pytest.skip(reason)
    (workdir / "sitecustomize.py").write_text(textwrap.dedent(_SITECUSTOMIZE))
    bindir = workdir / "bin"
    bindir.mkdir(exist_ok=True)
    for name in ("python", "python3"):  # `python -m gatetrio` in a sh block: this interpreter
        wrapper = bindir / name  # a script, not a symlink: a venv is found from the path run
        if not wrapper.exists():
            wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
            wrapper.chmod(0o755)
    if program.gate == "fake":
        assert fake is not None
        gate = fake.url
    else:
        gate = f"ws://127.0.0.1:{closed_port()}"
    env = _base_env(
        GATETRIO_TEST_GATE=gate,
        PYTHONPATH=os.pathsep.join([str(workdir), str(SRC), os.environ.get("PYTHONPATH", "")]),
        PATH=os.pathsep.join([str(bindir), str(Path(sys.executable).parent), os.environ["PATH"]]),
    )
    if program.language == "sh":
        command = ["bash", "-euo", "pipefail", "-c", program.source]
    elif program.path is not None:
        command = [sys.executable, str(program.path)]
    else:
        script = workdir / "block.py"
        script.write_text(program.source)
        command = [sys.executable, str(script)]
    timeout = float(program.directive.get("timeout", DEFAULT_TIMEOUT))
    stop_after = program.directive.get("stop-after-lines")
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    head = ""
    if stop_after is not None:
        assert proc.stdout is not None
        for _ in range(int(stop_after)):
            line = _readline(proc.stdout, timeout)
            if not line:
                break
            head += line
        proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # the sitecustomize above: where every task waits
        try:
            stdout, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        pytest.fail(
            f"{program.name} did not finish within {timeout}s"
            f"{' of Ctrl-C' if stop_after is not None else ''}; its output ends:\n"
            f"{stdout[-2000:]}\nits stderr (task and thread stacks):\n{stderr[-12000:]}"
        )
    stdout = head + stdout
    expected = program.directive.get("expect-error")
    if expected is not None:
        assert proc.returncode != 0, f"{program.name} should fail with {expected}:\n{stdout}"
        assert re.search(rf"\b{re.escape(expected)}\b", stderr), stderr
    elif stop_after is not None:
        assert stdout.count("\n") >= int(stop_after), (stdout, stderr)
        assert stderr.rstrip().endswith("KeyboardInterrupt") or proc.returncode in (0, 130), (
            f"{program.name} ended badly after Ctrl-C:\n{stderr}"
        )
    else:
        assert proc.returncode == 0, f"{program.name} failed:\n{stdout}\n{stderr}"
    return stdout
