"""Every `tollgate` command on bad input: a server that does not answer (an unused port), an id
that names nothing, a setting missing. Each fails at once with one line on stderr, a non-zero
exit status and no traceback; `--debug` shows the traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tollgate_cli.stripe_sync import refuse_development_key
from tollgate_shared.infra.nats import start_nats
from tollgate_shared.infra.process import free_port
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.testing import one_line_error, run_cli, unique

NATS_COMMANDS = [
    ("dlq", "list"),
    ("dlq", "show", "1"),
    ("dlq", "replay", "1"),
    ("dlq", "drop", "1"),
    ("consumers",),
    ("rewind", "membership"),
]
STRIPE_COMMANDS = [("catch-up",), ("backfill",), ("resync", "cus_1")]
ALL_COMMANDS = [("run",), ("token",), ("verify-token", "x"), *NATS_COMMANDS, *STRIPE_COMMANDS]


def tollgate(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli([sys.executable, "-m", "tollgate_cli", *args], env=env, cwd=cwd)


def unused_url(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("command", [*NATS_COMMANDS, ("run",)], ids=" ".join)
def test_an_unreachable_broker_fails_at_once(command: tuple[str, ...], tmp_path: Path) -> None:
    url = unused_url("nats")
    failed = tollgate(*command, cwd=tmp_path, NATS_URL=url)
    assert one_line_error(failed, "tollgate").startswith(
        f"tollgate: cannot reach NATS at {url}: ConnectionRefusedError:"
    )
    assert list(tmp_path.iterdir()) == []  # `run` started nothing

    debug = tollgate(*command, "--debug", cwd=tmp_path, NATS_URL=url)
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr
    assert f"cannot reach NATS at {url}" in debug.stderr


def test_run_fails_at_once_on_an_unreachable_database(nats_url: str, tmp_path: Path) -> None:
    url = unused_url("postgresql")
    failed = tollgate("run", cwd=tmp_path, NATS_URL=nats_url, DATABASE_URL=url)
    assert one_line_error(failed, "tollgate").startswith(
        f"tollgate: cannot reach the database at {url}: OperationalError: connection failed"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [*NATS_COMMANDS, *STRIPE_COMMANDS, ("run",)], ids=" ".join)
def test_a_nats_url_naming_no_server(command: tuple[str, ...], tmp_path: Path) -> None:
    failed = tollgate(*command, cwd=tmp_path, NATS_URL=" , ")
    assert failed.returncode == 2
    assert one_line_error(failed, "tollgate") == (
        "tollgate: the settings are not valid: NATS_URL: Value error, names no NATS server"
    )


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=" ".join)
def test_settings_that_are_not_valid(command: tuple[str, ...], tmp_path: Path) -> None:
    failed = tollgate(*command, cwd=tmp_path, ENVIRONMENT="staging", LOG_JSON="perhaps")
    assert failed.returncode == 2
    line = one_line_error(failed, "tollgate")
    assert line.startswith("tollgate: the settings are not valid: ENVIRONMENT: Input should be")
    assert "; LOG_JSON: Input should be a valid boolean" in line
    assert "staging" not in line and "perhaps" not in line  # values may be secrets


@pytest.mark.parametrize("command", [("token", "--role", "admin"), ("verify-token", "x")])
def test_token_commands_without_a_secret_in_production(command: tuple[str, ...]) -> None:
    failed = tollgate(*command, ENVIRONMENT="production")
    assert failed.returncode == 2
    assert one_line_error(failed, "tollgate") == (
        "tollgate: the settings are not valid: settings: Value error, development defaults "
        "are not allowed in production: ['AUTH_JWT_SECRET']"
    )


def test_verify_token_with_an_unreachable_identity_provider() -> None:
    url = unused_url("http") + "/jwks"
    failed = tollgate("verify-token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", AUTH_JWKS_URL=url)
    assert failed.returncode == 1
    assert one_line_error(failed, "tollgate").startswith("tollgate: refused: ")
    debug = tollgate("verify-token", "x", "--debug", AUTH_JWKS_URL=url)
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr


def test_a_nats_server_without_tollgate_streams(tmp_path: Path) -> None:
    port = free_port()
    server = start_nats(tmp_path, port=port)
    try:
        for command in NATS_COMMANDS:
            failed = tollgate(*command, NATS_URL=f"nats://127.0.0.1:{port}")
            if command == ("consumers",):
                continue  # lists the consumers of the streams there are: none
            assert one_line_error(failed, "tollgate") == (
                f"tollgate: NATS at nats://127.0.0.1:{port} has no Tollgate streams: a "
                "service declares them when it starts"
            ), command
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("command", "key", "why"),
    [
        (("catch-up",), None, "the development key"),
        (("backfill",), "sk_test_short", "not a key of Stripe's"),
        (("resync", "cus_1"), "a-password", "not a key of Stripe's"),
    ],
)
def test_stripe_commands_refuse_a_development_key_for_the_real_stripe(
    command: tuple[str, ...], key: str | None, why: str, nats_url: str
) -> None:
    """Refused before any call: had it called, Stripe's 401 or the network's error would
    be reported instead."""
    env = {"NATS_URL": nats_url} | ({"STRIPE_SECRET_KEY": key} if key else {})
    for base in ([], ["--stripe-api-base", "https://api.stripe.com/"]):
        refused = tollgate(*command, *base, **env)
        assert refused.returncode == 2
        assert one_line_error(refused, "tollgate") == (
            f"tollgate: STRIPE_SECRET_KEY is {why} and would be sent to https://api.stripe.com "
            "(no other STRIPE_API_BASE or --stripe-api-base is given): set a key from the "
            "Stripe dashboard (sk_live_…, sk_test_…, rk_…), or --stripe-api-base to the emulator"
        )


@pytest.mark.parametrize("key", ["sk_live_" + "a1" * 12, "rk_test_" + "Z9" * 40])
def test_a_key_of_stripes_goes_to_stripe(key: str) -> None:
    refuse_development_key(ServiceSettings(stripe_secret_key=key))


@pytest.mark.parametrize("command", STRIPE_COMMANDS, ids=" ".join)
def test_stripe_commands_fail_at_once_on_an_unreachable_stripe(
    command: tuple[str, ...], nats_url: str
) -> None:
    base = unused_url("http")
    failed = tollgate(*command, "--stripe-api-base", base, NATS_URL=nats_url)
    assert one_line_error(failed, "tollgate") == (
        f"tollgate: cannot reach Stripe at {base}: ConnectError: All connection attempts failed"
    )
    debug = tollgate(*command, "--stripe-api-base", base, "--debug", NATS_URL=nats_url)
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr


async def test_stripe_commands_fail_at_once_on_an_unreachable_feed(
    stripe_emulator_url: str,
) -> None:
    client = make_stripe_client(ServiceSettings(stripe_api_base=stripe_emulator_url))
    customer = await client.v1.customers.create_async({"email": f"{unique('u')}@example.com"})
    emulator = ["--stripe-api-base", stripe_emulator_url]

    nats = unused_url("nats")
    failed = tollgate("resync", customer.id, *emulator, "--nats-url", nats)
    assert one_line_error(failed, "tollgate").startswith(f"tollgate: cannot reach NATS at {nats}:")
    gateway = unused_url("http")
    failed = tollgate("resync", customer.id, *emulator, "--gateway-url", gateway)
    assert one_line_error(failed, "tollgate") == (
        f"tollgate: cannot reach the gateway at {gateway}: ConnectError: All connection "
        "attempts failed"
    )


def test_resync_of_an_object_stripe_does_not_know(stripe_emulator_url: str, nats_url: str) -> None:
    missing = unique("cus")
    emulator = ["--stripe-api-base", stripe_emulator_url]
    failed = tollgate("resync", missing, *emulator, NATS_URL=nats_url)
    assert one_line_error(failed, "tollgate") == (
        f"tollgate: Stripe answered 404: No such customer: '{missing}'"
    )
    unknown_kind = tollgate("resync", "pi_123", *emulator)
    assert unknown_kind.returncode == 2
    assert one_line_error(unknown_kind, "tollgate") == (
        "tollgate resync: argument object_id: resync takes cus_…, sub_…, cs_…, in_…, ch_… "
        "(--help shows the usage)"
    )
