"""The pure protocol: `GateProtocol` (in `_machine.py`, with its rules) and what it reports.

_machine.py    GateProtocol: subscriptions, generations and handover, correlation, timers
_table.py      its records: subscriptions, targets, requests, generations, frame de-dupe
_heartbeat.py  ping / pong deadlines
_routing.py    the routed unit (`Item`) and each data frame's routing key
_outputs.py    the Output records, TimerResult, statistics
"""

from __future__ import annotations

from ._machine import AUTH_ERROR_CODES as AUTH_ERROR_CODES
from ._machine import GateProtocol as GateProtocol
from ._outputs import ApiAcked as ApiAcked
from ._outputs import ApiCompleted as ApiCompleted
from ._outputs import ApiLost as ApiLost
from ._outputs import CloseConnection as CloseConnection
from ._outputs import Connected as Connected
from ._outputs import Delivery as Delivery
from ._outputs import Malformed as Malformed
from ._outputs import Notice as Notice
from ._outputs import Output as Output
from ._outputs import PongReceived as PongReceived
from ._outputs import ProtocolStatistics as ProtocolStatistics
from ._outputs import ProtocolViolation as ProtocolViolation
from ._outputs import SubscriptionFailed as SubscriptionFailed
from ._outputs import SubscriptionReady as SubscriptionReady
from ._outputs import SubscriptionStatus as SubscriptionStatus
from ._outputs import TimerResult as TimerResult
from ._outputs import Unknown as Unknown
from ._outputs import Unmatched as Unmatched
from ._outputs import UnsubscribeAcked as UnsubscribeAcked
from ._outputs import UnsubscribeFailed as UnsubscribeFailed
from ._outputs import Upgrade as Upgrade
from ._routing import Item as Item
