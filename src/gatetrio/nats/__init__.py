"""Fan-out through NATS JetStream: collectors publish, any number of consumers read.

Needs the `nats` extra (nats-py: ``pip install -e '.[nats]'`` in a clone); `import gatetrio` never
loads this package. Layout: `_wire` (subjects, message ids, payloads, stream settings) and
`_bus_book` (the book-over-bus sync) and `_reorder` (the consumers' re-sequencing window) are
pure; `_bridge` runs nats-py on its own asyncio thread, `_pull` is its reading side; `_publisher`,
`_consumer` and `_order_book` are the trio side. README "Fan-out through NATS" has the
overview; the message-id rules (which channels deduplicate exactly) are in `_wire`'s docstring.
"""

from __future__ import annotations

from ._bridge import NatsOptions as NatsOptions
from ._bus_book import BusBookSync as BusBookSync
from ._bus_book import BusStatus as BusStatus
from ._consumer import BusSubscription as BusSubscription
from ._consumer import ConsumerStatistics as ConsumerStatistics
from ._consumer import open_consumer as open_consumer
from ._errors import NatsError as NatsError
from ._errors import NatsUnavailable as NatsUnavailable
from ._errors import PublishBufferFull as PublishBufferFull
from ._errors import StreamMismatch as StreamMismatch
from ._order_book import BusOrderBook as BusOrderBook
from ._order_book import open_order_book as open_order_book
from ._publisher import BufferPolicy as BufferPolicy
from ._publisher import Publisher as Publisher
from ._publisher import PublisherEvent as PublisherEvent
from ._publisher import PublisherEventKind as PublisherEventKind
from ._publisher import PublisherStatistics as PublisherStatistics
from ._publisher import open_publisher as open_publisher
from ._pull import BusMessage as BusMessage
from ._reorder import Reorder as Reorder
from ._reorder import ReorderStatistics as ReorderStatistics
from ._wire import DEFAULT_PREFIX as DEFAULT_PREFIX
from ._wire import Envelope as Envelope
from ._wire import StreamReport as StreamReport
from ._wire import StreamSettings as StreamSettings
from ._wire import decode_payload as decode_payload
from ._wire import encode_payload as encode_payload
from ._wire import envelope as envelope
from ._wire import snapshot_subject as snapshot_subject
from ._wire import subject as subject

__all__ = [
    "DEFAULT_PREFIX",
    "BufferPolicy",
    "BusBookSync",
    "BusMessage",
    "BusOrderBook",
    "BusStatus",
    "BusSubscription",
    "ConsumerStatistics",
    "Envelope",
    "NatsError",
    "NatsOptions",
    "NatsUnavailable",
    "PublishBufferFull",
    "Publisher",
    "PublisherEvent",
    "PublisherEventKind",
    "PublisherStatistics",
    "Reorder",
    "ReorderStatistics",
    "StreamMismatch",
    "StreamReport",
    "StreamSettings",
    "decode_payload",
    "encode_payload",
    "envelope",
    "open_consumer",
    "open_order_book",
    "open_publisher",
    "snapshot_subject",
    "subject",
]
