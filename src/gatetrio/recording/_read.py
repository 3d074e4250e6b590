"""Reading a recording back: its manifest, and its lines in order (sync, pure file reads)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gatetrio._core._errors import UsageError

from ._files import part_paths, read_part
from ._format import MANIFEST, Manifest, decode_line, decode_manifest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._format import Line


def read_manifest(directory: str | Path) -> Manifest:
    """The recording's `manifest.json`.

    Raises:
        UsageError: `directory` holds no recording.
    """
    path = Path(directory) / MANIFEST
    try:
        return decode_manifest(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"{directory} holds no recording (no {MANIFEST})") from None


def read_recording(directory: str | Path) -> Iterator[Line]:
    """Every line of a recording, in the order it was written: `FrameLine`, `EventLine`,
    `DropLine`, `RestSnapshotLine`. A part cut short by a killed recorder yields its completed
    lines.

    Raises:
        UsageError: `directory` holds no recording.
    """
    path = Path(directory)
    read_manifest(path)
    for part in part_paths(path):
        for data in read_part(part):
            yield decode_line(data)
