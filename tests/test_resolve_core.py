"""`_core/_resolve.py`: what the lookups' answers mean, and that an answer about another order
is never taken for the one asked about (a broken or hostile server could otherwise turn "not
placed" into "placed")."""

from __future__ import annotations

import pytest

import gatetrio
from gatetrio._core._resolve import answers, decide
from gatetrio._core._results import read_order

PLACE = gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="100", text="t-mine")


def order(order_id: int, text: str, **extra: object) -> gatetrio.Order:
    return read_order(
        {"id": order_id, "contract": "BTC_USDT", "size": 1, "price": "100", "text": text}
        | {"status": "open", "left": 1, "create_time": 1727227280.916}
        | extra
    )


def test_an_order_answers_its_id_or_its_text() -> None:
    mine = order(7, "t-mine")
    assert answers(mine, "t-mine")
    assert answers(mine, "7")
    assert not answers(mine, "t-other")
    assert not answers(mine, "8")
    assert not answers(mine, "t-7")


def test_placed_not_placed_and_another_orders_answer() -> None:
    placed = decide(PLACE, {"t-mine": order(7, "t-mine")}, via="websocket")
    assert (placed.placed, placed.missing) == (True, ())
    missing = decide(PLACE, {"t-mine": None}, via="rest")
    assert (missing.placed, missing.missing) == (False, ("t-mine",))
    with pytest.raises(gatetrio.ProtocolError, match="answered with another order"):
        decide(PLACE, {"t-mine": order(8, "t-theirs")}, via="websocket")
    cancel = gatetrio.CancelOrder(order_id=7)
    with pytest.raises(gatetrio.ProtocolError, match="another order"):
        decide(cancel, {"7": order(9, "t-mine", status="finished")}, via="rest")
    done = decide(
        cancel, {"7": order(7, "t-x", status="finished", finish_as="cancelled")}, via="rest"
    )
    assert done.executed
