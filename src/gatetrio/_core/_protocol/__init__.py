"""GateProtocol: the pure state machine between the wire and the trio shell.

It owns the subscription table (with per-connection refcounts of server-side targets), the
connection generations and their handover, the correlation of replies to requests, the routing
of pushed items to subscriptions, the heartbeat, subscribe and data-silence deadlines, and the
resubscribe plan after a reconnect. The shell moves frames and wakes tasks; it keeps no copy of
any of this.

Rules (h11 `_state.py` style):

Rule 1: no I/O, no trio, no clock reads, no randomness. Time is an argument: `now` is the shell's
monotonic clock (``trio.current_time()``), `wall_time` is unix seconds for Gate's `time` field.

Rule 2: every method is sync and returns data: the text frames to send, and `Output` records of
what happened. The shell sends the frames in the order given and dispatches the outputs.

Rule 3: `receive_text` never raises for anything the server sends. A frame `decode_message`
rejects, or whose values break handling further in (a hostile value the decoder let through),
becomes a `Malformed` output and is counted: one bad frame is never fatal. The documented
exceptions elsewhere are `UsageError` (caller misuse) and `HeartbeatTimeout` (from
`handle_timer`).

Rule 4: requests are never replayed. After a reconnect `on_connected` builds fresh subscribe
frames (re-signed with the new `wall_time`) for the live subscriptions only: no unsubscribes, no
logins, no orders. Trading requests pending when their socket closes are reported lost
(`ApiFailed` with `RequestLost`), since an order may or may not have reached Gate and
resending it could fill twice (spec 13.12). Trading requests have rules of their own (`_api.py`: one
outcome each, a deadline, client order ids, rate limits).

Rule 5: a reply counts only on the socket its request went out on. Every inbound frame names
its generation; a trading reply, a subscribe ack or a pong arriving on another socket is
`Unmatched` (and counted), never taken for the right one.

Handover (make-before-break after Gate's upgrade notice, spec 4.4). `on_connected` while a
connection is current makes the old one *retiring*: subscriptions restart on the new socket,
while the old one keeps delivering data, de-duplicated frame by frame against the new one, so
nothing is lost or doubled across the switch. Once every live subscription is ready on the new
socket (or the subscribe deadline passes) the old one is *switched*: it delivers nothing more
and stays open only for replies to the trading requests sent on it. When the last of those
arrives, or `handover_grace` after the switch, `CloseConnection` tells the shell to close it;
requests still unanswered then are lost (`RequestLost`) with a reason that says so. A socket
that closes while retiring was *handed over*; the current one closing is *lost*.

Deadlines a server cannot restart. A subscription owes its first ack within `subscribe_deadline`
of `subscribe()` (`Sub.ack_by`), however many connections carry its frame: a reconnect or a
handover re-sends the frame with a request deadline no later than that one, and while there is
no connection at all `handle_timer` still fails the subscription when its time is up. Were the
deadline counted from each frame's send, a server that ends every connection, or asks to move
with an upgrade notice, sooner than the deadline would keep `Client.subscribe` waiting for
ever, each new socket restarting the clock. Once a subscription was ready, its resubscription
after a reconnect has the plain deadline from the frame's send: nobody waits on it, its
consumer sees the reconnects as client events, and how often a bouncing server can make one
is the reconnect pacer's bound (`_backoff.py`, `ReconnectPacer`).

Layout:

    _machine.py    GateProtocol: subscriptions, generations, correlation, timers
    _api.py        trading requests: correlation, deadlines, client order ids, rate limits
    _handover.py   retiring connections: overlap, switch, close
    _table.py      records: subscriptions, targets, requests, generations, frame de-dupe;
                   subscribe plans, refcounts
    _sub_replies.py  replies to subscribe/unsubscribe: acks, errors, missed deadlines
    _heartbeat.py  ping / pong deadlines
    _routing.py    each data frame's routing key (from the channel catalogue)
    _silence.py    data-silence limits and what a silence means
    _outputs.py    the Output records, TimerResult, statistics
"""

from __future__ import annotations

from ._api import SentRequest as SentRequest
from ._machine import GateProtocol as GateProtocol
from ._outputs import ApiAcked as ApiAcked
from ._outputs import ApiCompleted as ApiCompleted
from ._outputs import ApiFailed as ApiFailed
from ._outputs import CloseConnection as CloseConnection
from ._outputs import Connected as Connected
from ._outputs import Delivery as Delivery
from ._outputs import Malformed as Malformed
from ._outputs import Notice as Notice
from ._outputs import Output as Output
from ._outputs import PongReceived as PongReceived
from ._outputs import ProtocolStatistics as ProtocolStatistics
from ._outputs import ProtocolViolation as ProtocolViolation
from ._outputs import RateLimitPaused as RateLimitPaused
from ._outputs import SubscriptionFailed as SubscriptionFailed
from ._outputs import SubscriptionReady as SubscriptionReady
from ._outputs import SubscriptionSilent as SubscriptionSilent
from ._outputs import SubscriptionStatus as SubscriptionStatus
from ._outputs import TimerResult as TimerResult
from ._outputs import TradingStatistics as TradingStatistics
from ._outputs import Unknown as Unknown
from ._outputs import Unmatched as Unmatched
from ._outputs import UnsubscribeAcked as UnsubscribeAcked
from ._outputs import UnsubscribeFailed as UnsubscribeFailed
from ._outputs import Upgrade as Upgrade
from ._routing import Item as Item
from ._sub_replies import AUTH_ERROR_CODES as AUTH_ERROR_CODES
