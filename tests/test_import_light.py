"""`import gatetrio` stays light (issue 14, G6): public names load on first use, all at once."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import gatetrio

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_version_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert gatetrio.__version__ == project["version"]


def test_import_loads_no_dependency() -> None:
    heavy = ("trio", "msgspec", "attrs", "wsproto", "trio_websocket", "importlib.metadata")
    code = f"import sys, gatetrio; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    assert _run(code) == "[]"


def test_first_public_name_loads_the_whole_surface() -> None:
    code = (
        "import sys, gatetrio; gatetrio.UsageError; "
        "print(gatetrio.Client.__module__, gatetrio.OrderBook.__module__, "
        "'gatetrio.channels' in sys.modules, 'trio_websocket' in sys.modules)"
    )
    # the client path does not import trio-websocket either (only gatetrio.testing does)
    assert _run(code) == "gatetrio gatetrio True False"


def test_first_use_of_the_client_leaves_the_handshake_library_unloaded() -> None:
    # wsproto (and h11 under it) is imported by the first handshake, not by the first use
    code = (
        "import sys, gatetrio; gatetrio.open_client; "
        "print(sorted(m for m in ('wsproto', 'h11', 'trio_websocket') if m in sys.modules))"
    )
    assert _run(code) == "[]"


def test_dir_and_unknown_names() -> None:
    assert dir(gatetrio) == sorted(gatetrio.__all__)
    with pytest.raises(AttributeError, match="no_such_name"):
        gatetrio.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_internal_modules_import_in_any_order() -> None:
    # an internal module imported first (as benchmarks and gatetrio.testing do) must not pull
    # the public surface in half-way through its own import
    code = (
        "import gatetrio._shell._live_book as m, gatetrio; "
        "print(m.book_buffer('400'), gatetrio.LiveOrderBook.__module__)"
    )
    assert _run(code) == "64 gatetrio"
