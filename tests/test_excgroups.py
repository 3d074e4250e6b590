"""_shell/_excgroups: the exception-group contract (STYLE.md 2.6, "second" pattern).

The trio cases follow trio-websocket's test_open_websocket_internal_exc / _cancellations / _ki:
groups really raised by nurseries, not only hand-built ones.
"""

from __future__ import annotations

import traceback

import pytest
import trio
import trio.testing

from gatetrio._core._errors import ConnectionLost, GateTrioError, GateTrioInternalError, UsageError
from gatetrio._shell._excgroups import (
    collapse,
    first_leaf,
    leaves,
    only_cancelled,
    only_of,
    open_host_nursery,
    real_leaves,
    settle,
)


def _cancelled() -> trio.Cancelled:
    # trio.Cancelled has no public constructor; take a real one
    caught: list[trio.Cancelled] = []

    async def main() -> None:
        with trio.CancelScope() as scope:
            scope.cancel()
            try:
                await trio.lowlevel.checkpoint()
            except trio.Cancelled as exc:
                caught.append(exc)
                raise

    trio.run(main)
    return caught[0]


def test_leaves_of_nested_groups_in_order() -> None:
    a, b, c = ValueError("a"), KeyError("b"), ConnectionLost("c")
    group = BaseExceptionGroup(
        "outer", [a, BaseExceptionGroup("inner", [b, ExceptionGroup("x", [c])])]
    )
    assert leaves(group) == [a, b, c]
    assert first_leaf(group) is a
    assert leaves(a) == [a]
    assert first_leaf(a) is a


def test_cancelled_leaves_are_not_real() -> None:
    cancelled = _cancelled()
    lost = ConnectionLost("gone")
    group = BaseExceptionGroup("g", [cancelled, BaseExceptionGroup("h", [lost, cancelled])])
    assert real_leaves(group) == [lost]
    assert not only_cancelled(group)
    assert only_cancelled(
        BaseExceptionGroup("c", [cancelled, BaseExceptionGroup("d", [cancelled])])
    )
    assert only_cancelled(cancelled)


def test_only_of() -> None:
    cancelled = _cancelled()
    first, second = ConnectionLost("first"), ConnectionLost("second")
    assert only_of(BaseExceptionGroup("g", [cancelled, first, second]), ConnectionLost) is first
    assert only_of(ExceptionGroup("g", [first, ValueError()]), ConnectionLost) is None
    assert only_of(BaseExceptionGroup("g", [cancelled]), ConnectionLost) is None
    assert only_of(first, ConnectionLost) is first
    assert only_of(ValueError(), ConnectionLost) is None


def test_one_real_failure_is_raised_as_itself() -> None:
    cancelled = _cancelled()
    error = ValueError("the user's own")
    group = BaseExceptionGroup("g", [cancelled, BaseExceptionGroup("h", [error])])
    assert collapse(group) is error


def test_only_cancelled_stays_a_group() -> None:
    cancelled = _cancelled()
    group = BaseExceptionGroup("g", [cancelled, BaseExceptionGroup("h", [cancelled])])
    assert collapse(group) is group


def test_keyboard_interrupt_wins_over_everything() -> None:
    ki = KeyboardInterrupt()
    group = BaseExceptionGroup(
        "g", [ConnectionLost("x"), ValueError(), BaseExceptionGroup("h", [_cancelled(), ki])]
    )
    assert collapse(group) is ki
    exit_ = SystemExit(3)
    assert collapse(BaseExceptionGroup("g", [ValueError(), exit_])) is exit_
    assert collapse(BaseExceptionGroup("g", [exit_, ki])) is ki


def test_several_gatetrio_errors_become_one_with_the_group_as_cause() -> None:
    group = ExceptionGroup("g", [ConnectionLost("a"), UsageError("b")])
    error = collapse(group)
    assert type(error) is GateTrioError
    assert error.__cause__ is group
    assert "2 failures" in str(error)
    assert "a" in str(error)
    assert "b" in str(error)


def test_mixed_foreign_failures_are_internal_errors() -> None:
    group = ExceptionGroup("g", [ConnectionLost("a"), ZeroDivisionError("b")])
    error = collapse(group)
    assert type(error) is GateTrioInternalError
    assert error.__cause__ is group
    assert "please report" in str(error)


