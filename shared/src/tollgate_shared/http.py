"""The FastAPI app every service starts from: errors, health, metrics, settings on state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate_shared.errors import install_error_handlers
from tollgate_shared.fast_path import FastRoute
from tollgate_shared.observability.health import ReadinessCheck
from tollgate_shared.observability.health import router as health_router
from tollgate_shared.settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str = "",
    lifespan: Lifespan | None = None,
    request_spans: bool = True,
    fast_routes: Sequence[type[FastRoute]] = (),
) -> FastAPI:
    """A FastAPI app with the JSON error format, `/healthz`, `/readyz`, `/metrics`, `/docs`,
    CORS for `CORS_ALLOWED_ORIGINS` only, and the state of per-user rate limits.
    `request_spans=False` turns off FastAPI's own span per HTTP request; `fast_routes` answer
    their routes ahead of FastAPI's routing (inside CORS)."""
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        telemetry={"tracing": request_spans},
    )
    app.state.settings = settings
    app.state.readiness_checks = {}
    app.state.rate_limiters = {}
    for route in fast_routes:  # added first, so CORS below wraps them
        app.add_middleware(route)
    if settings.cors_origins:
        # Bearer tokens, not cookies: no credentials, so no origin can ride a session.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    install_error_handlers(app)
    app.include_router(health_router)
    return app


def add_readiness_check(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    """Make `/readyz` depend on `check`."""
    app.state.readiness_checks[name] = check


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions = request.app.state.runtime.sessions
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]
"""A database session for one request (commit explicitly; rolled back if not)."""
