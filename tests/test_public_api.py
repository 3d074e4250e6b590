"""The public surface: gatetrio/__init__.py (after trio's test_exports.py)."""

from __future__ import annotations

import enum
import importlib
import inspect
import pathlib
import re
import subprocess
import sys
import typing

import pytest

import gatetrio
import gatetrio.events
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
    for module in (gatetrio, gatetrio.events):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert obj.__module__ == module.__name__, name


def test_the_one_table_is_the_top_level() -> None:
    # gatetrio/_public.py is the table: each of its public names, and nothing else, is in
    # gatetrio.__all__, and each is the object defined in the private module it names
    from gatetrio import _public

    table = {name for name in vars(_public) if not name.startswith("_")}
    assert set(gatetrio.__all__) == table | {"__version__"}
    source = inspect.getsource(_public)
    for name in table - {"channels"}:
        match = re.search(rf"^from (\.[\w.]+) import {name} as {name}$", source, re.MULTILINE)
        assert match, name
        defined = importlib.import_module(match.group(1), "gatetrio")
        assert getattr(defined, name) is getattr(gatetrio, name), name


def test_frames_and_replies_live_in_gatetrio_events() -> None:
    events = set(gatetrio.events.__all__)
    assert {"TradesUpdate", "Pong", "SubscribeAck", "decode_message", "Event"} <= events
    assert not events & set(gatetrio.__all__), "a name has one home"
    # the records a subscription yields stay at the top
    assert {"Trade", "Ticker", "ObuDelta", "Order", "Position"} <= set(gatetrio.__all__)
    # no frame or reply at the top (`Client.request` returns typed results, not replies)
    frames = set(typing.get_args(gatetrio.events.Event))
    assert not [name for name in gatetrio.__all__ if getattr(gatetrio, name) in frames]
    with pytest.raises(AttributeError, match=r"it is gatetrio\.events\.TradesUpdate"):
        gatetrio.TradesUpdate  # type: ignore[attr-defined]  # noqa: B018


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
    members = set(typing.get_args(gatetrio.events.DataEvent))
    assert gatetrio.events.TradesUpdate in members
    assert gatetrio.events.ObuUpdate in members
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


def test_install_hints_follow_how_gatetrio_was_installed(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatetrio import _install

    clone = pathlib.Path(__file__).resolve().parents[1]
    monkeypatch.setattr(_install, "_clone", lambda: clone)
    monkeypatch.chdir(clone)
    assert _install.install_hint("record") == "pip install -e '.[record]'"
    monkeypatch.chdir(tmp_path)
    assert _install.install_hint("record") == f"pip install -e '{clone}[record]'"
    # from a wheel: the extra's own packages, which any install can add (gatetrio is on no index)
    monkeypatch.setattr(_install, "_clone", lambda: None)
    assert _install.install_hint("parquet") == "pip install 'pyarrow>=15' 'zstandard>=0.22'"
    assert _install.install_hint("nats") == "pip install 'nats-py>=2.6'"
