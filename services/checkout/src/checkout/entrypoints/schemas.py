"""Request and response bodies of checkout's HTTP API: checkouts, purchases, the billing portal
and invoices, and the field types every body shares (the catalog's: `catalog_schemas`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from checkout.adapters.payments import InvoicePage, MemberInvoice
from checkout.domain.checkout import CheckoutRequest
from tollgate_shared.web.validation import ShortId as Id
from tollgate_shared.web.validation import SingleLine, Text

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_lower=True)]
Amount = Annotated[int, Field(ge=1, le=99_999_999, description="minor units, e.g. cents")]
# Names may end up in mail headers: one line, no CR/LF or other control characters.
Name = Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)]
Reference = Annotated[Id, StringConstraints(max_length=200)]
Url = Annotated[Text, StringConstraints(max_length=2000)]
PromotionCode = Annotated[Text, StringConstraints(max_length=64)]
# Bounded so a tier's allowances fit one Stripe metadata value (`kind=amount,...`, ≤ 500 chars).
CreditKind = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,40}$")]
CreditAllowances = Annotated[
    dict[CreditKind, Annotated[int, Field(ge=0, le=1_000_000)]],
    Field(max_length=10, description='credits per billing cycle by kind, e.g. {"booking": 10}'),
]


class Body(BaseModel):
    """Request bodies reject unknown fields: a client never sends a price or an amount."""

    model_config = ConfigDict(extra="forbid")


class Patch(Body):
    """Partial updates: omitted fields stay; `null` is accepted only where a field may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        for name in self.model_fields_set - self.nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent."""
        return self.model_dump(include=self.model_fields_set)


class CheckoutIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"tier_id": "tier_8f2c", "promotion_code": "WELCOME10", "group_id": "g1"}]
        }
    )

    purpose: Literal["membership", "purchase"] = "membership"
    tier_id: Id | None = None
    item_id: Id | None = None
    reference: Reference | None = None
    promotion_code: PromotionCode | None = None
    success_url: Url | None = None
    cancel_url: Url | None = None
    group_id: Id | None = None
    """The group the app sells in: a tier or item of another group is refused (403)."""

    @model_validator(mode="after")
    def _target(self) -> Self:
        if self.purpose == "membership" and (not self.tier_id or self.item_id or self.reference):
            raise ValueError("a membership checkout takes a tier_id (and no item_id/reference)")
        if self.purpose == "purchase" and (not self.item_id or not self.reference or self.tier_id):
            raise ValueError("a purchase takes an item_id and a reference (and no tier_id)")
        return self

    def to_request(self) -> CheckoutRequest:
        """The domain command."""
        return CheckoutRequest(**self.model_dump())


class CheckoutOut(BaseModel):
    session_id: str
    url: str
    expires_at: datetime


class ClaimIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reference": "booking-42"}]})

    reference: Reference | None = None


class ClaimOut(BaseModel):
    session_id: str
    reference: str | None
    item_id: str | None
    amount: int | None
    currency: str | None
    claimed: bool


class SubscriptionIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tier_id": "tier_8f2c", "promotion_code": "WELCOME10"}]}
    )

    tier_id: Id
    promotion_code: PromotionCode | None = None
    group_id: Id | None = None
    """The group the app sells in: a tier of another group is refused (403)."""

    def to_request(self) -> CheckoutRequest:
        """The domain command: a subscription for the app's own card form."""
        return CheckoutRequest(purpose="membership", kind="subscription", **self.model_dump())


# Stripe.js confirms with the client secret and runs 3-D Secure itself (`requires_action`);
# the outcome reaches checkout through webhooks: nothing is granted on this answer.
class SubscriptionOut(BaseModel):
    subscription_id: str
    client_secret: str | None = Field(
        description="what Stripe.js confirms (`intent_type` says how): the first invoice's "
        "confirmation secret, or a trial's SetupIntent secret (`seti_…_secret_…`); null when "
        "nothing is due and no card is asked for (a coupon took the whole first invoice)"
    )
    intent_type: Literal["payment", "setup"] | None = Field(
        description="`payment`: `confirmPayment` (or `confirmCardPayment`) pays the first "
        "invoice; `setup`: `confirmSetup` (or `confirmCardSetup`) saves the card a trial's end "
        "is billed to; null with `client_secret: null`"
    )
    status: str = Field(
        description="Stripe's: `incomplete` until the first invoice is paid; `trialing` with a "
        "free trial (access at once, nothing due); `active` when nothing was due; later answers "
        "to the same key give the status then"
    )
    trial_end: datetime | None = Field(
        description="when the trial ends and the first period is billed to the saved card (a "
        "trial that ends without one is canceled); null without a trial"
    )


class PaymentIntentIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"item_id": "item_31aa", "reference": "booking-42"}]}
    )

    item_id: Id
    reference: Reference
    group_id: Id | None = None
    """The group the app sells in: an item of another group is refused (403)."""

    def to_request(self) -> CheckoutRequest:
        """The domain command: a PaymentIntent for the app's own card form."""
        return CheckoutRequest(purpose="purchase", kind="payment_intent", **self.model_dump())


class PaymentIntentOut(BaseModel):
    payment_intent_id: str
    client_secret: str
    amount: int
    currency: str
    status: str = Field(
        description="Stripe's: `requires_payment_method` when created; later answers to the "
        "same key give the status then (`requires_action` while 3-D Secure waits, `succeeded`)"
    )
    next_action: str | None = Field(
        description="the type of the intent's pending `next_action` (`use_stripe_sdk` or "
        "`redirect_to_url` for 3-D Secure), which Stripe.js handles with the client secret"
    )


class PortalIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"return_url": "http://127.0.0.1:8002/account"}]}
    )

    return_url: Url | None = None


class PortalOut(BaseModel):
    url: str


def _at(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


class InvoiceOut(BaseModel):
    id: str
    number: str | None = Field(description="null while the invoice is a draft")
    status: str | None = Field(description="Stripe's: `draft`, `open`, `paid`, `void`...")
    amount_due: int
    amount_paid: int
    currency: str | None
    created: datetime | None
    paid_at: datetime | None
    description: str | None = Field(
        description="the invoice's description, else what its lines bill"
    )
    hosted_invoice_url: str | None = Field(description="Stripe's page of the invoice")
    pdf_url: str | None = Field(description="Stripe's PDF of the invoice (null for a draft)")

    @classmethod
    def of(cls, invoice: MemberInvoice) -> InvoiceOut:
        """The member's view of a Stripe invoice."""
        return cls(
            id=invoice.id,
            number=invoice.number,
            status=invoice.status,
            amount_due=invoice.amount_due,
            amount_paid=invoice.amount_paid,
            currency=invoice.currency,
            created=_at(invoice.created),
            paid_at=_at(invoice.status_transitions.paid_at),
            description=invoice.summary,
            hosted_invoice_url=invoice.hosted_invoice_url,
            pdf_url=invoice.invoice_pdf,
        )


class InvoicesOut(BaseModel):
    items: list[InvoiceOut]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `starting_after` for the next page")

    @classmethod
    def of(cls, page: InvoicePage) -> InvoicesOut:
        """A page of the member's invoices, newest first."""
        return cls(
            items=[InvoiceOut.of(invoice) for invoice in page.invoices],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )
