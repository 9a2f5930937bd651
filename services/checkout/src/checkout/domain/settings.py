"""A group's settings: its display name, contact and the policies other services apply to it.

Set in one place (here) and announced whole, with a revision, as `GroupSettingsChanged`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from checkout.domain.errors import NotAllowed
from checkout.domain.events import event_id
from tollgate_shared.contracts.checkout import (
    GroupSettingsChanged,
    OneTimeSwitch,
    OrganizerMail,
    ProrationBehavior,
)

ADMIN_ONLY = frozenset({"payout_auto_approve_below"})
"""Settings only admins set: how much the ledger pays out without an admin's approval."""


@dataclass(frozen=True)
class GroupSettings:
    group_id: str
    name: str
    contact_email: str | None = None
    proration_behavior: ProrationBehavior = "create_prorations"
    one_time_switch: OneTimeSwitch = "period_end"
    payout_auto_approve_below: dict[str, int] = field(default_factory=dict)
    organizer_mail_opt_outs: list[OrganizerMail] = field(default_factory=list)
    sale_notice_digest: bool = False
    allow_pause: bool = False
    revision: int = 0
    """How many changes the settings have had (0: never set, the defaults)."""

    @classmethod
    def defaults(cls, group_id: str) -> GroupSettings:
        """A group nobody has set up yet: named by its id."""
        return cls(group_id=group_id, name=group_id)

    def with_changes(self, values: dict[str, Any], *, by_admin: bool) -> GroupSettings | None:
        """The settings with `values` applied and the revision after this one; None if they
        change nothing. Only admins change what is in `ADMIN_ONLY` (sending the value it has
        is no change)."""
        changes = {k: v for k, v in values.items() if getattr(self, k) != _normalized(k, v)}
        if not changes:
            return None
        if not by_admin and (refused := sorted(ADMIN_ONLY & changes.keys())):
            raise NotAllowed(f"only admins set {', '.join(refused)}", code="admin_only_setting")
        normalized = {k: _normalized(k, v) for k, v in changes.items()}
        return dataclasses.replace(self, **normalized, revision=self.revision + 1)

    def event(self) -> GroupSettingsChanged:
        """The settings as the event announcing this revision (one id per group and revision,
        so a retried write publishes it once)."""
        subject = f"{self.group_id}:{self.revision}"
        return GroupSettingsChanged(
            id=event_id(GroupSettingsChanged.declared_type(), subject), **dataclasses.asdict(self)
        )


def _normalized(name: str, value: Any) -> Any:
    """Opt-outs are a set (kept sorted); everything else as given."""
    if name == "organizer_mail_opt_outs":
        return sorted(set(value))
    return value
