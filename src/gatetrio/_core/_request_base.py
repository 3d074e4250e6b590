"""What every trading-API request declares: its channel, its parameters and its result type.

Apart from `_requests.py` so that the exception tree can name the request an in-doubt error
carries without importing the requests (which import the errors). Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Generic, Literal, Self, TypeAlias, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

JsonValue: TypeAlias = "str | int | bool | list[JsonValue] | dict[str, JsonValue] | None"

RateGroup: TypeAlias = Literal["orders", "cancels"]
"""Gate's rate-limit families: place and amend (`orders`), cancels (`cancels`)."""

ResultT_co = TypeVar("ResultT_co", covariant=True)


class TradingRequest(Generic[ResultT_co]):
    """A trading-API request whose final result reads as `ResultT_co`.

    Subclasses (`PlaceOrder`, `CancelOrder`, ...) name the result type as the parameter, so
    ``await client.request(PlaceOrder(...))`` is an `Order` to a type checker, and implement:

    - `channel`: Gate's channel (class-level);
    - `mutates`: whether it changes orders (an unanswered one is then in doubt);
    - `rate_group`: the rate limit it counts against, or None;
    - `req_param()`: the JSON sent as ``payload.req_param``;
    - `read_result(result)`: the typed result from Gate's plain-JSON ``data.result``
      (raises `ProtocolError` when it cannot be read);
    - `with_client_ids(new_id)`: itself with a client order id wherever the caller left one
      out (`text` of an order, `amend_text` of an amend); `client_order_ids()` lists them.
    """

    __slots__ = ()

    channel: ClassVar[str]
    mutates: ClassVar[bool] = False
    rate_group: ClassVar[RateGroup | None] = None

    def req_param(self) -> JsonValue:
        raise NotImplementedError

    def read_result(self, result: object) -> ResultT_co:
        raise NotImplementedError

    def with_client_ids(self, new_id: Callable[[], str]) -> Self:  # noqa: ARG002 - most have none
        return self

    def client_order_ids(self) -> tuple[str, ...]:
        return ()
