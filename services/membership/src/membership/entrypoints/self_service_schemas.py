"""Request and response bodies of members' self-service: their memberships, cancelling,
resuming, switching tier and pausing payment collection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from membership.adapters.billing import Switched
from membership.domain.self_service import MembershipView, PauseBehavior, SwitchPlan
from membership.entrypoints.schemas import MembershipOut
from tollgate_shared.web.validation import Id, Instant


class PriceOut(BaseModel):
    price_id: str | None
    amount: int | None
    """In the currency's smallest unit (cents; yen for JPY)."""
    currency: str | None
    interval: str | None


class PauseOut(BaseModel):
    behavior: str
    """What the invoices made while paused become: `void`, `mark_uncollectible`, `keep_as_draft`."""
    resumes_at: datetime | None
    """When collection resumes by itself (null: when resumed)."""


class MemberMembershipOut(MembershipOut):
    """One group's membership as the member manages it."""

    subscription_id: str | None
    renews: bool
    """Whether the subscription bills again at `current_period_end`."""
    renews_at: datetime | None
    price: PriceOut | None
    """What each renewal costs (subscriptions only)."""
    pause_collection: PauseOut | None
    """Payment collection paused, if so; a member's pause (`void`) keeps access until
    `paid_through`, the end of what was paid."""
    paid_through: datetime | None
    credits: dict[str, int]
    actions: list[str]
    """What can be asked next: `cancel_at_period_end`, `resume`, `switch`, `pause` (where the
    group allows it), `cancel_now` (organizers and admins), `join`."""

    @classmethod
    def of(cls, view: MembershipView) -> MemberMembershipOut:  # type: ignore[override]
        s = view.subscription
        price = (
            PriceOut(
                price_id=s.price_id, amount=s.unit_amount, currency=s.currency, interval=s.interval
            )
            if s and s.price_id
            else None
        )
        pause = (
            PauseOut(behavior=s.pause_behavior, resumes_at=s.pause_resumes_at)
            if s and s.pause_behavior
            else None
        )
        return cls(
            **MembershipOut.of(view.entitlement).model_dump(),
            subscription_id=s.id if s else None,
            renews=view.renews,
            renews_at=s.period_end if s and view.renews else None,
            price=price,
            pause_collection=pause,
            paid_through=s.paid_through if s else None,
            credits=view.credits,
            actions=list(view.actions),
        )


class MemberMembershipsOut(BaseModel):
    user_id: str
    memberships: list[MemberMembershipOut]


class CancelIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"at_period_end": False, "refund": "prorated"}]},
    )

    at_period_end: bool = True
    """False ends it now (the group's organizers and admins only)."""
    refund: Literal["none", "prorated"] = "none"
    """With `at_period_end: false`, `prorated` refunds the unused part of the last payment."""

    @model_validator(mode="after")
    def _refund_only_now(self) -> CancelIn:
        if self.at_period_end and self.refund != "none":
            raise ValueError("a refund comes only with ending the membership now")
        return self


class RefundOut(BaseModel):
    refund_id: str
    amount: int
    currency: str


class CancelOut(MemberMembershipOut):
    refund: RefundOut | None = None


class SwitchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"tier_id": "platinum"}]}
    )

    tier_id: Id


class SwitchOut(MemberMembershipOut):
    switch_status: Literal["switched", "requires_payment", "unchanged"]
    """`requires_payment`: the switch waits until the member confirms its invoice's payment
    (3-D Secure, or another card) with `client_secret`; the membership shows the current tier
    until then."""
    client_secret: str | None = None
    """The invoice's PaymentIntent secret, for Stripe.js (`confirmCardPayment`)."""
    invoice_id: str | None = None

    @classmethod
    def of(  # type: ignore[override]
        cls, view: MembershipView, switched: Switched | None
    ) -> SwitchOut:
        waiting = switched is not None and switched.client_secret is not None
        status = "unchanged" if switched is None else "requires_payment" if waiting else "switched"
        return cls(
            **MemberMembershipOut.of(view).model_dump(),
            switch_status=status,
            client_secret=switched.client_secret if switched else None,
            invoice_id=switched.invoice_id if switched and waiting else None,
        )


class SwitchLineOut(BaseModel):
    description: str | None
    amount: int


class SwitchPreviewOut(BaseModel):
    """What a switch to `tier_id` costs, in the currency's smallest unit."""

    tier_id: str
    price_id: str
    currency: str
    proration_behavior: str
    due_now: int
    """Charged at once (with `always_invoice`; otherwise 0)."""
    next_amount: int
    """The next renewal's invoice (with `create_prorations`, the prorations included)."""
    next_at: datetime | None
    lines: list[SwitchLineOut]

    @classmethod
    def of(cls, plan: SwitchPlan) -> SwitchPreviewOut:
        return cls(
            tier_id=plan.tier_id,
            price_id=plan.price_id,
            currency=plan.currency,
            proration_behavior=plan.behavior,
            due_now=plan.due_now,
            next_amount=plan.next_amount,
            next_at=plan.next_at,
            lines=[SwitchLineOut(description=d, amount=a) for d, a in plan.lines],
        )


class PauseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"behavior": "void", "resumes_at": "2027-03-01T00:00:00Z"}]
        },
    )

    behavior: PauseBehavior = "void"
    """`void` (the default, and the only one for members): renewals while paused are not
    charged and access ends when the paid period does. `mark_uncollectible`/`keep_as_draft`
    (organizers and admins): a grace, access goes on while nothing is collected."""
    resumes_at: Instant | None = None
    """When collection resumes by itself (in the future); null: until resumed."""

    @model_validator(mode="after")
    def _resumes_later(self) -> PauseIn:
        if self.resumes_at is not None and self.resumes_at <= datetime.now(UTC):
            raise ValueError("resumes_at must be in the future")
        return self
