"""Background loops live inside the app's lifespan: after what it starts, before it stops."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from tollgate_shared.testing import serve_app, wait_until
from tollgate_shared.web.service import background_loops


async def test_loops_start_after_the_app_lifespan_and_are_cancelled_before_it_ends() -> None:
    steps: list[str] = []

    @contextlib.asynccontextmanager
    async def runtime(_: FastAPI) -> AsyncIterator[None]:
        steps.append("runtime up")
        yield
        steps.append("runtime down")

    async def loop() -> None:
        steps.append("loop started")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            steps.append("loop cancelled")
            raise

    async def failing() -> None:
        raise RuntimeError("a loop that dies does not stop the others or the shutdown")

    app = FastAPI(lifespan=runtime)
    app.include_router(background_loops(loop, failing))
    async with serve_app(app):
        await wait_until(lambda: "loop started" in steps, message="loop started")
    assert steps == ["runtime up", "loop started", "loop cancelled", "runtime down"]
