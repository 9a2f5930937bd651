"""`tollgate token` and `tollgate verify-token` read the services' AUTH_* settings and verify
through the services' own verifier."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tollgate_shared.web.auth import issue_token

SECRET = "cli-test-secret-0123456789-0123456789"


def tollgate(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollgate_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "AUTH_JWT_SECRET": SECRET, **env},
    )


def test_a_minted_token_verifies_as_the_services_see_it() -> None:
    minted = tollgate(
        "token",
        "--sub",
        "org1",
        "--role",
        "organizer",
        "--group",
        "g1",
        AUTH_AUDIENCE="tollgate",
        AUTH_ISSUER="https://idp.test",
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    seen = tollgate("verify-token", token, AUTH_AUDIENCE="tollgate", AUTH_ISSUER="https://idp.test")
    assert seen.returncode == 0, seen.stderr
    principal = json.loads(seen.stdout)
    assert (principal["sub"], principal["roles"], principal["groups"]) == (
        "org1",
        ["organizer"],
        ["g1"],
    )
    assert tollgate("verify-token", token, AUTH_AUDIENCE="another").returncode == 1


def test_tokens_the_services_would_refuse() -> None:
    forged = issue_token("another-secret-0123456789-0123456789", sub="intruder", roles=["admin"])
    refused = tollgate("verify-token", forged)
    assert refused.returncode == 1
    assert "refused: invalid token" in refused.stderr
    assert forged not in refused.stderr + refused.stdout
    for env in ({"ENVIRONMENT": "production"}, {"AUTH_JWKS_URL": "http://127.0.0.1:1/jwks"}):
        minted = tollgate("token", "--role", "admin", **env)
        assert minted.returncode == 2
        assert minted.stdout == ""
        assert SECRET not in minted.stderr


def test_make_token_works_in_a_fresh_shell() -> None:
    """The README's `make -s token …`: only the token on stdout, with no uv on PATH."""
    root = Path(__file__).resolve().parents[3]
    made = subprocess.run(
        [
            shutil.which("make") or "make",
            "-s",
            "token",
            "SUB=alice",
            "EMAIL=alice@example.com",
            "ROLE=organizer",
            "GROUP=g1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "AUTH_JWT_SECRET": SECRET},
    )
    assert made.returncode == 0, made.stderr
    seen = tollgate("verify-token", made.stdout.strip())
    assert seen.returncode == 0, seen.stderr
    principal = json.loads(seen.stdout)
    assert (principal["sub"], principal["email"], principal["roles"], principal["groups"]) == (
        "alice",
        "alice@example.com",
        ["organizer"],
        ["g1"],
    )
