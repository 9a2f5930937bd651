"""Checkout settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from tollgate_shared.infra.settings import DEV_STRIPE_KEY, ServiceSettings


class Settings(ServiceSettings):
    required_secrets = ("stripe_secret_key", "auth_jwt_secret")

    http_port: int = 8002

    checkout_success_url: str | None = None
    """Where Stripe sends the buyer after paying; default `PUBLIC_BASE_URL/checkout/success`."""
    checkout_cancel_url: str | None = None
    """Where Stripe sends the buyer who gives up; default `PUBLIC_BASE_URL/checkout/cancel`."""
    billing_portal_return_url: str | None = None
    """Where the billing portal links back to; default `PUBLIC_BASE_URL/account`."""
    checkout_allowed_origins: str = ""
    """Comma-separated origins a caller may choose redirect URLs on (besides PUBLIC_BASE_URL's)."""
    # Stripe requires at least 30 minutes, measured on its own clock: keep a margin.
    checkout_session_ttl_seconds: int = 31 * 60
    one_time_annual_term_days: int = 365

    @property
    def stripe_configured(self) -> bool:
        """Whether a real key or an emulator is configured (else payment endpoints answer 503)."""
        return bool(self.stripe_api_base) or self.stripe_secret_key != DEV_STRIPE_KEY

    @property
    def success_url(self) -> str:
        """The default success URL, with Stripe's session id placeholder."""
        return self.checkout_success_url or (
            f"{self.public_base_url}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"
        )

    @property
    def cancel_url(self) -> str:
        """The default cancel URL."""
        return self.checkout_cancel_url or f"{self.public_base_url}/checkout/cancel"

    @property
    def portal_return_url(self) -> str:
        """The default billing portal return URL."""
        return self.billing_portal_return_url or f"{self.public_base_url}/account"

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Origins (`scheme://host[:port]`) redirect URLs may point to."""
        configured = [o.strip().rstrip("/") for o in self.checkout_allowed_origins.split(",")]
        defaults = (self.public_base_url, self.success_url, self.cancel_url, self.portal_return_url)
        return frozenset(o for o in configured if o) | {origin_of(url) for url in defaults}


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def load_settings() -> Settings:
    """Settings from the environment (`CHECKOUT_DATABASE_URL` or `DATABASE_URL`)."""
    return Settings.for_service("checkout")
