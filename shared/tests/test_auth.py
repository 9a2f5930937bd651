"""Bearer JWTs: the development HS256 secret, a production JWKS, roles; settings refuse
development secrets in production."""

import asyncio
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import ValidationError

from tollgate_shared.auth import AdminUser, CurrentUser, issue_token
from tollgate_shared.http import create_app
from tollgate_shared.settings import ServiceSettings
from tollgate_shared.testing import serve_app

SECRET = "a-test-secret-that-is-long-enough-0123"


def app_with(settings: ServiceSettings) -> FastAPI:
    app = create_app(settings, title="auth test")

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, object]:
        return {"sub": user.sub, "roles": sorted(user.roles)}

    @app.get("/admin")
    async def admin(user: AdminUser) -> dict[str, str]:
        return {"sub": user.sub}

    return app


async def test_hs256_tokens_and_roles() -> None:
    settings = ServiceSettings(auth_jwt_secret=SECRET)
    member = issue_token(SECRET, sub="u1", roles=[])
    admin = issue_token(SECRET, sub="a1", roles=["admin"])
    expired = issue_token(SECRET, sub="u1", ttl=-10)
    forged = issue_token("another-secret-0123456789-0123456789", sub="u1")
    async with serve_app(app_with(settings)) as url, httpx.AsyncClient(base_url=url) as client:

        async def get(path: str, token: str | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await client.get(path, headers=headers)

        assert (await get("/me", member)).json() == {"sub": "u1", "roles": []}
        for token in (None, expired, forged, "not-a-jwt"):
            response = await get("/me", token)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
        assert (await get("/admin", member)).status_code == 403
        assert (await get("/admin", admin)).json() == {"sub": "a1"}


async def test_tokens_verified_against_a_jwks() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1"}
    jwks_app = FastAPI()

    @jwks_app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, object]:
        return {"keys": [jwk]}

    now = int(time.time())
    claims = {"sub": "u9", "roles": ["organizer"], "groups": ["g1"], "exp": now + 60}
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    hs256 = issue_token(SECRET, sub="u9")
    async with serve_app(jwks_app) as jwks_url:
        settings = ServiceSettings(
            auth_jwt_secret=SECRET, auth_jwks_url=f"{jwks_url}/.well-known/jwks.json"
        )
        async with serve_app(app_with(settings)) as url, httpx.AsyncClient(base_url=url) as c:
            ok = await c.get("/me", headers={"Authorization": f"Bearer {good}"})
            refused = await c.get("/me", headers={"Authorization": f"Bearer {hs256}"})
    assert ok.json() == {"sub": "u9", "roles": ["organizer"]}
    assert refused.status_code == 401


def test_production_refuses_development_secrets() -> None:
    with pytest.raises(ValidationError, match="AUTH_JWT_SECRET"):
        ServiceSettings(
            environment="production",
            stripe_secret_key="sk_live_x",
            stripe_webhook_secret="whsec_real",
        )
    settings = ServiceSettings(
        environment="production",
        auth_jwt_secret=SECRET,
        stripe_secret_key="sk_live_x",
        stripe_webhook_secret="whsec_real",
    )
    assert settings.environment == "production"


def test_a_service_is_held_only_to_the_secrets_it_uses() -> None:
    class GatewayLike(ServiceSettings):
        required_secrets = ("stripe_webhook_secret",)

    assert GatewayLike(environment="production", stripe_webhook_secret="whsec_real")
    with pytest.raises(ValidationError, match="STRIPE_WEBHOOK_SECRET"):
        GatewayLike(environment="production")


async def test_a_verified_token_is_remembered_only_until_it_expires() -> None:
    """The verification cache answers repeat requests, never past `exp` or a rotated secret."""
    settings = ServiceSettings(auth_jwt_secret=SECRET)
    short = issue_token(SECRET, sub="u-short", ttl=2)
    async with serve_app(app_with(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        headers = {"Authorization": f"Bearer {short}"}
        for _ in range(3):
            assert (await client.get("/me", headers=headers)).json()["sub"] == "u-short"
        await asyncio.sleep(2.1)  # exp has one-second resolution
        expired = await client.get("/me", headers=headers)
        assert expired.status_code == 401
    rotated = ServiceSettings(auth_jwt_secret="a-rotated-secret-0123456789-0123456789")
    token = issue_token(SECRET, sub="u-rotated")
    for settings, status in ((ServiceSettings(auth_jwt_secret=SECRET), 200), (rotated, 401)):
        async with serve_app(app_with(settings)) as url, httpx.AsyncClient(base_url=url) as client:
            response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status
