"""Settings shared by every service, read from the environment names of DESIGN.md."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"  # noqa: S105 (refused in production)
DEV_WEBHOOK_SECRET = "whsec_dev_only_tollgate_webhook_secret"  # noqa: S105 (refused in production)
DEV_STRIPE_KEY = "sk_test_tollgate_dev"

Environment = Literal["development", "test", "production"]


def database_name(service: str) -> str:
    """The database a service owns on a shared server, e.g. `tollgate_membership`."""
    return "tollgate_" + service.replace("-", "_")


def async_url(url: str) -> str:
    """Turn a `postgresql://` URL into one for SQLAlchemy's async psycopg 3 driver."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


class ServiceSettings(BaseSettings):
    """Base settings; each service subclasses it and sets `service_name`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(default="tollgate", exclude=True)
    environment: Environment = "development"
    log_level: str = "INFO"
    log_json: bool = False

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    nats_url: str = "nats://127.0.0.1:14222"
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    """Replicas of the streams this service declares (3 on a production cluster)."""
    database_url: str | None = None
    service_database_url: str | None = Field(default=None, exclude=True)

    stripe_secret_key: str = DEV_STRIPE_KEY
    stripe_api_base: str | None = None
    stripe_webhook_secret: str = DEV_WEBHOOK_SECRET
    auth_jwt_secret: str = DEV_JWT_SECRET
    auth_jwks_url: str | None = None
    """When set, bearer tokens are verified with this JWKS (RS256/ES256), not the secret."""
    smtp_url: str = "smtp://127.0.0.1:1025"
    public_base_url: str = "http://127.0.0.1:8002"
    cors_allowed_origins: str = ""
    """Comma-separated origins browsers may call the API from; empty: no cross-origin access."""
    rate_limit_requests: int = Field(default=20, ge=0)
    """Requests one user may make to a rate-limited endpoint per window (0: no limit)."""
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)

    required_secrets: ClassVar[tuple[str, ...]] = (
        "auth_jwt_secret",
        "stripe_webhook_secret",
        "stripe_secret_key",
    )
    """The secrets this service uses; in production none may keep its development default."""

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        unsafe = [
            name.upper()
            for name in self.required_secrets
            if getattr(self, name) == type(self).model_fields[name].default
            and not (name == "auth_jwt_secret" and self.auth_jwks_url)
        ]
        if unsafe:
            raise ValueError(f"development defaults are not allowed in production: {unsafe}")
        return self

    @property
    def cors_origins(self) -> list[str]:
        """The origins of `CORS_ALLOWED_ORIGINS`, without trailing slashes."""
        return [o.strip().rstrip("/") for o in self.cors_allowed_origins.split(",") if o.strip()]

    @property
    def sqlalchemy_url(self) -> str:
        """This service's database: `<SERVICE>_DATABASE_URL`, else its own on `DATABASE_URL`."""
        if self.service_database_url:
            return async_url(self.service_database_url)
        if not self.database_url:
            raise RuntimeError(
                f"no database configured for {self.service_name}: set "
                f"{self.service_name.upper().replace('-', '_')}_DATABASE_URL or DATABASE_URL"
            )
        server = make_url(self.database_url)
        return async_url(
            server.set(database=database_name(self.service_name)).render_as_string(
                hide_password=False
            )
        )

    @classmethod
    def for_service(cls, service: str, **overrides: object) -> Self:
        """Build settings for `service`, honouring `<SERVICE>_DATABASE_URL`."""
        import os

        env_name = service.upper().replace("-", "_") + "_DATABASE_URL"
        values: dict[str, object] = {"service_name": service}
        if os.environ.get(env_name):
            values["service_database_url"] = os.environ[env_name]
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
