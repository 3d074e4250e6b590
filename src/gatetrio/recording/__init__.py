"""Recordings: every raw frame a client receives, with its receive time and connection, plus
the connection events, in rotating zstd-compressed JSON lines (the `record` extra:
`pip install -e '.[record]'` in a clone).

    async with gatetrio.open_client() as client:
        async with gatetrio.recording.open_recorder(client, "capture") as recorder:
            async with client.subscribe(gatetrio.channels.trades("BTC_USDT")) as trades:
                ...

`read_recording(DIR)` yields the lines back; `gatetrio.testing.ReplayServer` serves a recording
to any client with its original timing (order_book_update books too, from the REST snapshots
the recorder takes of each such stream); `export_parquet` writes typed tables (the `parquet`
extra). The format is described in `_format`; crash safety in `_files`.
"""

from __future__ import annotations

from ._format import DropLine as DropLine
from ._format import EventLine as EventLine
from ._format import FrameLine as FrameLine
from ._format import Line as Line
from ._format import Manifest as Manifest
from ._format import PartInfo as PartInfo
from ._format import RestSnapshotLine as RestSnapshotLine
from ._parquet import export_parquet as export_parquet
from ._read import read_manifest as read_manifest
from ._read import read_recording as read_recording
from ._recorder import Recorder as Recorder
from ._recorder import RecorderStatistics as RecorderStatistics
from ._recorder import open_recorder as open_recorder

__all__ = [
    "DropLine",
    "EventLine",
    "FrameLine",
    "Line",
    "Manifest",
    "PartInfo",
    "Recorder",
    "RecorderStatistics",
    "RestSnapshotLine",
    "export_parquet",
    "open_recorder",
    "read_manifest",
    "read_recording",
]
