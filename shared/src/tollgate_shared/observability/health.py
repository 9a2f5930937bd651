"""`/healthz` (process up), `/readyz` (dependencies answer) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from tollgate_shared.web.errors import error_responses

ReadinessCheck = Callable[[], Awaitable[bool]]

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, bool] = Field(description="whether each dependency answers")


@router.get("/healthz")
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=error_responses(503))
async def readyz(request: Request) -> JSONResponse:
    """Every dependency (broker, database) answers; 503 names those that do not."""
    checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
    names = list(checks)
    results = await asyncio.gather(
        *(asyncio.wait_for(checks[n](), timeout=2.0) for n in names), return_exceptions=True
    )
    status = {n: (r is True) for n, r in zip(names, results, strict=True)}
    ready = all(status.values())
    body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": status}
    if not ready:
        body["error"] = {"code": "not_ready", "message": "a dependency does not answer"}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
