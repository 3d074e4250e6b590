"""Rotating zstd-compressed JSON-lines parts, and reading them back (sync; the recorder runs
writes in a worker thread).

Crash safety: every batch of lines is compressed as its own zstd frame (with a checksum) and
written with one `os.write` straight to the file descriptor, no user-space buffer. A recorder
killed at any moment (SIGKILL) therefore leaves whole frames followed by at most one partial
frame; `read_part` decodes frame by frame and stops at the partial one, so every line of every
completed batch is readable. (Surviving a power cut would need `fsync`; pass `fsync=True`.)

The manifest's totals are written when the recorder closes; a killed one leaves them as they
were at its last rotation. While it runs it holds an exclusive lock on `LOCK_FILE` (released by
the kernel when the process dies, however it dies), so a reader can tell a recording that is
still being written from one whose writer is gone, and recount the latter (`_read`).

Privacy: a recording may hold private account data (orders, fills, positions), so it is the
user's alone whatever the umask: the directory is 0700 and every file 0600, created so (never
widened, then narrowed). It goes into a new or empty directory only: a recording never mixes
with, or overwrites, other files.
"""

from __future__ import annotations

import errno
import os
import typing
from typing import TYPE_CHECKING, Any, Final

from gatetrio._core._errors import UsageError

from ._format import MANIFEST, PART_PREFIX, PART_SUFFIX, Manifest, PartInfo, encode_manifest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

ZSTD_LEVEL: Final = 3
READ_CHUNK: Final = 1 << 20
DIRECTORY_MODE: Final = 0o700
FILE_MODE: Final = 0o600
LOCK_FILE: Final = ".writer.lock"


def import_zstandard() -> Any:
    try:
        import zstandard  # noqa: PLC0415 - optional dependency, loaded by recordings only
    except ImportError:
        from gatetrio._install import install_hint  # noqa: PLC0415 - cold path

        raise UsageError(
            f"recordings need the zstandard package: {install_hint('record')}"
        ) from None
    return zstandard


@typing.final
class PartWriter:
    """Writes batches of lines to `part-NNNNN.jsonl.zst` files, rotating by size."""

    def __init__(
        self, directory: Path, manifest: Manifest, *, max_part_bytes: int, fsync: bool = False
    ) -> None:
        zstandard = import_zstandard()
        self._compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
        self.directory = directory
        self.manifest = manifest
        self.max_part_bytes = max_part_bytes
        self.fsync = fsync
        self._fd: int | None = None
        self.bytes_written = 0
        prepare_directory(directory)
        self._lock = hold_writer_lock(directory)
        self.write_manifest()

    def write_batch(self, data: bytes, lines: int, first_ns: int, last_ns: int) -> None:
        """Write one batch (whole lines) as one zstd frame; rotate first when the part is full."""
        part = self._current()
        frame = self._compressor.compress(data)
        fd = self._fd
        if fd is None:  # pragma: no cover - _current() opened it
            raise RuntimeError("no open part")
        view = memoryview(frame)
        while view:
            view = view[os.write(fd, view) :]
        if self.fsync:
            os.fsync(fd)
        part.lines += lines
        part.bytes += len(frame)
        self.bytes_written += len(frame)
        if part.first_ns is None:
            part.first_ns = first_ns
        part.last_ns = last_ns

    def _current(self) -> PartInfo:
        parts = self.manifest.parts
        if self._fd is not None and parts[-1].bytes < self.max_part_bytes:
            return parts[-1]
        self._close_part()
        part = PartInfo(name=f"{PART_PREFIX}{len(parts):05d}{PART_SUFFIX}")
        parts.append(part)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0)
        self._fd = os.open(self.directory / part.name, flags, FILE_MODE)
        self.write_manifest()  # the new part is listed (incomplete) before it holds anything
        return part

    def _close_part(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.manifest.parts[-1].complete = True

    def close(self) -> None:
        self._close_part()
        self.manifest.closed = True
        self.write_manifest()
        lock, self._lock = self._lock, None
        if lock is not None:
            (self.directory / LOCK_FILE).unlink(missing_ok=True)
            os.close(lock)

    def write_manifest(self) -> None:
        write_manifest(self.directory, self.manifest)


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Replace `directory`'s manifest atomically: a reader sees the old one or the new one."""
    path = directory / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    data = memoryview(encode_manifest(manifest))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), FILE_MODE)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)
    tmp.replace(path)


