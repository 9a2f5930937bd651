"""Who a payment belongs to, read from the metadata checkout puts on Stripe's objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Attribution:
    """The group, tier, user and purchase a payment is for."""

    group_id: str | None = None
    user_id: str | None = None
    tier_id: str | None = None
    purpose: str | None = None
    reference: str | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> Attribution:
        """Read the contract's metadata keys; blank values count as absent."""
        return cls(**{f.name: metadata.get(f.name) or None for f in fields(cls)})

    def or_else(self, other: Attribution) -> Attribution:
        """This attribution, with the fields it lacks taken from `other`."""
        missing = {
            f.name: getattr(other, f.name) for f in fields(self) if not getattr(self, f.name)
        }
        return replace(self, **missing)

    @property
    def known(self) -> bool:
        """Whether the payment can be booked: its group is known."""
        return self.group_id is not None
