"""Paused payment collection (`pause_collection`): the subscription stays `active` and renews,
its invoices are still made, but none is collected. `void` voids each, `mark_uncollectible`
marks it uncollectible, `keep_as_draft` leaves it a draft; collection resumes when it is
unset, or by itself once `resumes_at` has come."""

from typing import Any

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import invalid
from stripe_emulator.operations import invoices
from stripe_emulator.store import StripeObject
from stripe_emulator.wire import Params

BEHAVIORS = ("keep_as_draft", "mark_uncollectible", "void")


def requested(params: Params, now: int) -> dict[str, Any] | None:
    """The `pause_collection` an update asks for: `{behavior, resumes_at?}`, or None when it
    is sent empty (collection resumes)."""
    if params.data.get("pause_collection") == "":
        return None
    pause = params.sub("pause_collection")
    behavior = pause.choice("behavior", BEHAVIORS, required=True)
    resumes_at = pause.integer("resumes_at")
    if resumes_at is not None and resumes_at <= now:
        raise invalid(
            "pause_collection[resumes_at] must be in the future.",
            param="pause_collection[resumes_at]",
        )
    return {"behavior": behavior, "resumes_at": resumes_at}


def resume_due(emulator: Emulator, subscription: StripeObject) -> None:
    """Resume collection at a renewal its `resumes_at` has reached."""
    pause = subscription["pause_collection"]
    renews_at = subscription["items"]["data"][0]["current_period_end"]
    if pause and pause["resumes_at"] is not None and pause["resumes_at"] <= renews_at:
        subscription["pause_collection"] = None
        emulator.emit("customer.subscription.updated", subscription, {"pause_collection": pause})


def leave_uncollected(
    emulator: Emulator, invoice: StripeObject, customer: StripeObject, behavior: str
) -> None:
    """What a paused subscription's renewal invoice becomes instead of being charged."""
    if behavior == "keep_as_draft":
        invoice["auto_advance"] = False
        return
    invoices.finalize(emulator, invoice, customer)
    if behavior == "void":
        invoices.void(emulator, invoice)
        return
    invoice.update(status="uncollectible", next_payment_attempt=None)
    invoice["status_transitions"]["marked_uncollectible_at"] = emulator.now()
    emulator.emit("invoice.marked_uncollectible", invoice)
