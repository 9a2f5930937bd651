"""Notifications' composition root."""

from __future__ import annotations

from datetime import timedelta

from notifications.adapters import orm
from notifications.adapters.smtp import SmtpMailer, SmtpTarget
from notifications.adapters.templates import Renderer
from notifications.config import Settings
from notifications.domain.delivery import RetryPolicy
from notifications.domain.digests import Periods
from notifications.domain.links import Links
from notifications.entrypoints import consumers
from notifications.entrypoints.errors import STATUS
from notifications.entrypoints.http import router
from notifications.service_layer import Deps
from notifications.service_layer.digests import SaleDigests
from notifications.service_layer.handlers import Handlers
from notifications.service_layer.notifier import Notifier
from notifications.service_layer.reminders import ReminderJob
from notifications.service_layer.sender import Sender
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from notifications.service_layer.waiting import Waits
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.service import Service


def build(settings: Settings) -> Service[Settings, Deps]:
    """Database, broker, DOMAIN and STRIPE consumers, outbox relay, sender, the reminder job,
    the job taking on notifications that waited for Stripe's details or an address, the sale
    digest job, and the HTTP API."""
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox)
    units = runtime.units(NotificationsUnitOfWork)
    renderer = Renderer(settings.mail_locale)
    links = Links(settings.public_base_url, settings.billing_portal_path)
    notifier = Notifier(renderer, mail_domain=settings.mail_domain)
    deps = Deps(
        settings=settings,
        uow=units,
        handlers=Handlers(notifier, links),
        renderer=renderer,
        links=links,
    )
    consumers.register(
        runtime, deps, durable=settings.notifications_consumer, ack_wait=settings.consumer_ack_wait
    )
    sender = Sender(
        units,
        SmtpMailer(SmtpTarget.from_url(settings.smtp_url), timeout=settings.mail_timeout),
        RetryPolicy(settings.mail_retry_backoff, settings.mail_max_attempts),
        renderer=renderer,
        mail_from=settings.mail_from,
        batch_size=settings.mail_batch_size,
        concurrency=settings.mail_concurrency,
        lease=settings.mail_lease_seconds,
        poll_interval=settings.mail_poll_interval,
        takeover_after=settings.mail_takeover_delay_seconds,
    )
    reminders = ReminderJob(
        units,
        notifier,
        links,
        days_before=settings.renewal_reminder_days,
        interval=settings.renewal_check_interval,
    )
    waits = Waits(
        units,
        notifier,
        interval=settings.mail_poll_interval,
        keep=timedelta(days=settings.mail_address_wait_days),
        details_wait=timedelta(seconds=settings.mail_details_wait_seconds),
    )
    digests = SaleDigests(
        units,
        notifier,
        links,
        periods=Periods(settings.sale_digest_period_seconds, settings.sale_digest_offset_seconds),
        interval=settings.sale_digest_check_interval,
    )
    return Service(
        settings=settings,
        runtime=runtime,
        deps=deps,
        title="Tollgate notifications",
        description="Receipts and payment alerts by email, exactly once per fact.",
        error_status=STATUS,
        routers=[router],
        loops=[sender.run, reminders.run, waits.run, digests.run],
    )
