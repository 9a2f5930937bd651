"""Checkout's HTTP API: its routers and how domain errors become responses."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from checkout.domain import errors
from checkout.entrypoints import catalog_routes, checkout_routes, return_pages
from tollgate_shared.errors import error_response

routers: list[APIRouter] = [catalog_routes.router, checkout_routes.router, return_pages.router]

STATUS: dict[type[errors.CheckoutError], int] = {
    errors.NotFound: 404,
    errors.NotAllowed: 403,
    errors.Invalid: 422,
    errors.IdempotencyKeyReused: 422,
    errors.Conflict: 409,
    errors.PaymentRequired: 402,
    errors.PaymentsUnavailable: 503,
    errors.PaymentProviderError: 502,
}


def install_error_handler(app: FastAPI) -> None:
    """Answer domain errors with their status and the JSON error body."""

    @app.exception_handler(errors.CheckoutError)
    async def _domain_error(_: Request, exc: errors.CheckoutError) -> Response:
        status = next(STATUS[c] for c in type(exc).__mro__ if c in STATUS)
        return error_response(status, exc.code, exc.message)
