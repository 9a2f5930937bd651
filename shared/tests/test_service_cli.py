"""Every service's command line (`ServiceCli`: `serve`, `migrate`, `asyncapi`) on bad input:
an error is one line on stderr after the service's logs, with a non-zero exit status and no
traceback; `--debug`, before or after the subcommand, shows the traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from tollgate_shared.infra.process import free_port
from tollgate_shared.testing import one_line_error, run_cli

DEMO = """
import sys
from pathlib import Path

from fastapi import FastAPI

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.web.service import ServiceCli

ServiceCli(
    name="demo",
    load_settings=lambda: ServiceSettings.for_service("demo"),
    create_app=lambda settings: FastAPI(),
    migrations=Path(sys.argv[1]),
).main(sys.argv[2:])
"""
ENV = """
from sqlalchemy import MetaData
from tollgate_shared.persistence.migrations import run_env

run_env(MetaData())
"""


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """Alembic scripts with no revision: migrating only connects."""
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(ENV)
    return tmp_path


def demo(migrations: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli([sys.executable, "-c", DEMO, str(migrations), *args], env=env)


def test_migrate_and_serve_on_an_unreachable_database(migrations: Path) -> None:
    port = free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    for command in (["migrate"], ["serve", "--migrate", "--port", str(free_port())]):
        failed = demo(migrations, *command, DATABASE_URL=url)
        assert failed.returncode == 1
        assert one_line_error(failed, "demo", logs=True).startswith(
            f'demo: OperationalError: connection failed: connection to server at "127.0.0.1", '
            f"port {port} failed: Connection refused"
        )
        assert failed.stderr.rstrip().endswith("(--debug shows the traceback)")
    debug = demo(migrations, "migrate", "--debug", DATABASE_URL=url)
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr


def test_migrate_without_a_database(migrations: Path) -> None:
    failed = demo(migrations, "migrate")
    assert one_line_error(failed, "demo", logs=True) == (
        "demo: RuntimeError: no database configured for demo: set DEMO_DATABASE_URL or "
        "DATABASE_URL (--debug shows the traceback)"
    )
    debug = demo(migrations, "--debug", "migrate")
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr


def test_migrate_a_database_that_answers(migrations: Path, database_server_url: str) -> None:
    migrated = demo(migrations, "migrate", DEMO_DATABASE_URL=database_server_url)
    assert migrated.returncode == 0, migrated.stderr


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"], ["asyncapi"]])
def test_settings_that_are_not_valid(migrations: Path, command: list[str]) -> None:
    failed = demo(migrations, *command, HTTP_PORT="eighty", STRIPE_RATE_LIMIT="-1")
    assert failed.returncode == 2
    assert one_line_error(failed, "demo") == (
        "demo: the settings are not valid: HTTP_PORT: Input should be a valid integer, unable "
        "to parse string as an integer; STRIPE_RATE_LIMIT: Input should be greater than or "
        "equal to 0"
    )


def test_usage_errors(migrations: Path) -> None:
    unknown = demo(migrations, "serv")
    assert unknown.returncode == 2
    assert one_line_error(unknown, "demo").startswith(
        "demo: argument command: invalid choice: 'serv'"
    )
    port = demo(migrations, "serve", "--port", "http")
    assert one_line_error(port, "demo serve") == (
        "demo serve: argument --port: invalid int value: 'http' (--help shows the usage)"
    )
