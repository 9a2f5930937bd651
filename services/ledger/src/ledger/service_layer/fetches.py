"""Before the handlers of a fetch (or of a message applied alone): the locks and reads they
would otherwise take one by one.

Fetches applied side by side may hold events about the same payment, and a handler locks rows
as it goes: `invoice.paid` its invoice, then the payment of its charge; `charge.succeeded` the
payment. With `charge.succeeded` and `invoice.paid` in one fetch and `invoice.payment_succeeded`
of the same invoice in the next, the first held the payment and waited for the invoice while
the second held the invoice and waited for the payment: a deadlock, after which the whole fetch
was applied again one message at a time. So every transaction first locks the Stripe objects
its events name, in one statement and one global order, and holds them until it commits: two
fetches about the same objects run one after the other instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from ledger.service_layer.joins import CHECKOUT, INTENT, INVOICE, LINK
from ledger.service_layer.payments import EARLY, WAITING
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import Ref

PART_TYPES = {
    "charge.succeeded",
    "charge.refunded",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice_payment.paid",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
}
"""Events whose handlers read the parts of a payment kept under the objects they name."""
PART_KINDS = (WAITING, LINK, CHECKOUT, INTENT, INVOICE)
PARTNERED_KINDS = (LINK, EARLY)
"""Parts read by what they name: an invoice's payment, the events kept for a charge (read for
the names the fetch has locked: a charge's events are kept under its lock)."""


class _Paid(BaseModel):
    """What paid an invoice, as an invoice payment names it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    payment_intent: Ref = None
    charge: Ref = None


class _Named(BaseModel):
    """The ids a Stripe object names that the ledger's rows hang on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | None = None
    customer: Ref = None
    payment_intent: Ref = None
    charge: Ref = None
    invoice: Ref = None
    payment: _Paid | None = None

    def names(self) -> Iterator[str]:
        """The object, and its customer, payment intent, charge and invoice where it names
        them (an invoice payment: what paid it).

        Two events whose handlers write the same row name one object in common: a payment's
        rows and parts are written for its charge's events (the charge, its payment intent and
        customer), its invoice's (the invoice and customer: an invoice's charge is its
        customer's), its invoice payment's (the invoice and payment intent), its checkout's
        (the payment intent), its payment intent's (the intent), and its refunds', disputes'
        and risk items' (the charge); an invoice's, refund's, dispute's, transfer's or
        payout's rows for its own events (the object)."""
        paid = self.payment or _Paid()
        for name in (
            self.id,
            self.customer,
            self.payment_intent,
            self.charge,
            self.invoice,
            paid.payment_intent,
            paid.charge,
        ):
            if name:
                yield name


async def prepare(uow: LedgerUnitOfWork, events: Sequence[StripeEvent]) -> None:
    """Lock every Stripe object the events name (see `_Named.names`), then read the parts kept
    under what the payment events name, the parts naming what the fetch names, and the payments
    booked under those names or for the charges it may book, each in one statement (what cannot
    be read is left to its handler to reject)."""
    names: set[str] = set()
    keys: set[str] = set()
    for event in events:
        try:
            named = _Named.model_validate(event.data.object)
        except ValidationError:
            continue
        names.update(named.names())
        if event.type in PART_TYPES:
            keys.update(named.names())
    await uow.lock(*names)
    charges: set[str] = set()
    if keys:
        found = await uow.parts.read_ahead(PART_KINDS, keys)
        charges = {part.partner for part in found if part.kind == WAITING and part.partner}
        await uow.parts.read_partnered(PARTNERED_KINDS, names)
    if names:
        # The charges of payments the fetch may book are not locked yet: only a booking
        # inserts a payment, and two bookings of one payment share a name locked here.
        await uow.books.read_ahead(names | charges)
