"""Runtime settings of the emulator, from the command line and the environment."""

import os
from dataclasses import dataclass

API_VERSION = "2026-07-29.dahlia"


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook endpoint registered at start-up with a known signing secret."""

    url: str
    secret: str


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for failed webhook deliveries: base * 2**attempt, capped."""

    base_seconds: float
    max_seconds: float
    max_attempts: int


PRODUCTION_LIKE_RETRY = RetryPolicy(base_seconds=1.0, max_seconds=60.0, max_attempts=10)
TEST_MODE_RETRY = RetryPolicy(base_seconds=0.05, max_seconds=0.5, max_attempts=8)


@dataclass(frozen=True)
class Settings:
    """Everything the app factory needs; build with `Settings.from_env()` or directly."""

    host: str = "127.0.0.1"
    port: int = 12111
    test_mode: bool = False
    public_url: str | None = None
    webhooks: tuple[WebhookTarget, ...] = ()
    retry: RetryPolicy | None = None
    delivery_timeout_seconds: float = 10.0
    api_version: str = API_VERSION
    fee_percent: float = 2.9
    fee_fixed: int = 30
    rate_limits: str = "off"
    """Stripe's rate limits enforced on `/v1`: `off`, `test` or `live` (see limits.RATES)."""

    @property
    def base_url(self) -> str:
        """Where the emulator is reached from outside (checkout and portal page links)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def retry_policy(self) -> RetryPolicy:
        if self.retry is not None:
            return self.retry
        return TEST_MODE_RETRY if self.test_mode else PRODUCTION_LIKE_RETRY

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        """Read STRIPE_EMULATOR_* and STRIPE_WEBHOOK_SECRET from the environment."""
        env = dict(os.environ if environ is None else environ)
        webhooks: tuple[WebhookTarget, ...] = ()
        url = env.get("STRIPE_EMULATOR_WEBHOOK_URL")
        secret = env.get("STRIPE_WEBHOOK_SECRET")
        if url and secret:
            webhooks = (WebhookTarget(url=url, secret=secret),)
        test_mode = _truthy(env.get("STRIPE_EMULATOR_TEST_MODE"))
        retry = None
        if any(name.startswith("STRIPE_EMULATOR_RETRY_") for name in env):
            default = TEST_MODE_RETRY if test_mode else PRODUCTION_LIKE_RETRY
            retry = RetryPolicy(
                base_seconds=float(
                    env.get("STRIPE_EMULATOR_RETRY_BASE_SECONDS", default.base_seconds)
                ),
                max_seconds=float(
                    env.get("STRIPE_EMULATOR_RETRY_MAX_SECONDS", default.max_seconds)
                ),
                max_attempts=int(
                    env.get("STRIPE_EMULATOR_RETRY_MAX_ATTEMPTS", default.max_attempts)
                ),
            )
        return cls(
            host=env.get("STRIPE_EMULATOR_HOST", "127.0.0.1"),
            port=int(env.get("STRIPE_EMULATOR_PORT", "12111")),
            test_mode=test_mode,
            public_url=env.get("STRIPE_EMULATOR_PUBLIC_URL") or None,
            webhooks=webhooks,
            retry=retry,
            rate_limits=env.get("STRIPE_EMULATOR_RATE_LIMITS", "off"),
        )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}
