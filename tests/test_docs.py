"""The documentation site builds with warnings as errors, and covers the public surface.

CI runs only the README's test command, so this is how `mkdocs build --strict` runs in CI.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.programs import ROOT

if TYPE_CHECKING:
    from pathlib import Path

REFERENCE = ROOT / "docs" / "reference"


PUBLIC_MODULES = (
    "gatetrio",
    "gatetrio.events",
    "gatetrio.testing",
    "gatetrio.recording",
    "gatetrio.nats",
)


def _entries() -> dict[str, list[str]]:
    """Reference page -> the `::: name` entries on it, in order."""
    return {
        page.stem: re.findall(r"^::: (\S+)$", page.read_text(), re.MULTILINE)
        for page in sorted(REFERENCE.glob("*.md"))
    }


def test_every_public_name_has_one_reference_entry() -> None:
    documented = [name for names in _entries().values() for name in names]
    assert len(documented) == len(set(documented)), "an entry on two pages"
    public = [
        f"{module_name}.{name}"
        for module_name in PUBLIC_MODULES
        for name in importlib.import_module(module_name).__all__
        if name != "__version__"
    ]
    missing = [name for name in public if name not in documented]
    assert not missing, missing
    assert "gatetrio.channels" in documented  # the builders, rendered as one module


def test_reference_pages_start_with_their_entry_points() -> None:
    entries = _entries()
    assert entries["client"][0] == "gatetrio.open_client"
    assert entries["pool"][0] == "gatetrio.open_pool"
    assert entries["books"][0] == "gatetrio.Client.order_book"
    assert entries["trading"][0] == "gatetrio.Client.request"
    assert entries["events"][:2] == ["gatetrio.Client.events", "gatetrio.Client.statistics"]
    assert entries["errors"][0] == "gatetrio.GateTrioError"
    assert entries["testing"][0] == "gatetrio.testing.FakeGateServer"
    assert entries["recording"][0] == "gatetrio.recording.open_recorder"
    assert entries["nats"][0] == "gatetrio.nats.open_publisher"
    assert entries["wire"][0] == "gatetrio.events.decode_message"
    index = (REFERENCE / "index.md").read_text()
    for page in entries:
        if page != "index":
            assert f"({page}.md)" in index, f"{page} is not on the reference's index"


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
    pages = {page.parent.name: page.read_text() for page in site.glob("reference/*/index.html")}
    # every entry rendered (an anchor per name), statistics fields carry their units, enum
    # members are described, and a constant's value does not become its heading
    for page, names in _entries().items():
        for name in names:
            assert f'id="{name}"' in pages.get(page, ""), (page, name)
    assert "Seconds from the latest futures.ping to its pong" in pages["events"]
    assert "A subscription had no data for longer than its watchdog allows" in pages["events"]
    constant = r'id="gatetrio.testing.DEFAULT_CONTRACTS".*?</h2>'
    heading = re.search(constant, pages["testing"], re.DOTALL)
    assert heading is not None
    assert len(heading.group()) < 2000, "DEFAULT_CONTRACTS renders its whole value as a heading"
    # the introductions speak to users, not maintainers
    for page in pages.values():
        assert "Layout:" not in page
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
