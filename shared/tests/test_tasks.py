"""Background tasks are stopped without waiting for ever."""

import asyncio

from structlog.testing import capture_logs

from tollgate_shared.infra.tasks import cancel_and_wait


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again() -> None:
    swallowed = 0

    async def loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # as `wait_for` racing with a result can on Python 3.11

    async def failing() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    tasks = [asyncio.create_task(loop(), name="loop"), asyncio.create_task(failing(), name="bad")]
    await asyncio.sleep(0.01)
    with capture_logs() as logs:
        await cancel_and_wait(tasks, timeout=5)
    assert all(task.done() for task in tasks)
    assert swallowed == 1 and tasks[0].cancelled()
    assert [(e["event"], e.get("task")) for e in logs] == [("tasks.failed", "bad")]


async def test_a_task_that_never_stops_is_logged_and_left() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0.01)
    with capture_logs() as logs:
        await cancel_and_wait([task], timeout=0.3)
    assert not task.done()
    assert logs[-1]["event"] == "tasks.not_stopped" and logs[-1]["tasks"] == ["stubborn"]
    release.set()
    task.cancel()
    await asyncio.wait([task])
    assert task.done()
