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

from tollgate_shared.infra.process import free_port
from tollgate_shared.infra.settings import DEV_JWT_SECRET, ServiceSettings
from tollgate_shared.testing import serve_app
from tollgate_shared.web.auth import AdminUser, CurrentUser, TokenVerifier, issue_token
from tollgate_shared.web.http import create_app

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


def _rsa_jwks() -> tuple[rsa.RSAPrivateKey, FastAPI]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1"}
    jwks_app = FastAPI()

    @jwks_app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, object]:
        return {"keys": [jwk]}

    return key, jwks_app


async def test_tokens_verified_against_a_jwks() -> None:
    key, jwks_app = _rsa_jwks()
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


async def test_audience_issuer_and_claim_names_of_the_identity_provider() -> None:
    key, jwks_app = _rsa_jwks()
    exp = int(time.time()) + 60
    base = {"sub": "u7", "exp": exp, "aud": "tollgate", "iss": "https://idp.example"}
    nested = {
        "realm_access": {"roles": ["offline_access", "organizer"]},
        "https://tollgate.example/groups": ["g1", "g2"],
    }

    def signed(**claims: object) -> str:
        return jwt.encode(base | claims, key, algorithm="RS256", headers={"kid": "k1"})

    async with serve_app(jwks_app) as jwks_url:
        settings = ServiceSettings(
            auth_jwks_url=f"{jwks_url}/.well-known/jwks.json",
            auth_audience="tollgate",
            auth_issuer="https://idp.example",
            auth_roles_claim="realm_access.roles",
            auth_groups_claim="https://tollgate.example/groups",
        )
        async with serve_app(app_with(settings)) as url, httpx.AsyncClient(base_url=url) as c:

            async def me(token: str) -> httpx.Response:
                return await c.get("/me", headers={"Authorization": f"Bearer {token}"})

            answer = await me(signed(**nested))
            assert answer.json() == {"sub": "u7", "roles": ["organizer"]}
            for wrong in (
                signed(aud="another-app"),
                signed(iss="https://evil.example"),
                jwt.encode(
                    {"sub": "u7", "exp": exp}, key, algorithm="RS256", headers={"kid": "k1"}
                ),
                signed(realm_access={"roles": [1, 2]}),
            ):
                response = await me(wrong)
                assert response.status_code == 401, response.text
                assert response.json()["error"]["code"] == "unauthorized"


async def test_production_with_a_jwks_never_accepts_a_shared_secret() -> None:
    """Not the development secret, and not a configured one either: with a JWKS only its keys
    verify, so a token signed with any secret (HS256) is refused."""
    key, jwks_app = _rsa_jwks()
    async with serve_app(jwks_app) as jwks_url:
        settings = ServiceSettings(
            environment="production",
            auth_jwks_url=f"{jwks_url}/.well-known/jwks.json",
            stripe_secret_key="sk_live_x",
            stripe_webhook_secret="whsec_real",
        )
        assert settings.auth_jwt_secret == DEV_JWT_SECRET
        admin = {"sub": "a1", "roles": ["admin"], "exp": int(time.time()) + 60}
        good = jwt.encode(admin, key, algorithm="RS256", headers={"kid": "k1"})
        async with serve_app(app_with(settings)) as url, httpx.AsyncClient(base_url=url) as c:
            assert (await c.get("/admin", headers={"Authorization": f"Bearer {good}"})).json() == {
                "sub": "a1"
            }
            for secret in (DEV_JWT_SECRET, SECRET):
                forged = jwt.encode(admin, secret, algorithm="HS256", headers={"kid": "k1"})
                response = await c.get("/admin", headers={"Authorization": f"Bearer {forged}"})
                assert response.status_code == 401
    unsafe = ServiceSettings.model_construct(environment="production")
    with pytest.raises(ValueError, match="development secret"):
        TokenVerifier(unsafe)


async def test_an_unreachable_identity_provider_answers_503() -> None:
    key, _ = _rsa_jwks()
    token = jwt.encode(
        {"sub": "u1", "exp": int(time.time()) + 60}, key, algorithm="RS256", headers={"kid": "k1"}
    )
    settings = ServiceSettings(auth_jwks_url=f"http://127.0.0.1:{free_port()}/jwks.json")
    async with serve_app(app_with(settings)) as url, httpx.AsyncClient(base_url=url) as c:
        response = await c.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
