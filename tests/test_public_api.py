"""The public surface: gatetrio/__init__.py (after trio's test_exports.py)."""

from __future__ import annotations

import enum
import inspect
import subprocess
import sys
import typing

import gatetrio
from gatetrio._core import _errors


def test_all_is_sorted_and_matches_the_public_names() -> None:
    assert list(gatetrio.__all__) == sorted(gatetrio.__all__)
    public = {
        name
        for name in dir(gatetrio)
        if not name.startswith("_")
        # submodules appear as attributes once imported (gatetrio.testing by other tests)
        and not (inspect.ismodule(getattr(gatetrio, name)) and name != "channels")
    }
    assert public - {"annotations"} == set(gatetrio.__all__) - {"__version__"}


def test_exported_classes_and_functions_report_the_public_module() -> None:
    for name in gatetrio.__all__:
        obj = getattr(gatetrio, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__ == "gatetrio", name


def test_every_error_is_exported_and_rooted() -> None:
    errors = [
        obj for obj in vars(_errors).values() if inspect.isclass(obj) and issubclass(obj, Exception)
    ]
    for error in errors:
        assert getattr(gatetrio, error.__name__) is error
        assert issubclass(error, gatetrio.GateTrioError)


def test_concrete_public_classes_are_final() -> None:
    for name in (
        "Client",
        "Subscription",
        "OrderBook",
        "BookSync",
        "LiveOrderBook",
        "ClientStatistics",
        "SubscriptionStatistics",
        "BookStatistics",
        "ClientEvent",
    ):
        cls = getattr(gatetrio, name)
        assert getattr(cls, "__final__", False), name


def test_enums_are_enums() -> None:
    for cls in (gatetrio.OverflowPolicy, gatetrio.ClientEventKind, gatetrio.SyncStatus):
        assert issubclass(cls, enum.Enum)


def test_import_time_core_stays_small() -> None:
    code = (
        "import sys, gatetrio; "
        "print(','.join(m for m in ('httpx', 'rich', 'hypothesis', 'gatetrio.testing') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_event_union_covers_every_frame_class() -> None:
    members = set(typing.get_args(gatetrio.DataEvent))
    assert gatetrio.TradesUpdate in members
    assert gatetrio.ObuUpdate in members
    assert len(members) == 22


def test_help_shows_only_public_classes_functions_and_data() -> None:
    # pydoc's PACKAGE CONTENTS lists the package directory (private packages included: see
    # gatetrio/__init__.py); every other section must hold public names only
    import pydoc
    import re

    text = pydoc.plain(pydoc.render_doc(gatetrio))
    sections = dict(re.findall(r"^([A-Z][A-Z ]+)\n((?:(?:    .*)?\n)*)", text, re.MULTILINE))
    functions = re.findall(r"^    (\w+)\(", sections["FUNCTIONS"], re.MULTILINE)
    data = re.findall(r"^    (\w+) = ", sections["DATA"], re.MULTILINE)
    classes = re.findall(r"^    class (\w+)\(", sections["CLASSES"], re.MULTILINE)
    assert functions
    assert data
    assert len(classes) > 50
    public = set(gatetrio.__all__)
    assert set(functions + data + classes) <= public, set(functions + data + classes) - public
