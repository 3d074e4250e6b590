"""Every program in examples/ runs against the fake exchange and exits by itself.

An example declares what it needs in a `# test: ...` comment near its top (keys in
`tests/programs.py`); without one it must run to completion and exit 0. New examples are
picked up by the glob.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.programs import ROOT, Program, example_programs, run_program

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # subprocesses

PROGRAMS = example_programs(ROOT / "examples")


def test_there_are_examples() -> None:
    names = {p.name for p in PROGRAMS}
    assert {
        "trades_tape.py",
        "book_watcher.py",
        "place_and_cancel.py",
        "record_and_replay.py",
    } <= names


@pytest.mark.parametrize("program", [p.param() for p in PROGRAMS])
def test_example(program: Program, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    fake = request.getfixturevalue("fake_gate") if program.gate == "fake" else None
    stdout = run_program(program, tmp_path, fake)
    assert stdout.strip(), f"{program.name} printed nothing"
