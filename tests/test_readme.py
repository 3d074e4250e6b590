"""Every ```python (and marked ```sh) block of README.md runs, verbatim, as a user would run it.

How a block declares what it needs is documented in `tests/programs.py`; blocks added later are
picked up by the same glob. Nothing reaches the internet: Gate's endpoints point at loopback.
"""

from __future__ import annotations

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
