"""Replies to subscribe and unsubscribe requests: acks, errors and missed deadlines. Pure.

A subscription's first ack has a deadline of its own (`Sub.ack_by`, "Deadlines a server
cannot restart" in `__init__.py`): `ack_due` holds every request that carries it to that
deadline, and `first_acks_overdue` fails it when the time is up, even without a connection.

`GateProtocol` finds the request a reply answers (`find_request`) and hands it here with the
subscriptions and their target refcounts, which these functions read and mark (ready, failed)
but never add to or remove from; the protocol rebuilds its routes when one fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from gatetrio._core._errors import AuthenticationError, SubscribeTimeout, SubscriptionRejected

from ._outputs import SubscriptionFailed, SubscriptionReady, UnsubscribeAcked, UnsubscribeFailed
from ._table import LIVE, commit_plan

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gatetrio._core._errors import GateTrioError
    from gatetrio._core._events import ErrorReply

    from ._outputs import Output
    from ._table import Generation, Planned, Request, Sub, Target

    Subs = Mapping[int, Sub]
    Needs = Mapping[Target, set[int]]

# Gate documents code 4 as "authentication fail" (spec 2.4). ccxt also maps 6 and 11 to auth
# errors, but their meaning is undocumented, so they stay SubscriptionRejected.
AUTH_ERROR_CODES: Final = frozenset({4})


def acked(gen: Generation, req_id: int, subs: Subs, needs: Needs, now: float) -> list[Output]:
    """Request `req_id` on `gen` was acked: its targets are live, and every subscription now
    live on all of its targets is ready (`SubscriptionReady`, its silence clock starting)."""
    request = gen.requests.pop(req_id)
    if request.event == "unsubscribe":
        return [UnsubscribeAcked(request.channel, request.payload)]
    # Targets unsubscribed (or re-sent) since this frame went out are no longer ours.
    server = gen.server
    targets = [t for t in request.targets if server.get(t) == req_id]
    for target in targets:
        server[target] = LIVE
    out: list[Output] = []
    for sub in waiting_on(subs, needs, targets):
        if all(server.get(t) == LIVE for t in sub.targets):
            sub.ready = True
            sub.ack_by = None
            sub.silent = False
            sub.last_data = now  # the silence clock starts at readiness
            out.append(SubscriptionReady(sub.sub_id))
    return out


def rejected(
    reply: ErrorReply, gen: Generation, req_id: int, subs: Subs, needs: Needs
) -> list[Output]:
    """Request `req_id` on `gen` was refused: `UnsubscribeFailed`, or its subscriptions fail."""
    request = gen.requests.pop(req_id)
    kind = AuthenticationError if reply.code in AUTH_ERROR_CODES else SubscriptionRejected
    error = kind(reply.message, code=reply.code, channel=request.channel)
    if request.event == "unsubscribe":
        return [UnsubscribeFailed(request.channel, request.payload, error)]
    return fail(gen, req_id, request, error, subs=subs, needs=needs)


def overdue(
    gen: Generation, now: float, limit: float, subs: Subs, needs: Needs
) -> tuple[int, list[Output]]:
    """Subscribe requests on `gen` past their deadline at `now`: how many, and the
    subscriptions they fail with `SubscribeTimeout`."""
    late = [(rid, r) for rid, r in gen.requests.items() if r.deadline and now >= r.deadline]
    out: list[Output] = []
    for req_id, request in late:
        del gen.requests[req_id]
        error = SubscribeTimeout(request.channel, deadline=limit)
        out.extend(fail(gen, req_id, request, error, subs=subs, needs=needs))
    return len(late), out


def fail(
    gen: Generation,
    req_id: int,
    request: Request,
    error: GateTrioError,
    *,
    subs: Subs,
    needs: Needs,
) -> list[Output]:
    # Gate fails a batch atomically (spec 13.7): none of its targets is subscribed, so roll
    # them back (a later subscribe re-sends them) and fail everything that waited on them.
    failed = [t for t in request.targets if gen.server.get(t) == req_id]
    waiting = waiting_on(subs, needs, failed)
    for target in failed:
        del gen.server[target]
    out: list[Output] = []
    for sub in waiting:
        sub.failed = True
        sub.ready = False
        sub.ack_by = None
        out.append(SubscriptionFailed(sub.sub_id, error))
    return out


def commit(
    gen: Generation,
    plan: list[Planned],
    event: str,
    req_id: int,
    deadline: float | None,
    *,
    subs: Subs,
    needs: Needs,
) -> int:
    """`commit_plan` one frame at a time, each subscribe due by `deadline` or by the earlier
    first-ack deadline of a subscription waiting on it (`ack_due`); return the next id."""
    for item in plan:
        due = None if deadline is None else ack_due(subs, needs, item[3], deadline)
        req_id = commit_plan(gen, [item], event, req_id, due)
    return req_id


def subscribe_timeouts(
    gen: Generation | None, now: float, limit: float, subs: Subs, needs: Needs
) -> tuple[int, list[Output]]:
    """The subscribe deadlines due at `now`: requests on `gen` (the current connection, if
    any) past theirs, then first acks overdue whatever the connections did (a fallback:
    request deadlines normally come first). How many timed out, and the subscriptions failed."""
    late, out = (
        (0, []) if gen is None or not gen.requests else overdue(gen, now, limit, subs, needs)
    )
    expired = first_acks_overdue(subs, now, limit)
    return late + len(expired), out + expired


def ack_due(subs: Subs, needs: Needs, targets: Iterable[Target], deadline: float) -> float:
    """`deadline`, or the earlier first-ack deadline of a subscription waiting on `targets`:
    a resubscription never gives one that was not acked yet more time (`Sub.ack_by`)."""
    for target in targets:
        for sub_id in needs.get(target, ()):
            ack_by = subs[sub_id].ack_by
            if ack_by is not None and ack_by < deadline:
                deadline = ack_by
    return deadline


def first_acks_overdue(subs: Subs, now: float, limit: float) -> list[Output]:
    """Fail the subscriptions whose first ack is overdue at `now`, connected or not
    (`SubscribeTimeout`); while connected their requests' deadlines normally come first."""
    out: list[Output] = []
    for sub in subs.values():
        ack_by = sub.ack_by
        if ack_by is None or now < ack_by or sub.failed:
            continue
        sub.failed = True
        sub.ready = False
        sub.ack_by = None
        out.append(
            SubscriptionFailed(sub.sub_id, SubscribeTimeout(sub.spec.channel, deadline=limit))
        )
    return out


def waiting_on(subs: Subs, needs: Needs, targets: Iterable[Target]) -> list[Sub]:
    """Live, not-ready subscriptions needing any of `targets`, in sub_id order."""
    ids: set[int] = set()
    for target in targets:
        ids.update(needs.get(target, ()))
    waiting = (subs[i] for i in sorted(ids))
    return [s for s in waiting if not s.failed and not s.ready]
