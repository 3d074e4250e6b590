"""Is this contract listed? Asked before a live book subscribes (issue 17.10).

Live Gate acks an obu stream of a contract that does not exist and then sends nothing (spec
15), so a book of a typo would wait forever. The client asks first, in this order:

1. REST: ``GET /{futures|delivery}/{settle}/contracts/{name}`` through the client's REST helper,
   within CHECK_DEADLINE. Gate answers ``CONTRACT_NOT_FOUND`` for a name it does not list on
   that market: `UnknownContract`. A contract found is remembered for CHECK_TTL.
2. When REST is off (a custom connector without a REST transport) or gives no usable answer
   (unreachable, too slow, rate limited, a server error): a ``futures.tickers`` subscription
   on the client's socket, which Gate refuses at once for an unknown contract (``unknown
   currency pair``), and otherwise acks; it is left at once. The book then opens.

Either way an unknown contract is a typed error before anything of the book is subscribed.
"""

from __future__ import annotations

import logging
import typing
from typing import TYPE_CHECKING, Final

import trio

from gatetrio import channels
from gatetrio._core._errors import (
    GateTrioError,
    RateLimited,
    RequestRejected,
    SubscriptionRejected,
    UnknownContract,
    UsageError,
)

from ._subscription import OverflowPolicy

if TYPE_CHECKING:
    from ._book_host import SubscribeFunction
    from ._rest import RestClient

log: Final = logging.getLogger("gatetrio.client")

CHECK_DEADLINE: Final = 5.0  # seconds REST gets before the socket is asked instead
CHECK_TTL: Final = 3600.0  # seconds a contract found stays known
NOT_FOUND: Final = "CONTRACT_NOT_FOUND"


@typing.final
class ContractCheck:
    """Checks that contracts are listed on the client's market; one per client."""

    def __init__(self, rest: RestClient, subscribe: SubscribeFunction) -> None:
        self._rest = rest
        self._subscribe = subscribe
        self._known: dict[str, float] = {}  # contract -> trio time it was found
        self.checks = 0  # contracts asked about (count)
        self.unknown = 0  # contracts found unknown (count)
        self.by_socket = 0  # checks answered by the tickers subscription (count)

    async def check(self, contract: str) -> None:
        """Return if `contract` is listed; raise `UnknownContract` if not.

        Raises:
            UnknownContract: Gate does not list it on this market (REST), or refused a
                subscription to it (the socket).
            SubscriptionRejected, SubscribeTimeout, ConnectionLost: the socket could not tell
                (only when REST could not either).
        """
        found = self._known.get(contract)
        if found is not None and trio.current_time() - found < CHECK_TTL:
            await trio.lowlevel.checkpoint()
            return
        self.checks += 1
        if await self._by_rest(contract) is None:
            self.by_socket += 1
            await self._by_socket(contract)
        self._known[contract] = trio.current_time()

    async def _by_rest(self, contract: str) -> bool | None:
        """True when REST lists it; None when REST could not tell."""
        rest = self._rest
        if not rest.enabled:
            return None
        path = rest.route.market_path("contracts", contract)
        try:
            await rest.get(path, deadline=CHECK_DEADLINE)
        except RequestRejected as exc:
            if exc.label != NOT_FOUND or isinstance(exc, RateLimited):
                log.info(
                    "contract check of %s by REST failed (%s); asking the socket", contract, exc
                )
                return None
            self.unknown += 1
            where = f"{rest.route.market} {rest.route.settle}"
            raise UnknownContract(
                contract,
                code=exc.label,
                message=f"Gate lists no contract {contract!r} on {where} (REST: {exc.message})",
                channel=exc.channel,
            ) from exc
        except UsageError:
            raise  # the client is closed
        except GateTrioError as exc:  # unreachable, too slow, a 5xx, refused credentials...
            log.info("contract check of %s by REST failed (%s); asking the socket", contract, exc)
            return None
        return True

    async def _by_socket(self, contract: str) -> None:
        spec = channels.tickers(contract)
        try:
            async with self._subscribe(spec, buffer=1, overflow=OverflowPolicy.CONFLATE):
                pass
        except SubscriptionRejected as exc:
            self.unknown += 1
            raise UnknownContract(
                contract,
                code=exc.code,
                message=f"Gate refused {contract!r} on this endpoint: {exc.message}",
                channel=exc.channel,
            ) from exc
