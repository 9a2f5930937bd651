"""Production with an identity provider: every service, run as its own process, takes the
provider's RS256 tokens at every door (JSON APIs, the gate's fast route, the ledger console)
and refuses tokens signed with the public development secret, or any shared secret."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from tests.security.conftest import StartServices
from tollgate_shared.infra.settings import DEV_JWT_SECRET
from tollgate_shared.testing import MailSink, serve_app, unique

AUDIENCE = "tollgate-api"
ISSUER = "https://idp.tollgate.test/realms/main"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
async def jwks_url() -> AsyncIterator[str]:
    """The identity provider's JWKS (one RSA key, `kid` k1)."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())) | {"kid": "k1"}
    app = FastAPI()

    @app.get("/realms/main/certs")
    async def certs() -> dict[str, Any]:
        return {"keys": [jwk]}

    async with serve_app(app) as url:
        yield f"{url}/realms/main/certs"


def claims(sub: str, roles: list[str], **extra: Any) -> dict[str, Any]:
    """A Keycloak-shaped token's claims: roles under `realm_access.roles`."""
    return {
        "sub": sub,
        "email": f"{sub}@example.com",
        "realm_access": {"roles": ["offline_access", *roles]},
        "aud": AUDIENCE,
        "iss": ISSUER,
        "exp": int(time.time()) + 600,
        **extra,
    }


def provider_token(sub: str, roles: list[str], **extra: Any) -> str:
    return jwt.encode(claims(sub, roles, **extra), KEY, algorithm="RS256", headers={"kid": "k1"})


def secret_token(secret: str, sub: str, roles: list[str]) -> str:
    """What an attacker signs with a shared secret, claims and `kid` copied from a real one."""
    return jwt.encode(claims(sub, roles), secret, algorithm="HS256", headers={"kid": "k1"})


def production(jwks_url: str, stripe_emulator_url: str, mail_sink: MailSink) -> dict[str, str]:
    return {
        "ENVIRONMENT": "production",
        "AUTH_JWKS_URL": jwks_url,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_ISSUER": ISSUER,
        "AUTH_ROLES_CLAIM": "realm_access.roles",
        "STRIPE_SECRET_KEY": f"sk_test_{secrets.token_hex(12)}",
        "STRIPE_API_BASE": stripe_emulator_url,
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(12)}",
        "SMTP_URL": mail_sink.smtp_url,
        "LOG_JSON": "true",
    }


async def test_every_door_takes_the_providers_tokens_and_no_shared_secrets(
    start_services: StartServices,
    jwks_url: str,
    stripe_emulator_url: str,
    mail_sink: MailSink,
) -> None:
    env = production(jwks_url, stripe_emulator_url, mail_sink)
    running = start_services(env, ["checkout", "membership", "ledger", "notifications"])
    urls = {service.name: service.url for service in running}
    group, member = unique("grp"), unique("member")
    doors = [
        ("checkout", f"/groups/{group}/coupons", "admin"),
        ("membership", f"/groups/{group}/members", "admin"),
        ("membership", f"/entitlements/{member}/groups/{group}", "member"),  # a fast route
        ("ledger", "/payments", "admin"),
        ("notifications", f"/notifications?user_id={member}", "admin"),
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        for service, path, who in doors:
            sub, roles = (member, []) if who == "member" else (unique("admin"), ["admin"])
            url = urls[service] + path
            good = provider_token(sub, roles)
            answer = await client.get(url, headers={"Authorization": f"Bearer {good}"})
            assert answer.status_code == 200, (service, path, answer.text)
            refused = {
                "the development secret": secret_token(DEV_JWT_SECRET, sub, roles),
                "another secret": secret_token(secrets.token_hex(32), sub, roles),
                "another audience": provider_token(sub, roles, aud="another-app"),
                "another issuer": provider_token(sub, roles, iss="https://evil.test"),
            }
            for why, token in refused.items():
                answer = await client.get(url, headers={"Authorization": f"Bearer {token}"})
                assert answer.status_code == 401, (service, path, why, answer.text)
                assert answer.json()["error"]["code"] == "unauthorized"

    console = urls["ledger"]
    admin = unique("admin")
    for token, status in (
        (secret_token(DEV_JWT_SECRET, admin, ["admin"]), 401),
        (provider_token(admin, ["admin"]), 303),
    ):
        async with httpx.AsyncClient(base_url=console) as browser:
            form = await browser.get("/console/login")
            match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert match is not None
            answer = await browser.post(
                "/console/login", data={"token": token, "csrf_token": match.group(1)}
            )
            assert answer.status_code == status, answer.text
            payments = await browser.get("/console/payments")
            if status == 303:
                assert payments.status_code == 200
                assert "<h1>Payments</h1>" in payments.text
            else:
                assert "ledger_token" not in browser.cookies
                assert payments.status_code == 303
        # A cookie planted with a forged token is no session either.
        async with httpx.AsyncClient(base_url=console) as planted:
            planted.cookies.set("ledger_token", secret_token(DEV_JWT_SECRET, admin, ["admin"]))
            assert (await planted.get("/console/payments")).status_code == 303
