"""Request and response bodies of membership's HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from membership.domain.credits import SpendOutcome
from membership.domain.model import Entitlement, Grant, MembershipKey
from tollgate_shared.web.validation import Id, Instant, SingleLine, Text


class MembershipOut(BaseModel):
    group_id: str
    tier_id: str | None
    status: str
    active: bool
    current_period_end: datetime | None
    cancel_at_period_end: bool
    source: str | None
    expires_at: datetime | None
    grace_until: datetime | None

    @classmethod
    def of(cls, entitlement: Entitlement) -> MembershipOut:
        access = entitlement.access
        return cls(
            group_id=entitlement.key.group_id,
            tier_id=entitlement.tier_id,
            status=entitlement.status,
            active=entitlement.active,
            current_period_end=access.period_end if access else None,
            cancel_at_period_end=access.cancel_at_period_end if access else False,
            source=access.source if access else None,
            expires_at=access.expires_at if access else None,
            grace_until=access.grace_until if access else None,
        )


class EntitlementsOut(BaseModel):
    user_id: str
    memberships: list[MembershipOut]


class GateOut(BaseModel):
    user_id: str
    group_id: str
    active: bool
    tier_id: str | None = None
    status: str = "none"
    expires_at: datetime | None = None
    source: str | None = None
    subscription_id: str | None = None
    grace_until: datetime | None = None
    cancel_at_period_end: bool = False
    credits: dict[str, int] = Field(default_factory=dict)
    """Credit balance per kind in the current billing cycle."""


class MemberOut(BaseModel):
    user_id: str
    email: str | None
    tier_id: str | None
    source: str | None
    status: str
    active: bool
    expires_at: datetime | None


class MembersPage(BaseModel):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""
    active_per_tier: dict[str, int]


DEFAULT_GRACE_MONTHS = 6
"""The legacy grace rule's months from the first sign-in, unless the request says."""
GraceMonths = Annotated[int, Field(ge=1, le=120)]


def _future(cutoff: datetime) -> None:
    if cutoff <= datetime.now(UTC):
        raise ValueError("the cut-off has passed: a grace period would end before it starts")


class GrantIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tier_id": "gold",
                    "expires_at": "2027-06-30T00:00:00Z",
                    "kind": "comp",
                    "reason": "speaker",
                }
            ]
        },
    )

    tier_id: Id
    expires_at: Instant
    """When it ends; with `grace_months`, the cut-off (in the future) no access outlasts."""
    kind: Literal["comp", "legacy"] = "comp"
    reason: Text | None = Field(default=None, max_length=500)
    email: SingleLine | None = Field(default=None, max_length=320)
    grace_months: GraceMonths | None = None
    """The legacy grace rule: access for this many months from the first sign-in."""

    @model_validator(mode="after")
    def _grace_rule(self) -> GrantIn:
        if self.grace_months is not None:
            if self.kind != "legacy":
                raise ValueError("grace_months applies to legacy grants only")
            _future(self.expires_at)
        return self


class GrantOut(BaseModel):
    user_id: str
    group_id: str
    tier_id: str | None
    kind: str
    expires_at: AwareDatetime
    revoked_at: datetime | None
    reason: str | None
    grace_months: int | None
    first_seen_at: datetime | None
    ends_at: AwareDatetime
    """When access ends: `expires_at`, or under the grace rule the months from the first
    sign-in capped at `expires_at` (the cut-off until the first sign-in)."""

    @classmethod
    def of(cls, grant: Grant) -> GrantOut:
        return cls(
            user_id=grant.user_id,
            group_id=grant.group_id,
            tier_id=grant.tier_id,
            kind=grant.kind,
            expires_at=grant.expires_at,
            revoked_at=grant.revoked_at,
            reason=grant.reason,
            grace_months=grant.grace_months,
            first_seen_at=grant.first_seen_at,
            ends_at=grant.ends_at,
        )


class LegacyMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    email: SingleLine | None = Field(default=None, max_length=320)
    member_since: Instant | None = None


class BulkGrantIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tier_id": "legacy",
                    "members": [{"user_id": "u_1", "email": "ann@example.com"}],
                    "cap": 500,
                    "cutoff": "2027-06-30T00:00:00Z",
                    "months": 6,
                }
            ]
        },
    )

    tier_id: Id
    members: list[LegacyMemberIn] = Field(min_length=1, max_length=5000)
    cap: int = Field(ge=1, le=5000)
    """At most this many members are granted (the longest-standing first)."""
    reason: Text | None = Field(default=None, max_length=500)
    expires_at: Instant | None = None
    """A fixed end for every member; without it the grace rule applies (`months`, `cutoff`)."""
    cutoff: Instant | None = None
    """Under the grace rule (no `expires_at`): the date no access outlasts, in the future.
    With `expires_at`: only members who joined on or before it are granted."""
    months: GraceMonths | None = None
    """Under the grace rule: access for this many months from each member's first sign-in
    (6 by default)."""

    @model_validator(mode="after")
    def _one_rule(self) -> BulkGrantIn:
        if self.expires_at is not None:
            if self.months is not None:
                raise ValueError("months (the grace rule) and expires_at exclude each other")
            return self
        if self.cutoff is None:
            raise ValueError("the grace rule needs a cutoff (or give expires_at)")
        _future(self.cutoff)
        return self

    @property
    def grace_months(self) -> int | None:
        """The grace rule's months, None for a fixed expiry."""
        if self.expires_at is not None:
            return None
        return self.months or DEFAULT_GRACE_MONTHS


class BulkGrantOut(BaseModel):
    granted: list[str]
    skipped: dict[str, str]


class SpendIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 1, "reference": "booking-42"}]}
    )

    amount: int = Field(ge=1, le=1_000_000)
    reference: Id
    """The app's id of what the credits pay for (e.g. a booking)."""


class SpendOut(BaseModel):
    user_id: str
    group_id: str
    kind: str
    amount: int
    reference: str
    balance: int
    spent_at: datetime

    @classmethod
    def of(cls, key: MembershipKey, outcome: SpendOutcome) -> SpendOut:
        return cls(
            user_id=key.user_id,
            group_id=key.group_id,
            kind=outcome.request.kind,
            amount=outcome.request.amount,
            reference=outcome.request.reference,
            balance=outcome.balance,
            spent_at=outcome.at,
        )


class CreditEntryOut(BaseModel):
    id: int
    kind: str
    type: Literal["allocated", "expired", "spent"]
    delta: int
    balance_after: int
    cause: str
    """The invoice or Checkout Session of an allocation or expiry; the reference of a spend."""
    created_at: datetime


class CreditHistoryPage(BaseModel):
    items: list[CreditEntryOut]
    next_cursor: str | None
    """Pass as `cursor` for the next (older) page; null on the last page."""