def prepare_directory(directory: Path) -> None:
    """Make `directory` (and missing parents) for a new recording: private, and empty.

    Raises:
        UsageError: it holds anything (a recording, or other files), or cannot be made or
            written (the message says which and why).
    """
    try:
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        _refuse_entries(directory)
        # an empty directory the caller made (mkdtemp, mkdir) becomes the recording's own
        directory.chmod(DIRECTORY_MODE)
    except OSError as exc:
        raise UsageError(f"cannot record into {directory}: {exc.strerror or exc}") from exc


def check_directory(directory: Path) -> None:
    """Fail now, creating nothing, if `directory` could not take a new recording (the command
    line checks this before it connects; `prepare_directory` checks again when recording).

    Raises:
        UsageError: as `prepare_directory` would.
    """
    try:
        existing = directory
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{existing} is not a directory")
        if existing == directory:
            _refuse_entries(directory)
        if not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, f"{existing} is not writable")
    except OSError as exc:
        raise UsageError(f"cannot record into {directory}: {exc.strerror or exc}") from exc


def _refuse_entries(directory: Path) -> None:
    entries = sorted(entry.name for entry in directory.iterdir())
    if not entries:
        return
    if MANIFEST in entries or any(name.startswith(PART_PREFIX) for name in entries):
        raise UsageError(f"{directory} already holds a recording; record into a new directory")
    shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
    raise UsageError(f"{directory} is not empty ({shown}); record into a new or empty directory")


def hold_writer_lock(directory: Path) -> int | None:
    """Take the recording's writer lock for as long as the returned descriptor is open (None
    where the platform has no `fcntl.flock`)."""
    try:
        import fcntl  # noqa: PLC0415 - POSIX only
    except ImportError:  # pragma: no cover - Windows
        return None
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, FILE_MODE)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new directory: nobody else has it
    return fd


def writer_gone(directory: Path) -> bool:
    """True when no live process holds the recording's writer lock (its recorder ended, or
    was killed); False while one does, or where that cannot be told."""
    try:
        import fcntl  # noqa: PLC0415
    except ImportError:  # pragma: no cover - Windows: cannot tell, so never rewrite
        return False
    try:
        fd = os.open(directory / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return True  # closed, or made before the lock existed
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases the lock taken just now
    return True


@typing.final
class PartScan:
    """What a part really holds (a recount after a recorder died)."""

    def __init__(self) -> None:
        self.lines = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.partial_tail = False  # it ends in an incomplete batch


def scan_part(path: Path, on_line: Callable[[bytes], int]) -> PartScan:
    """Read every complete line of `path`, passing each to `on_line` (which returns its
    `ns`), and say what was found."""
    scan = PartScan()
    for line in read_part(path, tail=scan):
        ns = on_line(line)
        scan.lines += 1
        if scan.first_ns is None:
            scan.first_ns = ns
        scan.last_ns = ns
    return scan


def part_paths(directory: Path) -> list[Path]:
    """The parts of a recording, in order (the manifest is not needed to read them)."""
    return sorted(directory.glob(f"{PART_PREFIX}*{PART_SUFFIX}"))


def read_part(path: Path, *, tail: PartScan | None = None) -> Iterator[bytes]:
    """Yield each line (without its newline) of every complete zstd frame in `path`.

    A trailing partial frame (a killed recorder) is skipped (`tail.partial_tail` says so);
    corruption before the end raises `ProtocolError`.
    """
    from gatetrio._core._errors import ProtocolError  # noqa: PLC0415 - cold path

    zstandard = import_zstandard()
    decompressor = zstandard.ZstdDecompressor()
    data = path.read_bytes()
    while data:
        obj = decompressor.decompressobj()
        try:
            out = obj.decompress(data)
        except zstandard.ZstdError as exc:
            raise ProtocolError(f"{path.name}: corrupt zstd frame: {exc}") from None
        if not obj.eof:  # the partial last frame of a killed recorder: not a completed batch
            if tail is not None:
                tail.partial_tail = True
            return
        data = obj.unused_data
        yield from out.splitlines()
