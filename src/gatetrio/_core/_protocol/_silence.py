"""Data silence: how long a ready subscription may go without data, and what it means if it does.

Two limits. `silence_timeout` is for any ready subscription: no data for that long is worth
saying (a market that stopped trading, or a stream that died without a word). The shorter
`first_data_timeout` is for a channel that starts with a snapshot (`Channel.snapshot_first`,
obu): Gate pushes the full book as soon as it subscribes, so nothing at all after the ack is
not a quiet market but a stream Gate acked and will never feed: live Gate acks an obu stream
of an unknown contract or level and then sends nothing (spec 15). That fact is said here, once;
the shell only logs and forwards the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._outputs import SubscriptionSilent

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from ._table import Sub

NEVER_FED = (
    "no data since the subscribe ack: Gate acks an unknown contract or level on this channel "
    "and then sends nothing"
)


def silence_limit(sub: Sub, *, silence: float | None, first_data: float | None) -> float | None:
    """Seconds `sub` may go without data once ready, or None for no limit."""
    if sub.snapshot_first and not sub.had_data and first_data is not None:
        return first_data if silence is None else min(first_data, silence)
    return silence


def went_silent(sub: Sub, limit: float) -> SubscriptionSilent:
    """The report for `sub`, silent for `limit` seconds, with the likeliest reason."""
    if sub.had_data:
        reason = f"no data for {limit:g}s"
    elif sub.snapshot_first:
        reason = NEVER_FED
    else:
        reason = f"no data since the subscribe ack ({limit:g}s)"
    return SubscriptionSilent(sub.sub_id, sub.spec.channel, reason)


class SilenceWatch:
    """The two limits, applied to the ready subscriptions; counts the silences it reports.

    A subscription is reported once per silence (`Sub.silent` stays set until data comes).
    """

    __slots__ = ("_first_data", "_silence", "silences", "tracking")

    def __init__(self, *, silence: float | None, first_data: float | None) -> None:
        self._silence = silence
        self._first_data = first_data
        self.tracking = silence is not None or first_data is not None  # else: nothing to do
        self.silences = 0

    def _limit(self, sub: Sub) -> float | None:
        return silence_limit(sub, silence=self._silence, first_data=self._first_data)

    def deadlines(self, subs: Iterable[Sub]) -> Iterator[float]:
        """When each ready, not yet silent subscription goes silent without more data."""
        if not self.tracking:
            return
        for sub in subs:
            if sub.ready and not sub.silent:
                limit = self._limit(sub)
                if limit is not None:
                    yield sub.last_data + limit

    def check(self, subs: Iterable[Sub], now: float) -> Iterator[SubscriptionSilent]:
        """Mark and report the subscriptions silent at `now`."""
        if not self.tracking:
            return
        for sub in subs:
            if not sub.ready or sub.silent:
                continue
            limit = self._limit(sub)
            if limit is not None and now >= sub.last_data + limit:
                sub.silent = True
                sub.silences += 1
                self.silences += 1
                yield went_silent(sub, limit)
