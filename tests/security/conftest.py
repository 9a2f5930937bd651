"""Every service's app, built in-process against the test session's NATS, Postgres and Stripe
emulator (one migrated database per service), and the callers the security tests act as."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import checkout.config
import checkout.main
import ledger.config
import ledger.main
import membership.config
import membership.main
import notifications.config
import notifications.main
import webhook_gateway.config
import webhook_gateway.main
from tollgate_cli.stack import script
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.infra.settings import DEV_JWT_SECRET, ServiceSettings
from tollgate_shared.testing import unique
from tollgate_shared.web.auth import issue_token


@dataclass(frozen=True)
class ServiceApp:
    settings: type[ServiceSettings]
    create_app: Callable[[ServiceSettings], FastAPI]
    migrations: Path | None


SERVICES = {
    "webhook-gateway": ServiceApp(
        webhook_gateway.config.Settings, webhook_gateway.main.create_app, None
    ),
    "checkout": ServiceApp(
        checkout.config.Settings, checkout.main.create_app, checkout.main.MIGRATIONS
    ),
    "membership": ServiceApp(
        membership.config.Settings, membership.main.create_app, membership.main.MIGRATIONS
    ),
    "ledger": ServiceApp(ledger.config.Settings, ledger.main.create_app, ledger.main.MIGRATIONS),
    "notifications": ServiceApp(
        notifications.config.Settings, notifications.main.create_app, notifications.main.MIGRATIONS
    ),
}

AppFactory = Callable[..., FastAPI]


@pytest.fixture(scope="module")
def nats_url(isolated_nats_url: str) -> str:
    """These tests run every service's consumers: a NATS of their own keeps other suites'
    messages out of the services' durable consumers."""
    return isolated_nats_url


@pytest.fixture(scope="module")
def make_app(
    nats_url: str, migrated_database: Callable[[Path], str], stripe_emulator_url: str
) -> AppFactory:
    """`make_app(service, **settings)`: a new app of `service` (its database migrated once)."""
    databases: dict[str, str] = {}

    def make(service: str, **overrides: Any) -> FastAPI:
        spec = SERVICES[service]
        values: dict[str, Any] = {
            "service_name": service,
            "nats_url": nats_url,
            "stripe_api_base": stripe_emulator_url,
        }
        if spec.migrations is not None:
            if service not in databases:
                databases[service] = migrated_database(spec.migrations)
            values["service_database_url"] = databases[service]
        return spec.create_app(spec.settings(**(values | overrides)))

    return make


@dataclass(frozen=True)
class Caller:
    """One of the principals of the authorization matrix."""

    name: str
    sub: str | None
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def token(self) -> str | None:
        """Its bearer token (None for the anonymous caller)."""
        if self.sub is None:
            return None
        return issue_token(
            DEV_JWT_SECRET,
            sub=self.sub,
            email=f"{self.sub}@example.com",
            roles=list(self.roles),
            groups=list(self.groups),
        )

    def headers(self) -> dict[str, str]:
        """`Authorization: Bearer …`, or nothing for the anonymous caller."""
        token = self.token
        return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass(frozen=True)
class Cast:
    """The group and users a matrix run is about, and everyone who may call about them."""

    group_id: str
    user_id: str
    anonymous: Caller
    member: Caller
    other_member: Caller
    organizer_elsewhere: Caller
    organizer: Caller
    admin: Caller
    service: Caller

    @property
    def callers(self) -> list[Caller]:
        """Every caller, anonymous first."""
        return [
            self.anonymous,
            self.member,
            self.other_member,
            self.organizer_elsewhere,
            self.organizer,
            self.admin,
            self.service,
        ]


@pytest.fixture
def cast() -> Cast:
    group_id, user_id = unique("grp"), unique("member")
    return Cast(
        group_id=group_id,
        user_id=user_id,
        anonymous=Caller("anonymous", None),
        member=Caller("member", user_id),
        other_member=Caller("other member", unique("other")),
        organizer_elsewhere=Caller(
            "organizer of another group", unique("org"), ("organizer",), (unique("grp"),)
        ),
        organizer=Caller("organizer", unique("org"), ("organizer",), (group_id,)),
        admin=Caller("admin", unique("admin"), ("admin",)),
        service=Caller("service", unique("svc"), ("service",)),
    )


ISOLATED = ("NATS_URL", "DATABASE_URL", "STRIPE_API_BASE", "SMTP_URL", "PUBLIC_BASE_URL")
"""Variables of the caller's environment that would point processes at someone else's servers."""


@dataclass
class ServiceProcess:
    """A service running as its own process (`<service> serve`), as deployments run it."""

    name: str
    url: str
    process: ServerProcess

    @property
    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.process.log_path.read_text(errors="replace")


StartServices = Callable[[dict[str, str], Sequence[str]], list[ServiceProcess]]


@pytest.fixture
def start_services(
    nats_url: str, migrated_database: Callable[[Path], str], tmp_path: Path
) -> Iterator[StartServices]:
    """`start_services(env, names)`: the named services as processes with `env` on top of a
    clean environment (this module's NATS, a fresh migrated database each), once they answer
    `/readyz`; all stopped at the end."""
    started: list[ServiceProcess] = []

    def start(env: dict[str, str], names: Sequence[str]) -> list[ServiceProcess]:
        batch = []
        for name in names:
            base = {k: v for k, v in os.environ.items() if k not in ISOLATED}
            variables = base | {"NATS_URL": nats_url} | env
            migrations = SERVICES[name].migrations
            if migrations is not None:
                variable = name.upper().replace("-", "_") + "_DATABASE_URL"
                variables.setdefault(variable, migrated_database(migrations))
            port = free_port()
            program = script(name)
            assert program is not None, f"{name} is not installed"
            log_path = tmp_path / f"{name}-{port}.log"
            process = ServerProcess(
                name, [program, "serve", "--port", str(port)], log_path=log_path, env=variables
            )
            batch.append(ServiceProcess(name, f"http://127.0.0.1:{port}", process))
        started.extend(batch)
        for service in batch:
            _wait_ready(service)
        return batch

    yield start
    for service in started:
        service.process.stop()


def _wait_ready(service: ServiceProcess, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.proc.poll() is not None:
            raise RuntimeError(f"{service.name} exited:\n{service.process.log_tail(40)}")
        try:
            if httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{service.name} not ready:\n{service.process.log_tail(40)}")
