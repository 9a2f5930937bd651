"""Replicas started with `serve --migrate` at the same moment migrate one database together."""

import asyncio
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tollgate_shared.infra.provide import drop_database
from tollgate_shared.testing import unique

ENV = """
from sqlalchemy import MetaData
from tollgate_shared.persistence.migrations import run_env

run_env(MetaData())
"""
# Slow enough that the two processes are inside their migrations at the same time.
FIRST = """
from alembic import op
from tollgate_shared.persistence.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT pg_sleep(1)")
    create_messaging_tables()
"""


async def test_two_processes_create_and_migrate_a_new_database_at_once(
    database_server_url: str, tmp_path: Path
) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "versions" / "0001_first.py").write_text(FIRST)
    name = unique("migrate")
    url = make_url(database_server_url).set(database=name).render_as_string(hide_password=False)
    command = (
        "import sys; from tollgate_shared.persistence.migrations import upgrade;"
        " upgrade(*sys.argv[1:])"
    )
    argv = [sys.executable, "-c", command, str(tmp_path), url]
    try:
        ran = await asyncio.gather(
            *(asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True) for _ in "ab")
        )
        assert [r.returncode for r in ran] == [0, 0], [r.stderr[-2000:] for r in ran]
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {"alembic_version", "inbox", "outbox"}
            assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [
                ("0001",)
            ]
        engine.dispose()
    finally:
        drop_database(database_server_url, name)
