"""`python -m gatetrio ...`: the command line (see `gatetrio._cli`)."""

from __future__ import annotations

from ._cli._main import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
