"""Client order ids (`_core/_client_ids.py`): always valid for Gate, never the same twice."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio._core._client_ids import CLIENT_ID_PATTERN, ClientIds, is_client_id
from gatetrio._core._errors import UsageError

wall_times = st.floats(0, 2**48 / 1000 - 1, allow_nan=False)
# a wall clock as a program sees it: mostly forward, sometimes the same millisecond, sometimes
# stepped back (NTP), never NaN
clock_steps = st.lists(
    st.one_of(st.just(0.0), st.floats(0, 0.002), st.floats(-5, 5), st.floats(0, 86_400)),
    min_size=1,
    max_size=200,
)


@given(st.integers(0, 2**32), st.floats(1e9, 4e9), clock_steps)
def test_ids_are_valid_unique_and_ordered(seed: int, start: float, steps: list[float]) -> None:
    ids = ClientIds(random.Random(seed).randbytes)
    now = start
    made = []
    for step in steps:
        now = max(0.0, now + step)
        made.append(ids.next(wall_time=now))
    assert all(CLIENT_ID_PATTERN.fullmatch(i) for i in made)
    assert all(len(i) - 2 <= 28 and i.isascii() for i in made)
    assert len(set(made)) == len(made)
    assert made == sorted(made)  # even when the clock stepped back


@given(
    st.lists(st.integers(0, 2**64), min_size=2, max_size=20, unique=True),
    st.floats(1e9, 4e9),
    st.integers(1, 20),
)
def test_generators_in_separate_processes_never_collide(
    seeds: list[int], now: float, each: int
) -> None:
    # the worst case for separate processes (or a restart): every id in the same millisecond,
    # so only the random bits tell the generators apart
    made: list[str] = []
    for seed in seeds:
        ids = ClientIds(random.Random(seed).randbytes)
        made.extend(ids.next(wall_time=now) for _ in range(each))
    assert len(set(made)) == len(made)


def test_the_same_entropy_in_the_same_millisecond_is_the_only_way_to_collide() -> None:
    # the control: what keeps processes apart really is the random part
    a = ClientIds(random.Random(1).randbytes).next(wall_time=1_700_000_000.0)
    b = ClientIds(random.Random(1).randbytes).next(wall_time=1_700_000_000.0)
    c = ClientIds(random.Random(1).randbytes).next(wall_time=1_700_000_000.001)
    assert a == b != c


def crockford(value: int, width: int) -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(width)))


def test_ids_are_ulids_and_sort_by_time() -> None:
    early = ClientIds(lambda n: b"\xff" * n).next(wall_time=1_700_000_000.0)
    late = ClientIds(lambda n: b"\x00" * n).next(wall_time=1_700_000_000.001)
    assert early < late  # the time decides, not the random part
    assert early == "t-" + crockford(1_700_000_000_000, 10) + crockford(2**80 - 1, 16)
    assert late == "t-" + crockford(1_700_000_000_001, 10) + "0" * 16


@pytest.mark.parametrize("wall_time", [-1.0, 2**48 / 1000, float("inf"), float("nan")])
def test_a_wall_time_that_is_not_unix_seconds_is_refused(wall_time: float) -> None:
    with pytest.raises(UsageError, match="unix seconds"):
        ClientIds(random.Random(0).randbytes).next(wall_time=wall_time)


def test_a_broken_entropy_source_is_refused() -> None:
    with pytest.raises(UsageError, match="entropy"):
        ClientIds(lambda _: b"x").next(wall_time=1.0)


@given(st.text(max_size=40))
def test_is_client_id_is_gates_rule(text: str) -> None:
    body = text.removeprefix("t-")
    gate_ok = (
        text.startswith("t-")
        and 1 <= len(body.encode()) <= 28
        and all(c.isascii() and (c.isalnum() or c in "_.-") for c in body)
    )
    assert is_client_id(text) == gate_ok
