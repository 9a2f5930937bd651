"""Background loops that live as long as the app: started after the runtime, stopped before."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI

Loop = Callable[[], Coroutine[Any, Any, None]]


def workers_router(*loops: Loop) -> APIRouter:
    """A router with no routes whose lifespan runs `loops` as tasks."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(loop(), name=loop.__qualname__) for loop in loops]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return APIRouter(lifespan=lifespan)
