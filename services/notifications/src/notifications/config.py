"""Notifications settings (environment variables of the same names, upper-case)."""

from __future__ import annotations

from email.utils import parseaddr

from tollgate_shared.infra.settings import ServiceSettings


class Settings(ServiceSettings):
    required_secrets = ("auth_jwt_secret", "smtp_url")

    http_port: int = 8005
    notifications_consumer: str = "notifications"
    """Durable consumer name on the DOMAIN and STRIPE streams."""
    consumer_ack_wait: float = 30.0
    """Seconds before JetStream redelivers a message a crashed instance took."""
    mail_from: str = "Tollgate <no-reply@tollgate.local>"
    mail_locale: str = "en_US"
    mail_retry_backoff: tuple[float, ...] = (10.0, 60.0, 300.0, 1800.0, 3600.0)
    """Seconds before attempt 2, 3, ...; the last one repeats."""
    mail_max_attempts: int = 12
    mail_lease_seconds: float = 300.0
    """How long a claimed notification stays with one sender; far above an SMTP exchange."""
    mail_takeover_delay_seconds: float = 30.0
    """How long the database must have answered a sender, since it started or last failed it,
    before the sender takes over lapsed leases: time for a replica that holds outcomes from an
    outage to record them."""
    mail_timeout: float = 30.0
    mail_poll_interval: float = 1.0
    mail_batch_size: int = 50
    mail_concurrency: int = 5
    renewal_reminder_days: int = 14
    renewal_check_interval: float = 3600.0
    mail_address_wait_days: float = 7.0
    """How long a receipt waits for its member's address when no event has carried it yet."""
    mail_details_wait_seconds: float = 120.0
    """How long a notification waits for the Stripe event that completes it (a receipt for its
    charge's or invoice's: when the payment was made; a cancellation for the subscription's:
    why) before it goes out with what is known."""
    billing_portal_path: str = "/account/billing"
    sale_digest_period_seconds: float = 86400.0
    """How long a sale digest's period is: a day by default."""
    sale_digest_offset_seconds: float = 0.0
    """When periods start, in seconds after the epoch's: with a day's period, the time of day
    (UTC) digests go out, e.g. 21600 for 06:00."""
    sale_digest_check_interval: float = 60.0
    """Seconds between two looks for ended periods: a digest goes out this long after its
    period ends at most."""

    @property
    def mail_domain(self) -> str:
        """The domain of Message-IDs: the sender address's."""
        return parseaddr(self.mail_from)[1].rpartition("@")[2] or "tollgate.local"


def load_settings() -> Settings:
    """Settings from the environment (`NOTIFICATIONS_DATABASE_URL` or `DATABASE_URL`)."""
    return Settings.for_service("notifications")
