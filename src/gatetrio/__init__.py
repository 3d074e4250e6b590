"""gatetrio: a trio-native client for Gate's futures WebSocket API v4.

Public: the names in `gatetrio.__all__` (listed, grouped, in `gatetrio/_public.py`: the client
and its subscriptions, configuration, the pool, books, the records subscriptions yield, trading
requests, errors), and the modules `gatetrio.channels` (what to subscribe to),
`gatetrio.events` (frames and protocol replies, for code below the subscription level),
`gatetrio.testing` (the fake exchange), `gatetrio.recording` and `gatetrio.nats`. Everything
under a leading underscore is private: `_core/` is the sans-IO core (records, decode, encode,
signing, the protocol state machine, order books, backoff, configuration, errors) and never
imports trio; `_shell/` runs it under trio (transport, subscriptions, the client and its
supervised connections, live books); `_cli/` is `python -m gatetrio`. STYLE.md 2.2 maps them.

`import gatetrio` is light (benchmarks/README.md, "Import time"): the public names are resolved
on first use (PEP 562 `__getattr__`), and that first use loads them all at once, so every public
object reports `gatetrio` as its module from then on. `dir(gatetrio)`, and the classes,
functions and data `help(gatetrio)` shows, are the public surface only; its PACKAGE CONTENTS
still lists `_cli`, `_core` and `_shell`, because pydoc lists the package's directory
(`pkgutil.iter_modules(__path__)`) and no module attribute changes that.
"""

from __future__ import annotations

import typing as _typing

__version__ = "0.1.0"  # kept equal to pyproject.toml by tests/test_import_light.py

if _typing.TYPE_CHECKING:  # spelled so: type checkers recognise `typing.TYPE_CHECKING`
    from ._public import *  # noqa: F403 - the one table; type checkers read it from here

    __all__: list[str]  # built from the table on first use
else:
    import importlib as _importlib

    _SUBMODULES = frozenset({"channels", "events"})  # loaded alone, without the public names

    def _load() -> None:
        # One-shot: import every public name and, like trio's fixup_module_metadata, make the
        # public classes and functions report `gatetrio` as their module (reprs and docs show
        # the public path). All at once, so the result does not depend on which came first.
        from ._fixup import fixup_module_metadata  # noqa: PLC0415 - nothing loads before use

        public = _importlib.import_module("gatetrio._public")
        names = [name for name in vars(public) if not name.startswith("_")]
        namespace = globals()
        namespace.update((name, getattr(public, name)) for name in names)
        namespace["__all__"] = sorted([*names, "__version__"])
        fixup_module_metadata(__name__, namespace, names)

    def __getattr__(name: str) -> object:
        if name in _SUBMODULES:  # internal modules import `channels` from here
            return _importlib.import_module(f"gatetrio.{name}")
        if name.startswith("__") and name != "__all__":
            raise AttributeError(f"module 'gatetrio' has no attribute {name!r}")
        _load()
        try:
            return globals()[name]
        except KeyError:
            hint = ""
            if name in _importlib.import_module("gatetrio.events").__all__:
                hint = f"; it is gatetrio.events.{name}"
            raise AttributeError(f"module 'gatetrio' has no attribute {name!r}{hint}") from None

    def __dir__() -> list[str]:
        _load()
        return list(globals()["__all__"])
