"""The app factory: Stripe's API, the hosted pages, webhooks, and (in test mode) controls."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from stripe_emulator import controls, invoice_pages, pages
from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError
from stripe_emulator.middleware import StripeEnvelope
from stripe_emulator.operations import checkout as checkout_sessions
from stripe_emulator.operations import subscriptions
from stripe_emulator.operations.endpoints import register_startup_webhooks
from stripe_emulator.routes import (
    billing,
    catalog,
    checkout,
    customers,
    events,
    money_movement,
    payment_methods,
    payments,
    risk,
    setup_intents,
)
from stripe_emulator.settings import Settings

API_ROUTERS = (
    customers,
    catalog,
    checkout,
    billing,
    payment_methods,
    payments,
    setup_intents,
    risk,
    money_movement,
    events,
)
EXPIRY_SWEEP_SECONDS = 1.0


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the emulator app; all state lives in the app (`app.state.emulator`)."""
    settings = settings or Settings.from_env()
    emulator = Emulator(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.dispatcher.start()
        with emulator.store.lock:
            register_startup_webhooks(emulator)
        sweeper = asyncio.create_task(_expire_due(emulator))
        try:
            yield
        finally:
            sweeper.cancel()
            await emulator.dispatcher.stop()

    app = FastAPI(title="Stripe emulator", lifespan=lifespan)
    app.state.emulator = emulator
    api_routes = [route for module in API_ROUTERS for route in module.api.router.routes]
    app.add_middleware(StripeEnvelope, emulator=emulator, routes=api_routes)
    app.add_exception_handler(StripeError, _stripe_error)  # type: ignore[arg-type]

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Process up."""
        return {"status": "ok"}

    for module in API_ROUTERS:
        app.include_router(module.api.router)
    app.include_router(pages.router)
    app.include_router(invoice_pages.router)
    app.include_router(controls.diagnostics)
    if settings.test_mode:
        app.include_router(controls.router)

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
    async def unrecognized(request: Request) -> JSONResponse:
        """Stripe's answer to an unknown API path."""
        message = (
            f"Unrecognized request URL ({request.method}: {request.url.path}). This emulator "
            "covers only part of Stripe's API: see its README."
        )
        return JSONResponse({"error": {"type": "invalid_request_error", "message": message}}, 404)

    return app


async def _stripe_error(_: Request, exc: StripeError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _expire_due(emulator: Emulator) -> None:
    """Checkout Sessions past `expires_at`, subscriptions left incomplete for 23 hours."""
    while True:
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
        with emulator.store.lock:
            checkout_sessions.expire_due(emulator)
            subscriptions.expire_due(emulator)
