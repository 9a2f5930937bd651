"""Pick each part of the infrastructure in DESIGN.md's order and hand out its URL."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql

from tollgate_shared.infra.nats import start_nats
from tollgate_shared.infra.postgres import start_postgres
from tollgate_shared.infra.process import free_port

log = logging.getLogger(__name__)

Source = Literal["env", "docker", "embedded"]


@dataclass
class Infrastructure:
    """Where NATS and Postgres are, how each was obtained, and how to stop what we started."""

    nats_url: str
    database_url: str
    """A server URL (database `postgres`); each service gets its own database on it."""
    nats_source: Source
    postgres_source: Source
    var_dir: Path
    """Where embedded servers, logs and other local state of this run live."""
    _stops: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Stop what was started here (never servers that came from the environment)."""
        while self._stops:
            with contextlib.suppress(Exception):
                self._stops.pop()()


def docker_available() -> bool:
    """Whether a Docker engine answers (testcontainers needs one)."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def _docker_nats(infra_stops: list[Callable[[], None]]) -> str:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = DockerContainer("nats:2.11-alpine").with_command("-js").with_exposed_ports(4222)
    container.start()
    infra_stops.append(container.stop)
    wait_for_logs(container, "Server is ready")
    host = container.get_container_host_ip()
    return f"nats://{host}:{container.get_exposed_port(4222)}"


def _docker_postgres(infra_stops: list[Callable[[], None]]) -> str:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:17-alpine", driver=None)
    container.start()
    infra_stops.append(container.stop)
    return container.get_connection_url()


def provide(
    var_dir: Path,
    *,
    nats_port: int | None = None,
    postgres_port: int | None = None,
    use_env: bool = True,
    use_docker: bool | None = None,
) -> Infrastructure:
    """NATS and Postgres: from the environment, else Docker, else the embedded wheels.

    Ports default to free ones (tests); `make run` passes DESIGN.md's 14222 and 15432.
    `use_docker=None` means: use Docker if an engine answers.
    """
    stops: list[Callable[[], None]] = []
    docker = docker_available() if use_docker is None else use_docker
    try:
        nats_url = os.environ.get("NATS_URL") if use_env else None
        nats_source: Source = "env"
        if not nats_url:
            if docker:
                nats_url, nats_source = _docker_nats(stops), "docker"
            else:
                port = nats_port or free_port()
                server = start_nats(var_dir, port=port)
                stops.append(server.stop)
                nats_url, nats_source = f"nats://127.0.0.1:{port}", "embedded"
        database_url = os.environ.get("DATABASE_URL") if use_env else None
        postgres_source: Source = "env"
        if not database_url:
            if docker:
                database_url, postgres_source = _docker_postgres(stops), "docker"
            else:
                port = postgres_port or free_port()
                server = start_postgres(var_dir, port=port)
                stops.append(server.stop)
                database_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
                postgres_source = "embedded"
    except BaseException:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        raise
    log.info(
        "infrastructure: nats=%s (%s) postgres=%s (%s)",
        nats_url,
        nats_source,
        database_url,
        postgres_source,
    )
    return Infrastructure(nats_url, database_url, nats_source, postgres_source, var_dir, stops)


def create_database(server_url: str, name: str) -> None:
    """Create database `name` on the server if it does not exist yet (another process creating
    it at the same moment is fine: two replicas migrating at start)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            # A concurrent CREATE DATABASE fails on the catalog's unique index, not as a duplicate.
            raced = (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation)
            with contextlib.suppress(*raced):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, disconnecting its sessions."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
