"""Settings shared by every service, read from the environment names of DESIGN.md."""

from __future__ import annotations

from typing import ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"  # noqa: S105 (refused in production)
DEV_WEBHOOK_SECRET = "whsec_dev_only_tollgate_webhook_secret"  # noqa: S105 (refused in production)
DEV_STRIPE_KEY = "sk_test_tollgate_dev"

Environment = Literal["development", "test", "production"]


def describe_errors(error: ValidationError) -> str:
    """A settings error, one line per problem, without the values given (they may be secrets)."""
    return "\n".join(
        f"  {'.'.join(map(str, e['loc'])).upper() or 'settings'}: {e['msg']}"
        for e in error.errors(include_input=False, include_url=False)
    )


def database_name(service: str) -> str:
    """The database a service owns on a shared server, e.g. `tollgate_membership`."""
    return "tollgate_" + service.replace("-", "_")


def async_url(url: str, *, database: str | None = None) -> str:
    """Turn a `postgresql://` URL into one for SQLAlchemy's async psycopg 3 driver, on
    `database` if given (else the URL's own)."""
    from sqlalchemy.engine import make_url  # the persistence extra: only a service with a database

    parsed = make_url(url).set(drivername="postgresql+psycopg")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


class ServiceSettings(BaseSettings):
    """Base settings; each service subclasses it and sets `service_name`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(default="tollgate", exclude=True)
    environment: Environment = "development"
    log_level: str = "INFO"
    log_json: bool = False

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    """A request's headers must arrive within this from the connection's start or the
    request's first byte; a slower connection is closed."""
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    """A request's body must arrive within this from the end of its headers."""

    nats_url: str = "nats://127.0.0.1:14222"
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    """Replicas of the streams this service declares (3 on a production cluster)."""
    database_url: str | None = Field(default=None, repr=False)
    service_database_url: str | None = Field(default=None, exclude=True, repr=False)
    database_connect_timeout_seconds: int = Field(default=2, ge=2)
    """How long opening a database connection may take (libpq allows no less than 2 s)."""
    database_pool_timeout_seconds: float = Field(default=1.0, gt=0)
    """How long a request waits for a pooled database connection before answering 503."""
    database_statement_timeout_seconds: float = Field(default=30.0, ge=0)
    """Postgres cancels a statement that runs longer (0: never)."""

    stripe_secret_key: str = Field(default=DEV_STRIPE_KEY, repr=False)
    stripe_api_base: str | None = None
    stripe_webhook_secret: str = Field(default=DEV_WEBHOOK_SECRET, repr=False)
    stripe_rate_limit: float | None = Field(default=None, ge=0)
    """Stripe requests a second this account's services make together (0: unlimited). Unset:
    90 for a live key, 22 for a test key (Stripe allows 100 and 25), unlimited against a
    `STRIPE_API_BASE` other than Stripe's (the emulator answers at once)."""
    stripe_endpoint_rate_limit: float = Field(default=22.0, gt=0)
    """Requests a second to any one endpoint (Stripe allows most endpoints 25)."""
    stripe_background_share: float = Field(default=0.5, gt=0, le=1)
    """The part of the account's one-second burst background work may take; the rest is kept
    for requests a person waits on (checkout)."""
    auth_jwt_secret: str = Field(default=DEV_JWT_SECRET, repr=False)
    auth_jwks_url: str | None = None
    """When set, bearer tokens are verified with this JWKS (RS256/ES256) only, never the secret."""
    auth_audience: str | None = None
    """When set, a token's `aud` must name it."""
    auth_issuer: str | None = None
    """When set, a token's `iss` must be it."""
    auth_roles_claim: str = Field(default="roles", min_length=1)
    """The claim that lists a caller's roles (a dotted path reaches into nested claims)."""
    auth_groups_claim: str = Field(default="groups", min_length=1)
    """The claim that lists the groups a caller organizes (a dotted path, like the roles')."""
    smtp_url: str = Field(default="smtp://127.0.0.1:1025", repr=False)
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

    def secret_values(self) -> list[str]:
        """Every configured secret: API keys, signing secrets, and the passwords (or NATS
        tokens) in server URLs; logging masks them wherever they appear."""
        values = [
            self.stripe_secret_key,
            self.auth_jwt_secret,
            *self.stripe_webhook_secret.split(","),
        ]
        urls = [self.database_url, self.service_database_url, self.smtp_url]
        for url in [*urls, *self.nats_url.split(",")]:
            parts = urlsplit((url or "").strip())
            values.append(parts.password or "")
            if parts.scheme.startswith("nats") or parts.scheme == "tls":
                values.append(parts.username or "")
        return [value.strip() for value in values if value and value.strip()]

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
        return async_url(self.database_url, database=database_name(self.service_name))

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
