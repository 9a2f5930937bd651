"""What every command handler works with: settings, units of work and Stripe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.adapters.stripe_gateway import StripeGateway
from checkout.config import Settings
from checkout.domain.errors import NotAllowed, PaymentsUnavailable
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.web.auth import Principal


@dataclass(frozen=True)
class Context:
    settings: Settings
    uow: Callable[[], CheckoutUnitOfWork]
    """A unit of work per transaction."""
    sessions: async_sessionmaker[AsyncSession]
    """Sessions for plain reads."""
    stripe: StripeGateway | None
    """None when Stripe is not configured: catalog changes wait, payment endpoints answer 503."""

    @property
    def payments(self) -> StripeGateway:
        """Stripe, or `PaymentsUnavailable` when it is not configured."""
        self.require_payments()
        assert self.stripe is not None
        return self.stripe

    def require_payments(self) -> None:
        """Raise `PaymentsUnavailable` (503) unless Stripe is configured."""
        if self.stripe is None:
            raise PaymentsUnavailable(
                "payments are not configured: set STRIPE_SECRET_KEY (or STRIPE_API_BASE for the "
                "emulator)",
                code="stripe_not_configured",
            )


def now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def ensure_manager(principal: Principal, group_id: str) -> None:
    """Only the group's organizers and admins change its catalog and coupons."""
    if not principal.can_manage(group_id):
        raise NotAllowed(f"you do not manage group {group_id}")
