"""Groups and what they sell, as mails name and address them (pure).

Checkout owns a group's display name, contact address and organizer mail choices, and each
tier's and item's name and price; it announces each change with a revision per group or entry
(`checkout.group.settings_changed`, `checkout.catalog.entry_changed`), and the service keeps
the highest revision it has seen. Groups checkout has not announced yet keep what was set
through this service's own contacts API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

EntryKind = Literal["tier", "item"]


@dataclass(frozen=True)
class Group:
    """A group as organizer mails see it."""

    group_id: str
    name: str | None
    emails: list[str]
    """Where its organizer mails go: checkout's contact address, else the contacts set here."""
    opt_outs: frozenset[str] = field(default_factory=frozenset)
    """Organizer mails it does not want (`sale_notice`, `payout`)."""
    digest: bool = False
    """One daily digest of its sales instead of a mail per sale."""

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Group:
        """From a row of checkout's settings (`settings_*`, may be null) beside the contacts
        set through the API (`contacts_*`, may be null): the settings win where they say."""
        contact = row["contact_email"]
        return cls(
            group_id=row["group_id"],
            name=row["settings_name"] or row["contacts_name"],
            emails=[contact] if contact else list(row["contacts_emails"] or []),
            opt_outs=frozenset(row["opt_outs"] or ()),
            digest=bool(row["digest"]),
        )


@dataclass(frozen=True)
class CatalogEntry:
    """A tier or an item: its name and base price."""

    name: str
    amount: int
    currency: str
    interval: str | None = None


def entry_key(kind: EntryKind, entry_id: str) -> str:
    """How a tier or item is looked up (ids of tiers and items are told apart by kind)."""
    return f"{kind}:{entry_id}"


def names(context: Mapping[str, Any], entries: Mapping[str, CatalogEntry | None]) -> dict[str, Any]:
    """What a mail about `context` names its tier and item by: their names where known (from
    `entries`, by `entry_key`), else their ids; and the tier's price, for a sale whose amount
    is not known (`price`, in the tier's currency)."""
    tier_id, item_id = context.get("tier_id"), context.get("item_id")
    tier = entries.get(entry_key("tier", tier_id)) if tier_id else None
    item = entries.get(entry_key("item", item_id)) if item_id else None
    values: dict[str, Any] = {
        "tier_name": tier.name if tier else tier_id,
        "item_name": item.name if item else item_id,
    }
    if "amount" in context and context.get("amount") is None:
        priced = tier or item
        values["price"] = priced.amount if priced else None
        values["price_currency"] = priced.currency if priced else None
    return values
