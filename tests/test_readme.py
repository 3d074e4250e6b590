"""Every ```python (and marked ```sh) block of README.md runs, verbatim, as a user would run it.

How a block declares what it needs is documented in `tests/programs.py`; blocks added later are
picked up by the same glob. Nothing reaches the internet: Gate's endpoints point at loopback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.programs import ROOT, Program, readme_programs, run_program

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # subprocesses

README = ROOT / "README.md"
PROGRAMS = readme_programs(README)


def test_the_readme_has_runnable_python_blocks() -> None:
    python = [p for p in PROGRAMS if p.language == "python"]
    assert len(python) >= 3
    # what a reader copies uses the public API only
    for page in [README, *sorted((ROOT / "docs").rglob("*.md"))]:
        for program in readme_programs(page):
            private = re.findall(
                r"^\s*(?:from|import) (gatetrio\S*\._\w+)", program.source, re.MULTILINE
            )
            assert not private, (program.name, private)
    # only blocks that say why may be skipped
    for program in PROGRAMS:
        if "skip" in program.directive:
            assert program.directive["skip"], f"{program.name}: skip needs a reason"


@pytest.mark.parametrize("program", [p.param() for p in PROGRAMS])
def test_readme_block(program: Program, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    fake = request.getfixturevalue("fake_gate") if program.gate == "fake" else None
    run_program(program, tmp_path, fake)


def test_directives_are_checked() -> None:
    from tests.programs import parse_directive

    assert parse_directive('gate=fake stop-after-lines=3 skip="a b"') == {
        "gate": "fake",
        "stop-after-lines": "3",
        "skip": "a b",
    }
    with pytest.raises(ValueError, match="unknown test directive key 'gates'"):
        parse_directive("gates=fake")


@pytest.mark.slow
def test_readme_python_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    # what a reader copies must type-check as it stands: an Optional unpacked as if it were
    # not, or a private import, fails here before it fails the reader
    files = []
    pages = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    for program in (p for page in pages for p in readme_programs(page)):
        if program.language != "python" or "skip" in program.directive:
            continue
        page, line = program.name.rsplit(":", 1)
        line = line.split("-")[0]  # one file for a block run under several directives
        path = tmp_path / f"{page.removesuffix('.md').replace('-', '_')}_line_{line}.py"
        path.write_text(program.source)
        files.append(path)
    assert len(set(files)) >= 8
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--warn-unreachable",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            *sorted(set(map(str, files))),
        ],
        cwd=tmp_path,  # no project config: --strict alone, as a user's own check would be
        env={**os.environ, "MYPYPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
