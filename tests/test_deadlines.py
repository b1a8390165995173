"""The stream's watchdog ends when told to, however the telling lines up with its own wake-ups."""

from __future__ import annotations

import asyncio

import pytest

from secretgpt.hub.deadlines import EndReason, StreamLimits, Watchdog
from secretgpt.hub.tally import Tally


@pytest.mark.parametrize("steps_between", [0, 1, 2, 3])
async def test_a_watchdog_cancelled_as_it_is_poked_ends(steps_between: int) -> None:
    """An answer's end pokes the watchdog (the model is done) and cancels it at once. Python
    3.11's `asyncio.wait_for` returns the event instead of raising when both land together, and
    the watchdog then waited for good: one task leaked per answer, and shutdowns hung on it."""
    async def never_due(_reason: EndReason) -> None:
        raise AssertionError("no deadline is due in this test")

    done = False
    watchdog = Watchdog(StreamLimits(), Tally(True), lambda: done, never_due)
    watchdog.start("s")
    await asyncio.sleep(0.01)  # asleep toward the first-token deadline
    done = True
    watchdog.poke()
    for _ in range(steps_between):
        await asyncio.sleep(0)
    watchdog.cancel()
    task = watchdog._task
    assert task is not None
    await asyncio.wait([task], timeout=1)
    assert task.done(), f"the watchdog is still waiting ({steps_between} loop steps between poke and cancel)"
