"""Reading a recording back: its manifest, and its lines in order (sync, file reads).

A recorder killed outright (SIGKILL, a crash) leaves a manifest whose totals say what they said
at its last rotation (`frames 0` for a recording that never rotated) while the parts hold every
completed batch. Reading such a recording repairs it: the parts are recounted, the manifest is
rewritten (atomically, marked `repaired`, still `closed: false`), and every reader from then on
sees the true counts. A recording whose recorder is still running is left alone.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from gatetrio._core._errors import UsageError

from ._files import part_paths, read_part, scan_part, write_manifest, writer_gone
from ._format import (
    MANIFEST,
    DropLine,
    EventLine,
    FrameLine,
    Manifest,
    PartInfo,
    RestSnapshotLine,
    decode_line,
    decode_manifest,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._format import Line


def read_manifest(directory: str | Path) -> Manifest:
    """The recording's `manifest.json`, repaired first if its recorder died (module doc).

    Raises:
        UsageError: `directory` holds no recording.
    """
    path = Path(directory)
    try:
        manifest = decode_manifest((path / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise UsageError(f"{directory} holds no recording (no {MANIFEST})") from None
    if manifest.closed or not writer_gone(path):
        return manifest
    return repair_manifest(path, manifest)


def repair_manifest(directory: Path, manifest: Manifest) -> Manifest:
    """Recount `manifest`'s parts and totals from the files, write it back (if the directory
    is writable) and return it."""
    counts = {"f": 0, "e": 0, "r": 0, "frames": 0, "events": 0}

    def count(data: bytes) -> int:
        line = decode_line(data)
        match line:
            case FrameLine():
                counts["f"] += 1
            case EventLine():
                counts["e"] += 1
            case DropLine(what=what, n=n):
                counts[what] += n
            case RestSnapshotLine():
                counts["r"] += 1
        return line.ns

    parts = []
    for file in part_paths(directory):
        scan = scan_part(file, count)
        parts.append(
            PartInfo(
                name=file.name,
                lines=scan.lines,
                bytes=file.stat().st_size,
                first_ns=scan.first_ns,
                last_ns=scan.last_ns,
                complete=not scan.partial_tail,
            )
        )
    if parts:
        parts[-1].complete = False  # the recorder never closed it
    manifest.parts = parts
    manifest.frames, manifest.events, manifest.snapshots = counts["f"], counts["e"], counts["r"]
    manifest.frames_dropped, manifest.events_dropped = counts["frames"], counts["events"]
    manifest.repaired = True
    with contextlib.suppress(OSError):  # read-only: the repaired counts are returned anyway
        write_manifest(directory, manifest)
    return manifest


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
