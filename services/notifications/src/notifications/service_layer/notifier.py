"""Turning an intent into recorded notifications, inside the caller's unit of work."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter

from notifications.adapters.templates import Renderer
from notifications.domain.groups import Group, entry_key, names
from notifications.domain.kinds import KINDS
from notifications.domain.model import (
    Audience,
    Intent,
    Kind,
    Rendered,
    Status,
    normalise_address,
)
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = structlog.get_logger(__name__)

SUPERSEDED = Counter(
    "tollgate_notifications_superseded_total",
    "Notifications not sent because what they say stopped being true first (a failed payment"
    " attempt superseded by a later one or by the payment, a trial already over), by kind",
    ["kind"],
)
UNADDRESSED = Counter(
    "tollgate_notifications_unaddressed_total",
    "Notifications not recorded because no address is known for their audience, by kind",
    ["kind"],
)
OPTED_OUT = Counter(
    "tollgate_notifications_opted_out_total",
    "Organizer notifications not recorded because their group opted out of them, by kind",
    ["kind"],
)


def superseded(uow: NotificationsUnitOfWork, kind: Kind, source_id: str, why: str) -> None:
    """Count (once committed) and log a notification not recorded because what it says is no
    longer true (the sender counts those recorded and superseded before they went out)."""
    uow.after_commit(SUPERSEDED.labels(kind.value).inc)
    log.info("notification.superseded", kind=kind, source_id=source_id, why=why)


def catalog_keys(context: Mapping[str, Any]) -> list[str]:
    """The tier and item a notification's context names, by `entry_key`."""
    tier_id, item_id = context.get("tier_id"), context.get("item_id")
    return [
        *([entry_key("tier", tier_id)] if tier_id else []),
        *([entry_key("item", item_id)] if item_id else []),
    ]


class Notifier:
    """Completes an intent with the Stripe details it names (keeping it until they are known),
    resolves recipients (none for a group that opted out of the kind), names the group, tier
    and item, renders once, records one row per recipient (duplicates ignored; a sale notice
    of a group that wants a digest held for it); keeps a notification of a kind that waits
    when its member's address is unknown."""

    def __init__(self, renderer: Renderer, *, mail_domain: str) -> None:
        self.renderer = renderer
        self.mail_domain = mail_domain

    async def notify(self, uow: NotificationsUnitOfWork, intent: Intent) -> int:
        """Record `intent`'s notifications (written before the commit); returns how many were
        queued. Never sends."""
        if intent.details_keys:
            found = await uow.details.found(intent.details_keys)
            if not found and intent.user_id:
                # Stripe's event of the same payment or subscription may still come, on the
                # other stream: kept until then, a bounded time (`waiting.Waits`).
                uow.notifications.wait(intent)
                log.info(
                    "notification.awaiting_details", kind=intent.kind, keys=intent.details_keys
                )
                return 0
            intent = intent.completed(found)
        if intent.stale_after is not None and intent.stale_after <= datetime.now(UTC):
            superseded(uow, intent.kind, intent.source_id, "stale")
            return 0
        spec = KINDS[intent.kind]
        group = await uow.directory.group(intent.group_id)
        if spec.audience is Audience.ORGANIZER:
            if group is not None and spec.opt_out in group.opt_outs:
                uow.after_commit(OPTED_OUT.labels(intent.kind.value).inc)
                log.info("notification.opted_out", kind=intent.kind, source_id=intent.source_id)
                return 0
            recipients = group.emails if group else []
        else:
            email = intent.email or await uow.directory.member_email(intent.user_id)
            recipients = [email] if email else []
        if not recipients and KINDS[intent.kind].waits and intent.user_id:
            # Its member's address may come with a later event (a purchase's, from checkout):
            # kept until then (`waiting.Waits`).
            uow.notifications.wait(intent)
            log.info("notification.awaiting_address", kind=intent.kind, source_id=intent.source_id)
            return 0
        if not recipients:
            # Expected (a member whose address no event has carried yet, a group without
            # organizer contacts), so counted and logged at info rather than warned per event.
            UNADDRESSED.labels(intent.kind.value).inc()
            log.info("notification.no_recipient", kind=intent.kind, source_id=intent.source_id)
            return 0
        context: dict[str, Any] = {
            **intent.context,
            **await self._named(uow, intent, spec.audience),
            "group_name": (group.name if group else None) or intent.group_id or "Tollgate",
        }
        try:
            rendered: Rendered | None = self.renderer.render(intent.kind, context)
        except Exception:
            # Recorded all the same: the sender renders it again at each attempt (a fixed
            # template deployed meanwhile sends it) and fails it with the reason at the last.
            log.exception(
                "notification.render_failed", kind=intent.kind, source_id=intent.source_id
            )
            rendered = None
        addresses = sorted({normalise_address(r) for r in recipients})
        return uow.notifications.record(
            intent,
            addresses,
            rendered,
            context=context,
            mail_domain=self.mail_domain,
            status=Status.DIGEST if _digested(spec.sale, group) else Status.PENDING,
        )

    @staticmethod
    async def _named(
        uow: NotificationsUnitOfWork, intent: Intent, audience: Audience
    ) -> dict[str, Any]:
        """The tier's and item's names (ids where checkout has not named them); for organizers,
        the member (their address, else their id)."""
        entries = await uow.directory.entries(catalog_keys(intent.context))
        values = names(intent.context, entries)
        if audience is Audience.ORGANIZER:
            email = intent.email or await uow.directory.member_email(intent.user_id)
            values["member"] = email or intent.user_id
        return values


def _digested(sale: str | None, group: Group | None) -> bool:
    """Whether a notification is held for its group's digest: a sale notice of a group that
    wants one."""
    return sale is not None and group is not None and group.digest
