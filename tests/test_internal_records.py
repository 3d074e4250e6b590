"""The internal records that are msgspec Structs (import time, benchmarks/README.md issue 22)
keep what their attrs versions promised: frozen, equal by value, reprs that hide payloads."""

from __future__ import annotations

import pytest

from gatetrio._core._errors import ProtocolError, UsageError
from gatetrio._core._protocol import ApiFailed, Connected, SubscriptionReady, TimerResult
from gatetrio._core._rest import Answer


def test_outputs_are_frozen_values() -> None:
    ready = SubscriptionReady(3)
    assert ready == SubscriptionReady(3)
    assert ready != SubscriptionReady(4)
    assert hash(ready) == hash(SubscriptionReady(3))
    with pytest.raises(AttributeError):
        ready.sub_id = 4  # type: ignore[misc]
    match ready:
        case SubscriptionReady(sub_id):
            assert sub_id == 3


def test_default_lists_are_not_shared() -> None:
    first, second = Connected(1, []), Connected(2, [])
    first.outputs.append(SubscriptionReady(1))
    assert second.outputs == []
    assert TimerResult([]).outputs == []


def test_api_failed_is_equal_by_request_id_alone() -> None:
    # exceptions compare by identity: two reports of one request's end are the same report
    lost = ApiFailed("7", ProtocolError("lost"))
    assert lost == ApiFailed("7", UsageError("late"))
    assert lost != ApiFailed("8", lost.error)
    assert hash(lost) == hash(ApiFailed("7", UsageError("late")))
    assert lost != SubscriptionReady(7)


def test_an_answer_shows_its_size_not_its_body() -> None:
    answer = Answer(200, {"content-type": "application/json"}, b'{"secret": 1}')
    assert repr(answer) == (
        "Answer(status=200, headers={'content-type': 'application/json'}, body=<13 bytes>)"
    )
    assert answer == Answer(200, {"content-type": "application/json"}, b'{"secret": 1}')
