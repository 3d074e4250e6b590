"""Make re-exported objects report their public module (after trio's `fixup_module_metadata`).

`repr()`, `help()`, tracebacks and the API reference then show `gatetrio.Trade`, not
`gatetrio._core._events.Trade`. Only classes and functions defined in a private module are
touched; type aliases and objects from other packages are left alone.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def fixup_module_metadata(
    module: str, namespace: Mapping[str, object], names: Iterable[str]
) -> None:
    """Set `__module__ = module` on each of `names` in `namespace` defined under `gatetrio._`."""
    for name in names:
        obj = namespace[name]
        defined_in = getattr(obj, "__module__", "")
        if (
            isinstance(defined_in, str)
            and defined_in.startswith("gatetrio._")
            and isinstance(obj, type | types.FunctionType)
        ):
            try:
                obj.__module__ = module
            except (AttributeError, TypeError):  # pragma: no cover - an immutable builtin
                continue
