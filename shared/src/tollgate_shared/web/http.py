"""The FastAPI app every service starts from: errors, health, metrics (per-route request
counts and latency among them), settings on state."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_budget import Priority, prioritised
from tollgate_shared.observability import tracing
from tollgate_shared.observability.health import ReadinessCheck
from tollgate_shared.observability.health import router as health_router
from tollgate_shared.web.auth import TokenVerifier
from tollgate_shared.web.docs import add_docs
from tollgate_shared.web.errors import StatusMap, error_response, install_error_handlers
from tollgate_shared.web.fast_path import FastRoute
from tollgate_shared.web.openapi import document_errors
from tollgate_shared.web.request_metrics import RequestMetrics
from tollgate_shared.web.validation import control_characters_in

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class ServiceApp(FastAPI):
    """A FastAPI app that refuses a request whose path or query string holds a control
    character (422), whose `fast_routes` then answer their requests before its middleware
    stack (see `tollgate_shared.web.fast_path`), whose domain errors answer by `error_status`,
    whose OpenAPI document has every error, and which counts and times every request by route
    and status (`web.request_metrics`, labelled `service`)."""

    def __init__(
        self,
        *,
        service: str,
        fast_routes: Sequence[FastRoute],
        request_spans: bool,
        error_status: StatusMap,
        **kwargs: Any,
    ) -> None:
        super().__init__(telemetry={"tracing": request_spans}, **kwargs)
        self.fast_routes = tuple(fast_routes)
        self.request_spans = request_spans
        self.error_status = error_status
        self.request_metrics = RequestMetrics(service)
        install_error_handlers(self, error_status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        with prioritised(Priority.INTERACTIVE):  # a person waits: Stripe calls go first
            await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if (where := control_characters_in(scope)) is not None:
            refusal = error_response(
                422, "validation_error", f"the {where} must not contain control characters"
            )
            await refusal(scope, receive, send)
            self._observe(None, scope, 422, started)
            return
        if (
            self.fast_routes
            and not (self.request_spans and tracing.exporting())  # traces keep request spans
        ):
            for route in self.fast_routes:
                answered = await route.serve(self.state, self.error_status, scope, receive, send)
                if answered is not None:
                    self._observe(route, scope, answered, started)
                    return
        status = 500  # what the server answers when the app raised before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await super().__call__(scope, receive, send_noting_status)
        finally:
            self._observe(scope.get("route"), scope, status, started)

    def _observe(self, route: object | None, scope: Scope, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        self.request_metrics.observe(route, scope["method"], status, seconds)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document_errors(super().openapi(), self.routes, self.error_status)
        return super().openapi()


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str = "",
    lifespan: Lifespan | None = None,
    request_spans: bool = True,
    fast_routes: Sequence[FastRoute] = (),
    error_status: StatusMap | None = None,
) -> ServiceApp:
    """A FastAPI app with the JSON error format (domain errors answered by `error_status`, the
    service's `entrypoints/errors.STATUS`), `/healthz`, `/readyz`, `/metrics`, `/docs` and
    `/redoc` (no CDN), CORS for `CORS_ALLOWED_ORIGINS` only, and the state of per-user rate
    limits.
    `request_spans=False` turns off FastAPI's own span per HTTP request; `fast_routes` answer
    their routes before FastAPI's middleware and routing."""
    app = ServiceApp(
        service=settings.service_name,
        title=title,
        description=description,
        version="0.1.0",
        docs_url=None,  # served by `web.docs`, without a CDN
        redoc_url=None,
        lifespan=lifespan,
        request_spans=request_spans,
        fast_routes=fast_routes,
        error_status=error_status or {},
    )
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.state.readiness_checks = {}
    app.state.rate_limiters = {}
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
    app.include_router(health_router)
    add_docs(app)
    return app


def add_readiness_check(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    """Make `/readyz` depend on `check`."""
    app.state.readiness_checks[name] = check
