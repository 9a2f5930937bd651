"""The sender loop: lease due notifications, deliver each, record the outcome.

Guarantee: at least once, with duplicates identifiable. A notification is recorded (in the
consuming transaction) before anything is sent; a sender leases it (status `sending`, a
lease deadline, attempts + 1) and commits before talking SMTP, then records the outcome
(outcomes that arrive while others are being recorded are recorded together). If the process
dies after the server accepted the message but before the outcome commits, the lease lapses
and another attempt sends it again with the same Message-ID (derived from (kind, source,
recipient)), so mail clients and operators can tell it is the same message.
We prefer that rare duplicate to the alternative (at most once: mark first, risk a receipt
that never arrives). Nothing else resends: a message is only retried after a failure or a
lapsed lease, and the lease is far longer than an SMTP exchange's timeout. An outcome that
cannot be recorded because the database is unavailable is held in memory, and the sender
records what it holds before it leases anything again: however long the outage, it never
leases those notifications again (their leases may lapse meanwhile). Nor does another replica:
a sender takes over lapsed leases only once the database has answered it for `takeover_after`
seconds since it started or last found it unavailable, time enough for a replica that holds
outcomes to record them. So only a crash of the process while it holds outcomes resends them.

A notification whose `stale_after` has passed when it is due (a failed payment's retry already
due, a trial already over) is not leased but marked `superseded`, unsent.

Every failure of an attempt — rendering a notification recorded unrendered, composing its mail,
connecting, sending — is an outcome under the retry policy, so each notification ends `sent`
or `failed` (with the reason) after at most `max_attempts` attempts; one whose lease lapsed on
its last attempt ends `failed` when it is next due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog
from sqlalchemy import Row

from notifications.adapters.notifications_repo import Attempt
from notifications.adapters.smtp import Mail, build_mail
from notifications.adapters.templates import Renderer
from notifications.domain.delivery import DeliveryFailure, RetryPolicy, after_attempt
from notifications.domain.errors import Undeliverable
from notifications.domain.model import Kind, Rendered, Status
from notifications.service_layer.notifier import SUPERSEDED
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from tollgate_shared.contracts.notification import NotificationFailed, NotificationSent
from tollgate_shared.persistence.coalesce import Coalescer
from tollgate_shared.persistence.db import DATABASE_UNAVAILABLE, describe_unavailable

log = structlog.get_logger(__name__)
_LEVELS = {Status.SENT: logging.INFO, Status.FAILED: logging.ERROR}
"""How loud an attempt's outcome is logged (a retry is a warning)."""


class Mailer(Protocol):
    async def send(self, mail: Mail) -> DeliveryFailure | None: ...

    async def close_idle(self) -> None: ...


