"""Who hears what: public and private subscriptions, and the fan-out of pushes to them.

Public subscribe payloads are parsed by the connection's `Market` (`_market/_topics.py`); a
topic's pushes are encoded once per size mode and queued for every subscriber. Private
subscriptions are checked (key, signature, time) and recorded per connection; the trading
engine's pushes reach them through `push_private`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

from gatetrio._core._auth import verify_subscription_sign
from gatetrio._core._encode import encode_event

from ._market import ALL, SubscribeError
from ._profile import NUMERIC_FIELDS, live_numbers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from gatetrio._core._config import Credentials
    from gatetrio._core._events import Event

    from ._connection import Connection, MarketKey
    from ._market import Market, Push, Topic
    from ._profile import FakeProfile
    from ._replies import Replies

# The fake's own private channel table (spec 7), apart from the client's catalogue on purpose:
# a shared table would hide a misreading from every test against the fake.
PRIVATE_CHANNELS: Final = frozenset(
    {
        "futures.orders",
        "futures.usertrades",
        "futures.liquidates",
        "futures.auto_deleverages",
        "futures.position_closes",
        "futures.balances",
        "futures.reduce_risk_limits",
        "futures.positions",
        "futures.position_adl_rank",
        "futures.autoorders",
    }
)
# the UID is only a placeholder here (spec 7: positions) or absent (position_adl_rank)
_ANY_USER: Final = frozenset({"futures.positions", "futures.position_adl_rank"})
_SIGN_LABELS: Final = {
    "key": '{"label":"INVALID_KEY","message":"Invalid key provided"}\n',
    "sign": '{"label":"INVALID_SIGNATURE","message":"Signature mismatch"}\n',
    "time": '{"label":"REQUEST_EXPIRED","message":"gap between request time and server time '
    'exceeds 60s"}\n',
}


class SubscriptionHost(Protocol):
    """What the subscription table needs from the server that hosts it."""

    @property
    def credentials(self) -> Credentials | None: ...
    @property
    def user_id(self) -> str: ...
    @property
    def max_time_skew(self) -> float: ...
    @property
    def obu_snapshot_before_ack(self) -> bool: ...
    @property
    def profile(self) -> FakeProfile: ...
    @property
    def replies(self) -> Replies: ...
    @property
    def connections(self) -> list[Connection]: ...
    def now(self) -> float: ...
    def wall_time(self) -> float: ...
    def market(self, key: MarketKey) -> Market: ...
    def wake_clock(self) -> None: ...


class Subscriptions:
    """Every market's subscriber table, and the (un)subscribe requests that change it."""

    def __init__(self, host: SubscriptionHost) -> None:
        self._host = host
        self._replies = host.replies
        self._subscribers: dict[tuple[MarketKey, Topic], set[Connection]] = {}

    def handle(self, conn: Connection, msg: dict[str, Any], channel: str, event: str) -> None:
        """A `subscribe` or `unsubscribe` request."""
        if channel in PRIVATE_CHANNELS:
            self._handle_private(conn, msg, channel, event)
        else:
            self._handle_public(conn, msg, channel, event)

    def dispatch(self, key: MarketKey, pushes: Iterable[Push]) -> None:
        """Queue a market's due pushes for their subscribers, encoded once per size mode."""
        for push in pushes:
            subscribers = self._subscribers.get((key, push.topic))
            if not subscribers:
                continue
            frames: dict[bool, str] = {}
            for conn in list(subscribers):
                mode = conn.size_decimal
                frame = frames.get(mode)
                if frame is None:
                    frame = frames[mode] = self.encode_push(key, push, mode)
                self._replies.send(conn, frame)

    def encode_push(self, key: MarketKey, push: Push, size_decimal: bool) -> str:
        event = push.event(size_decimal)
        if (
            push.topic[0] == "futures.public_liquidates"
            and self._host.market(key).options.liquidations_as_object
        ):
            return encode_event(event, liquidation_object=True)
        return self._live_form(push.topic[0], encode_event(event))

    def _live_form(self, channel: str, frame: str) -> str:
        # live sends JSON numbers where the encoder writes Decimal strings (spec 15)
        if channel in NUMERIC_FIELDS and self._host.profile.numbers_in_pushes:
            return live_numbers(frame)
        return frame

    def forget(self, conn: Connection) -> None:
        """Drop a closed connection's public subscriptions."""
        for topic in conn.topics:
            self._unsubscribe(conn, topic)
        conn.topics = set()

    def push_private(
        self, channel: str, contract: str, event: Event | Callable[[bool], Event]
    ) -> None:
        """See `FakeGateServer.push_private`."""
        frames: dict[bool, str] = {}
        for conn in self._host.connections:
            subs = conn.private
            if (channel, contract) in subs or (channel, ALL) in subs or (channel, "") in subs:
                mode = conn.size_decimal
                if mode not in frames:
                    ev = event(mode) if callable(event) else event
                    frames[mode] = self._live_form(channel, encode_event(ev))
                self._replies.send(conn, frames[mode])

    def _handle_public(
        self, conn: Connection, msg: dict[str, Any], channel: str, event: str
    ) -> None:
        key = conn.market_key
        market = self._host.market(key)
        now = self._host.now()
        payload = msg.get("payload")
        unsub_all = isinstance(payload, list) and payload[:1] == ["unsub_all"]
        if channel == "futures.contract_stats" and event == "unsubscribe" and unsub_all:
            for topic in [t for t in conn.topics if t[0] == channel]:  # spec 6.9
                conn.topics.discard(topic)
                self._unsubscribe(conn, topic)
            self._replies.ack(conn, msg, channel, event)
            return
        try:
            profile = self._host.profile
            topics = market.parse_subscription(
                channel,
                payload,
                live=profile.live_error_texts,
                obu_silent=profile.obu_silent_ack,
            )
        except SubscribeError as exc:
            self._replies.error(conn, channel, event, exc.code, exc.message, msg=msg)
            return
        if event == "subscribe" and channel == "futures.obu":
            # one subscription per stream and connection; a duplicate fails the batch (spec 6.6)
            for topic in topics:
                if topic in conn.topics:
                    message = f"Alert sub ob.{topic[1]}.{topic[2]}"
                    self._replies.error(conn, channel, event, 2, message, msg=msg)
                    return
        if event == "unsubscribe":
            for topic in topics:
                if topic in conn.topics:
                    conn.topics.discard(topic)
                    self._unsubscribe(conn, topic)
            self._replies.ack(conn, msg, channel, event)
            return
        firsts: list[str] = []
        market.advance(now)  # a new topic's stream starts from the book as it is now
        for topic in topics:
            if topic in conn.topics:
                continue
            conn.topics.add(topic)
            market.subscribe(topic)
            self._subscribers.setdefault((key, topic), set()).add(conn)
            firsts.extend(
                self.encode_push(key, push, conn.size_decimal)
                for push in market.initial_pushes(topic, now)
            )
        self._host.wake_clock()
        # adl_warning: contracts already at risk get their `all` push before the ack (6.11)
        before_ack = channel == "futures.adl_warning" or (
            channel == "futures.obu" and self._host.obu_snapshot_before_ack
        )
        if before_ack:
            for frame in firsts:
                self._replies.send(conn, frame)
        self._replies.ack(conn, msg, channel, event)
        if not before_ack:
            for frame in firsts:
                self._replies.send(conn, frame)

    def _unsubscribe(self, conn: Connection, topic: Topic) -> None:
        key = conn.market_key
        subscribers = self._subscribers.get((key, topic))
        if subscribers is not None:
            subscribers.discard(conn)
            if not subscribers:
                del self._subscribers[(key, topic)]
        self._host.market(key).unsubscribe(topic)

    def _handle_private(
        self, conn: Connection, msg: dict[str, Any], channel: str, event: str
    ) -> None:
        problem = self._check_auth(msg, channel, event)
        if problem is not None:
            self._replies.error(conn, channel, event, 4, _SIGN_LABELS[problem], msg=msg)
            return
        payload = msg.get("payload")
        if (
            not isinstance(payload, list)
            or not payload
            or not all(isinstance(p, str) for p in payload)
        ):
            self._replies.error(conn, channel, event, 2, "invalid argument", msg=msg)
            return
        market = self._host.market(conn.market_key)
        uid = self._host.user_id
        named = channel == "futures.balances" or len(payload) > 1 or payload[0].isdigit()
        if channel not in _ANY_USER and named and payload[0] != uid:
            # another account's UID: refused, as live refused one in 2019 (gateapi-python#14)
            message = f"auth faild , auth data : &{{{{{uid}}}}}"
            self._replies.error(conn, channel, event, 2, message, msg=msg)
            return
        if channel == "futures.balances":
            targets = [""]
        else:
            # [uid, contract...] (contract lists or "!all"); adl_rank/autoorders may omit the uid
            names = payload[1:] if len(payload) > 1 or payload[0].isdigit() else payload
            targets = names or [ALL]
            for name in targets:
                if name != ALL and not market.has_contract(name):
                    self._replies.error(
                        conn, channel, event, 2, f"unknown contract {name}", msg=msg
                    )
                    return
        for target in targets:
            if event == "subscribe":
                conn.private.add((channel, target))
            else:
                conn.private.discard((channel, target))
        self._replies.ack(conn, msg, channel, event)

    def _check_auth(self, msg: dict[str, Any], channel: str, event: str) -> str | None:
        creds = self._host.credentials
        if creds is None:
            return None
        auth = msg.get("auth")
        if not isinstance(auth, dict) or auth.get("KEY") != creds.key:
            return "key"
        req_time = msg.get("time")
        if isinstance(req_time, bool) or not isinstance(req_time, int):
            return "sign"
        if not verify_subscription_sign(
            channel, event, req_time, sign=auth.get("SIGN"), secret=creds.secret
        ):
            return "sign"
        if abs(req_time - self._host.wall_time()) > self._host.max_time_skew:
            return "time"
        return None
