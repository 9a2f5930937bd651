"""The ledger's own commands (`reconcile`, `schedule-payouts`, `book-fees`) on bad input: one
line on stderr, exit status 2 (1 is `reconcile`'s "differences found"), no traceback;
`--debug` shows it."""

import subprocess
import sys

import pytest

from tollgate_shared.infra.process import free_port
from tollgate_shared.testing import one_line_error, run_cli

COMMANDS = [
    ["reconcile", "--from", "2026-01-01", "--to", "2026-02-01"],
    ["schedule-payouts"],
    ["book-fees"],
]


MAIN = "from ledger.main import main; main()"


def ledger(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli([sys.executable, "-c", MAIN, *args], env=env)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_without_a_database(command: list[str]) -> None:
    failed = ledger(*command)
    assert failed.returncode == 2
    assert one_line_error(failed, "ledger") == (
        "ledger: RuntimeError: no database configured for ledger: set LEDGER_DATABASE_URL or "
        "DATABASE_URL (--debug shows the traceback)"
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unreachable_database(command: list[str], stripe_emulator_url: str) -> None:
    port = free_port()
    env = {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/postgres",
        "STRIPE_API_BASE": stripe_emulator_url,
    }
    failed = ledger(*command, **env)
    assert failed.returncode == 2
    assert one_line_error(failed, "ledger", logs=True).startswith(
        f'ledger: OperationalError: connection failed: connection to server at "127.0.0.1", '
        f"port {port} failed: Connection refused"
    )
    debug = ledger(*command, "--debug", **env)
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr


def test_reconcile_on_an_unreachable_stripe(database_server_url: str) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    failed = ledger(*COMMANDS[0], DATABASE_URL=database_server_url, STRIPE_API_BASE=base)
    assert failed.returncode == 2
    assert one_line_error(failed, "ledger", logs=True).startswith(
        "ledger: APIConnectionError: Unexpected error communicating with Stripe."
    )


def test_bad_dates_and_settings() -> None:
    dates = ledger("reconcile", "--from", "2026-01-01", "--to", "next week")
    assert dates.returncode == 2
    assert one_line_error(dates, "ledger") == "ledger: `to` must be an ISO date or datetime"
    settings = ledger("book-fees", DATABASE_CONNECT_TIMEOUT_SECONDS="1")
    assert settings.returncode == 2
    assert one_line_error(settings, "ledger") == (
        "ledger: the settings are not valid: DATABASE_CONNECT_TIMEOUT_SECONDS: Input should be "
        "greater than or equal to 2"
    )
