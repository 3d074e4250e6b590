"""`python -m gatetrio`: the demo runner and the fake exchange's server."""

from __future__ import annotations

from ._main import main as main
