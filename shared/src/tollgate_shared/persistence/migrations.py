"""Alembic for each service's own database: a shared env and a programmatic upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool, text

from tollgate_shared.infra.provide import create_database
from tollgate_shared.persistence.db import inbox_table, outbox_table

_MIGRATION_LOCK = 0x746F6C6C67617465
"""The advisory lock a migration holds in its database ("tollgate")."""


def alembic_config(script_location: Path, url: str) -> Config:
    """An Alembic config for a service's `migrations/` folder and database URL."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str, *, create: bool = True) -> None:
    """Bring the database at `url` to the newest revision (creating the database if needed)."""
    if create:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        server = parsed.set(drivername="postgresql", database="postgres")
        create_database(server.render_as_string(hide_password=False), str(parsed.database))
    command.upgrade(alembic_config(script_location, url), "head")


def run_env(target_metadata: MetaData) -> None:
    """The body of a service's `migrations/env.py` (online mode, psycopg 3 in sync mode)."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(str(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # Replicas started with `serve --migrate` at once: the others wait here, then find
            # the schema at the newest revision and have nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            context.run_migrations()
    engine.dispose()


def create_messaging_tables() -> None:
    """Inside a migration: create the inbox and outbox tables as `persistence.db` defines."""
    metadata = MetaData()
    for table in (inbox_table(metadata), outbox_table(metadata)):
        table.create(op.get_bind())


def drop_messaging_tables() -> None:
    """Inside a migration: drop the inbox and outbox tables."""
    op.drop_table("outbox")
    op.drop_table("inbox")


_MESSAGING_CONSTRAINTS = (
    ("inbox", "inbox_pkey", "pk_inbox"),
    ("outbox", "outbox_pkey", "pk_outbox"),
    ("outbox", "outbox_message_id_key", "uq_outbox_message_id"),
)
"""Each table, the name Postgres gave a constraint in the first revision (built without the
naming convention) and the name the services' metadata gives it."""


def name_messaging_constraints() -> None:
    """Inside a migration: rename the inbox and outbox constraints as the metadata names them."""
    for table, default, named in _MESSAGING_CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {default} TO {named}")


def unname_messaging_constraints() -> None:
    """Inside a migration: undo `name_messaging_constraints`."""
    for table, default, named in _MESSAGING_CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {named} TO {default}")
