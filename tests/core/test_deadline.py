"""within(): an await bounded in time, whether the work finishes at once, waits, fails or is
cancelled from outside."""

from __future__ import annotations

import asyncio

import pytest

from llm_codex.core.deadline import within


async def test_work_that_finishes_at_once_gives_its_value_or_its_error():
    async def ready():
        return 7

    async def broken():
        raise ValueError("bad")

    assert await within(0.5, ready()) == 7
    with pytest.raises(ValueError, match="bad"):
        await within(0.5, broken())


async def test_work_that_waits_gives_what_it_received():
    """Values sent in through the awaits reach the work; its result comes back."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_later(0.01, future.set_result, "late")

    async def waits():
        await asyncio.sleep(0)
        return await future

    assert await within(5, waits()) == "late"
    assert await within(None, waits()) == "late"


async def test_work_that_waits_too_long_is_cancelled_and_times_out():
    finished = []

    async def slow():
        try:
            await asyncio.sleep(10)
        finally:
            finished.append(True)

    with pytest.raises(asyncio.TimeoutError):
        await within(0.05, slow())
    assert finished == [True]


async def test_a_cancellation_from_outside_stays_a_cancellation():
    started = asyncio.Event()
    cleaned = []

    async def slow():
        started.set()
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append(True)

    task = asyncio.create_task(within(5, slow()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]


async def test_an_error_after_a_wait_comes_through():
    async def fails_later():
        await asyncio.sleep(0.01)
        raise KeyError("gone")

    with pytest.raises(KeyError):
        await within(5, fails_later())
