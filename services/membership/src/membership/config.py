"""Membership settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from membership.domain.model import GroupPolicy
from tollgate_shared.contracts.checkout import OneTimeSwitch, ProrationBehavior
from tollgate_shared.infra.settings import ServiceSettings


class Settings(ServiceSettings):
    required_secrets = ("stripe_secret_key", "auth_jwt_secret")

    http_port: int = 8003
    membership_consumer: str = "membership"
    """Durable consumer name on the STRIPE stream (also the service part of its DLQ subjects)."""
    membership_domain_consumer: str = "membership"
    """Durable consumer name on the DOMAIN stream (groups' settings from checkout)."""
    membership_grace_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    """How long a past_due subscription keeps access (from the first failed renewal we saw)."""
    membership_default_term_days: int = Field(default=365, ge=1)
    """Term of a one-time membership whose metadata has no `term_days`."""
    membership_one_time_reversal: Literal["end", "keep"] = "end"
    """What a full refund or a lost dispute does to a one-time term: take it back, or keep it."""
    membership_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    """How often memberships that ran out by time are announced as ended."""
    membership_annual_switch: OneTimeSwitch = "period_end"
    """A one-time term bought while a subscription runs, for a group whose settings do not
    say: the subscription ends at its period end and the term starts then, or it ends now
    with its unused part refunded."""
    membership_proration_behavior: ProrationBehavior = "create_prorations"
    """How a tier switch bills the rest of the period, for a group whose settings do not say:
    prorations on the next invoice, an invoice now (`always_invoice`), or none."""

    def policy(self, announced: GroupPolicy | None) -> GroupPolicy:
        """A group's policy: as its settings say, else these defaults."""
        return announced or GroupPolicy(
            self.membership_proration_behavior, self.membership_annual_switch
        )

    @property
    def grace(self) -> timedelta:
        """The past_due grace period."""
        return timedelta(seconds=self.membership_grace_seconds)


def load_settings() -> Settings:
    """Settings from the environment (`MEMBERSHIP_DATABASE_URL` or `DATABASE_URL`)."""
    return Settings.for_service("membership")
