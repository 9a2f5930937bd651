"""Checkout's HTTP API: its routers."""

from __future__ import annotations

from fastapi import APIRouter

from checkout.entrypoints import (
    catalog_routes,
    checkout_routes,
    group_routes,
    invoice_routes,
    return_pages,
)

routers: list[APIRouter] = [
    catalog_routes.router,
    group_routes.router,
    checkout_routes.router,
    invoice_routes.router,
    return_pages.router,
]
