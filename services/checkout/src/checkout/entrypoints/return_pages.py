"""Where Stripe sends a buyer back, and where mails send a member: plain pages for a deployment
without its own frontend pages at `PUBLIC_BASE_URL` (the local stack's links land here):
`CHECKOUT_SUCCESS_URL` / `CHECKOUT_CANCEL_URL`, the billing portal's return (`/account`), the
mails' "manage your membership" (`/account/billing`) and a group's page (`/groups/{id}`)."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from checkout.adapters import catalog_repo
from checkout.domain.catalog import Tier
from checkout.entrypoints.dependencies import ContextDep
from tollgate_shared.money import format_money
from tollgate_shared.web.validation import Id

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


@router.get("/account", response_class=HTMLResponse)
async def account() -> str:
    """Where Stripe's billing portal sends the member back (the portal's `return_url`)."""
    return _PAGE.format(
        title="Billing updated",
        text="Your payment details and invoices are managed at Stripe; you can close this page.",
    )


# The page posts the member's token to `POST /billing-portal/sessions` and follows its `url`.
_BILLING = """<form id='portal'><label>Your access token
<input name='token' required autocomplete='off' style='width:100%'></label>
<button>Open the billing portal</button></form><p id='said' role='status'></p>
<script>
document.getElementById('portal').addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = new FormData(e.target).get('token');
  const answer = await fetch('/billing-portal/sessions', {method: 'POST',
    headers: {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'},
    body: '{}'});
  const body = await answer.json();
  if (answer.ok) { window.location = body.url; }
  else { document.getElementById('said').textContent = body.error.message; }
});
</script>"""


@router.get("/account/billing", response_class=HTMLResponse)
async def billing(group_id: Id | None = None) -> str:
    """The mails' "manage your membership": opens Stripe's billing portal for the member (an
    app signs its members in; this page asks for the member's token instead)."""
    about = f" of {escape(group_id)}" if group_id else ""
    text = f"Change your card, see your invoices or end your membership{about} at Stripe."
    return _PAGE.format(title="Manage your membership", text=text).replace(
        "</body>", _BILLING + "</body>"
    )


@router.get("/groups/{group_id}", response_class=HTMLResponse)
async def group(
    ctx: ContextDep, group_id: Id, locale: str = Query("en_US", pattern=r"^[a-z]{2}(_[A-Z]{2})?$")
) -> str:
    """A group's page: its tiers on sale and what each costs (joining is the app's)."""
    async with ctx.sessions() as session:
        tiers = await catalog_repo.list_for_group(session, Tier, group_id, limit=100, offset=0)
    rows = "".join(
        f"<li>{escape(t.name)}: {escape(format_money(t.amount, t.currency, locale))}"
        f"{'' if t.interval == 'one_time_annual' else ' a ' + escape(t.interval)}</li>"
        for t in tiers
        if t.active
    )
    listing = f"<ul>{rows}</ul>" if rows else "<p>No tier is on sale.</p>"
    join = f"/tiers?group_id={quote(group_id)}"
    text = f"Join from the group's app. The tiers (also at <a href='{join}'>{join}</a>):"
    return _PAGE.format(title=f"Group {escape(group_id)}", text=text).replace(
        "</body>", listing + "</body>"
    )
