"""The sans-IO core: no trio, no clock reads, no I/O (the boundary test globs this folder)."""

from __future__ import annotations