class Sender:
    def __init__(
        self,
        units: Callable[[], NotificationsUnitOfWork],
        mailer: Mailer,
        policy: RetryPolicy,
        *,
        renderer: Renderer,
        mail_from: str,
        batch_size: int,
        concurrency: int,
        lease: float,
        poll_interval: float,
        takeover_after: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._units = units
        self._mailer = mailer
        self._policy = policy
        self._renderer = renderer
        self._mail_from = mail_from
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._lease = lease
        self._poll_interval = poll_interval
        self._takeover_after = takeover_after
        self._clock = clock
        self._unavailable_at = clock()
        """When this sender started or last found the database unavailable."""
        self._outcomes: Coalescer[Attempt, bool] = Coalescer(self._record)
        self._held: list[Attempt] = []
        """Outcomes not recorded yet because the database was unavailable."""

    async def send_due(self) -> int:
        """Record the outcomes held since an outage, then lease one batch of due notifications
        and deliver them; returns the batch size. Those whose lease lapsed on their last
        attempt are failed instead (in the same transaction, with their `notification.failed`
        events). Raises, leasing nothing, while held outcomes cannot be recorded. Lapsed
        leases are taken over only `takeover_after` seconds after the database last failed
        this sender (see the module's docstring)."""
        try:
            await self._record_held()
            async with self._units() as uow:
                claimed = await uow.notifications.claim_due(
                    limit=self._batch_size,
                    lease=self._lease,
                    max_attempts=self._policy.max_attempts,
                    take_over=self._clock() - self._unavailable_at >= self._takeover_after,
                )
                given_up = [row for row in claimed if row.status == Status.FAILED]
                uow.emit(*(_event(row, row.last_error) for row in given_up))
                await uow.commit()
            for row in claimed:
                if row.status == Status.SUPERSEDED:  # its `stale_after` passed before it went
                    SUPERSEDED.labels(row.kind).inc()
                    log.info("notification.superseded", id=row.id, kind=row.kind, why="stale")
        except DATABASE_UNAVAILABLE:
            self._unavailable_at = self._clock()
            raise
        await asyncio.gather(
            *(self._deliver(row) for row in claimed if row.status == Status.SENDING)
        )
        return len(claimed)

    async def _deliver(self, row: Row[Any]) -> None:
        rendered = None
        try:
            if row.subject is None:  # its rendering failed when it was recorded
                rendered = self._renderer.render(Kind(row.kind), row.context)
            mail = build_mail(row, rendered or _stored(row), self._mail_from)
            async with self._slots:
                failure = await self._mailer.send(mail)
        except Undeliverable as exc:
            failure = DeliveryFailure(str(exc), permanent=True)
        except Exception as exc:  # a fault of this notification's: an attempt, not the batch's
            log.exception("notification.attempt_failed", id=row.id, kind=row.kind)
            failure = DeliveryFailure(f"{type(exc).__name__}: {exc}", permanent=False)
        outcome = after_attempt(failure, row.attempts, self._policy)
        attempt = Attempt(
            row, outcome.status, retry_in=outcome.retry_in, reason=outcome.reason, rendered=rendered
        )
        try:
            settled = await self._outcomes.get(attempt)
        except DATABASE_UNAVAILABLE:
            self._unavailable_at = self._clock()
            self._held.append(attempt)
            log.warning("notification.outcome_held", id=row.id, status=outcome.status)
            return
        _log_attempt(attempt, settled)

    async def _record_held(self) -> None:
        """Record the outcomes held since an outage; they stay held while the database is
        unavailable. Any other failure drops them: their leases lapse, and they are retried."""
        if not self._held:
            return
        held, self._held = self._held, []
        try:
            settled = await self._record(held)
        except DATABASE_UNAVAILABLE:
            self._held = held
            raise
        for attempt in held:
            _log_attempt(attempt, settled[attempt])

    async def _record(self, attempts: Sequence[Attempt]) -> dict[Attempt, bool]:
        """Record outcomes in one transaction: those that arrive while the previous ones are
        being recorded wait and go together (a group commit), so a busy sender commits once
        for several mails, and each outcome is still recorded as soon as the database allows."""
        async with self._units() as uow:
            settled = await uow.notifications.settle_many(attempts)
            await uow.notifications.store_rendered(
                {a.row.id: a.rendered for a in attempts if a.rendered and a.row.id in settled},
            )
            final = (Status.SENT, Status.FAILED)
            uow.emit(
                *(
                    _event(a.row, a.reason)
                    for a in attempts
                    if a.row.id in settled and a.status in final
                )
            )
            await uow.commit()
        return {a: a.row.id in settled for a in attempts}

    async def run(self) -> None:
        """Send until cancelled, polling when there is nothing due."""
        while True:
            try:
                if await self.send_due() == self._batch_size:
                    continue  # more are due, over the connections of this batch
            except DATABASE_UNAVAILABLE as exc:
                reason = describe_unavailable(exc)
                log.warning("sender.database_unavailable", error=reason, held=len(self._held))
            except Exception:
                log.exception("sender.failed")
            # Connections live while full batches follow each other: a quiet sender holds none.
            await self._mailer.close_idle()
            await asyncio.sleep(self._poll_interval)


def _log_attempt(attempt: Attempt, settled: bool) -> None:
    log.log(
        _LEVELS.get(attempt.status, logging.WARNING),
        "notification.attempted",
        id=attempt.row.id,
        kind=attempt.row.kind,
        attempt=attempt.row.attempts,
        status=attempt.status,
        reason=attempt.reason,
        settled=settled,
    )


def _stored(row: Row[Any]) -> Rendered:
    return Rendered(row.subject, row.text_body, row.html_body)


def _event(row: Row[Any], reason: str | None) -> NotificationSent | NotificationFailed:
    common = {
        "id": f"{row.id}-{row.resends}-{row.attempts}",
        "notification_id": row.id,
        "kind": row.kind,
        "recipient": row.recipient,
        "source_id": row.source_id,
        "user_id": row.user_id,
        "group_id": row.group_id,
        "message_id": row.message_id,
        "attempts": row.attempts,
        "causation_id": row.id,
    }
    if reason is None:
        return NotificationSent.model_validate(common)
    return NotificationFailed.model_validate({**common, "reason": reason})