async def test_real_nursery_group_with_cancellations() -> None:
    async def fail() -> None:
        await trio.lowlevel.checkpoint()
        raise ConnectionLost("boom")

    with pytest.raises(ConnectionLost, match="boom") as info:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.sleep_forever)
                nursery.start_soon(fail)
        except BaseExceptionGroup as group:
            raise collapse(group)  # noqa: B904 - the group stays attached as __context__
    assert isinstance(info.value.__context__, BaseExceptionGroup)


async def test_real_nursery_only_cancelled_is_absorbed_by_its_scope() -> None:
    with trio.CancelScope() as scope:
        try:
            async with trio.open_nursery(strict_exception_groups=True) as nursery:
                nursery.start_soon(trio.sleep_forever)
                scope.cancel()
        except BaseExceptionGroup as group:
            raise collapse(group)  # noqa: B904 - the group stays attached as __context__
    assert scope.cancelled_caught


async def test_real_nursery_keyboard_interrupt() -> None:
    # both raise in their first step, before the nursery's cancellation can reach either
    async def interrupt() -> None:
        raise KeyboardInterrupt

    async def fail() -> None:
        raise ValueError

    with pytest.raises(KeyboardInterrupt) as info:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(fail)
                nursery.start_soon(interrupt)
        except BaseExceptionGroup as group:
            raise collapse(group)  # noqa: B904 - the group stays attached as __context__
    context = info.value.__context__
    assert isinstance(context, BaseExceptionGroup)
    assert {type(leaf) for leaf in leaves(context)} == {KeyboardInterrupt, ValueError}


# ----------------------------------------------------------- settle and open_host_nursery


def test_settle_without_a_body_is_collapse() -> None:
    error = ConnectionLost("x")
    assert settle(BaseExceptionGroup("g", [error, _cancelled()]), None) is error


def test_settle_knows_the_body_by_its_leaves_not_its_group() -> None:
    mine = ExceptionGroup("mine", [ValueError("a"), KeyError("b")])
    copied = mine.derive(list(mine.exceptions))  # what a cancelled scope's split makes of it
    group = BaseExceptionGroup("nursery", [copied, _cancelled()])
    assert settle(group, mine) is mine


def test_settle_a_failure_goes_before_a_cancelled_body() -> None:
    failure = ConnectionLost("gone")
    body = _cancelled()
    assert settle(BaseExceptionGroup("nursery", [body, failure]), body) is failure


def test_settle_a_keyboard_interrupt_of_the_tasks_goes_before_the_body() -> None:
    body, interrupt = ValueError("mine"), KeyboardInterrupt()
    assert settle(BaseExceptionGroup("nursery", [body, interrupt]), body) is interrupt
    own = BaseExceptionGroup("mine", [KeyboardInterrupt()])  # the body's own interrupt stays
    assert settle(BaseExceptionGroup("nursery", [own, interrupt]), own) is own


def test_settle_keeps_the_body_and_logs_a_concurrent_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body, failure = ValueError("mine"), ConnectionLost("gone")
    assert settle(BaseExceptionGroup("nursery", [body, failure]), body) is body
    assert "gone" in caplog.text


async def test_open_host_nursery_raises_a_task_failure_without_its_group() -> None:
    async def fail() -> None:
        await trio.lowlevel.checkpoint()
        raise UsageError("from a task")

    with pytest.raises(UsageError) as info:
        async with open_host_nursery("done") as nursery:
            nursery.start_soon(fail)
            await trio.sleep_forever()
    assert info.value.__suppress_context__  # the Cancelled of the body is not shown
    assert "Exceptions from Trio nursery" not in "".join(traceback.format_exception(info.value))


async def test_open_host_nursery_lets_the_body_exception_through_unchanged() -> None:
    mine = ExceptionGroup("mine", [ValueError("a")])
    with pytest.raises(ExceptionGroup) as info:
        async with open_host_nursery("done") as nursery:
            nursery.start_soon(trio.sleep_forever)
            raise mine
    assert info.value is mine
    assert mine.__context__ is None
