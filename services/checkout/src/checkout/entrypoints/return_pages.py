"""Where Stripe sends a buyer back: plain pages for a deployment without its own frontend
pages at `CHECKOUT_SUCCESS_URL` / `CHECKOUT_CANCEL_URL` (and for the local stack)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["return pages"], include_in_schema=False)

_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
    "<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto}}</style>"
    "</head><body><h1>{title}</h1><p>{text}</p></body></html>"
)


@router.get("/checkout/success", response_class=HTMLResponse)
async def success(session_id: str = "") -> str:
    """Shown after paying: access follows as soon as Stripe's confirmation is processed."""
    text = "Thank you. Your access is activated as soon as the payment is confirmed"
    reference = f" (checkout {escape(session_id)})" if session_id else ""
    return _PAGE.format(title="Payment received", text=f"{text}{reference}.")


@router.get("/checkout/cancel", response_class=HTMLResponse)
async def cancel() -> str:
    """Shown when the buyer leaves the payment page without paying."""
    return _PAGE.format(title="Checkout cancelled", text="Nothing was charged.")
