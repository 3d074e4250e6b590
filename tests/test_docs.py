"""The documentation site builds with warnings as errors, and covers the public surface.

CI runs only the README's test command, so this is how `mkdocs build --strict` runs in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

import gatetrio
from tests.programs import ROOT

if TYPE_CHECKING:
    from pathlib import Path

REFERENCE = ROOT / "docs" / "reference"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    reference = (site / "reference" / "gatetrio" / "index.html").read_text()
    # every public name has its entry, and statistics fields carry their units
    missing = [n for n in gatetrio.__all__ if n != "__version__" and n not in reference]
    assert not missing, missing
    assert "Seconds from the latest futures.ping to its pong" in reference
    for page in ("concepts", "fake-exchange", "cli", "migrating", "recording", "fan-out"):
        assert (site / page / "index.html").exists(), page


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    for page in sorted((ROOT / "docs").rglob("*.md")):
        assert str(page.relative_to(ROOT / "docs")) in config, f"{page.name} is not in the nav"


def test_no_link_leads_to_a_repository_that_does_not_exist() -> None:
    # gatetrio has no public repository or hosted site: nothing may point at one
    for path in [
        ROOT / "pyproject.toml",
        ROOT / "mkdocs.yml",
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        *sorted((ROOT / "docs").rglob("*.md")),
    ]:
        text = path.read_text()
        assert "github.com/gatetrio" not in text, path.name
        assert "gatetrio.github.io" not in text, path.name
        assert "pip install gatetrio" not in text, path.name  # on no index
        assert "pip install 'gatetrio[" not in text, path.name
