"""What checkout announces of a group: its name (the console shows it) and its payout
auto-approval thresholds (scheduled payouts below them need no admin)."""

from __future__ import annotations

import structlog

from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.checkout import GroupSettingsChanged

log = structlog.get_logger(__name__)


async def on_group_settings_changed(uow: LedgerUnitOfWork, event: GroupSettingsChanged) -> None:
    """`checkout.group.settings_changed`: kept unless a revision as high is kept already."""
    kept = await uow.groups.apply(
        group_id=event.group_id,
        name=event.name,
        thresholds={c.lower(): amount for c, amount in event.payout_auto_approve_below.items()},
        revision=event.revision,
    )
    if not kept:
        log.info("group_settings.stale", group_id=event.group_id, revision=event.revision)
