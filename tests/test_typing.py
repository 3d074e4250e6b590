"""The result types a type checker infers for trading calls (`tests/typing/trading.py`).

mypy runs on that file (it must pass), and on a copy that expects a wrong type once (it must
fail there and only there), so a regression that made `request` return `object` or `Any` would
fail this test, not pass it silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "typing" / "trading.py"


def mypy(path: Path, *extra: str) -> tuple[str, int]:
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary", *extra, str(path)]
    )
    return out + err, status


def test_the_inferred_result_types_are_the_documented_ones() -> None:
    out, status = mypy(SAMPLE)
    assert status == 0, out


def test_a_wrong_expectation_is_caught(tmp_path: Path) -> None:
    text = SAMPLE.read_text()
    right = "assert_type(await client.request(place), gatetrio.Order)"
    assert right in text
    wrong = tmp_path / "trading_wrong.py"
    wrong.write_text(text.replace(right, "assert_type(await client.request(place), object)"))
    # its own cache: a module of this name checked in another run's directory must not answer
    out, status = mypy(wrong, "--cache-dir", str(tmp_path / "cache"))
    assert status == 1
    expected = (
        f'{wrong.name}:{_line_of(text, right)}: error: Expression is of type "Order", not '
        '"object"  [assert-type]'
    )
    errors = [Path(line).name for line in out.splitlines() if ": error:" in line]
    assert errors == [expected]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)
