"""Bearer JWT authentication for the HTTP APIs (claims: sub, email, roles, groups)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Annotated, Any, Literal, get_args

import jwt
import structlog
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tollgate_shared.infra.settings import DEV_JWT_SECRET, ServiceSettings
from tollgate_shared.web.errors import ApiError, Forbidden, Unauthorized, may_answer

log = structlog.get_logger(__name__)

Role = Literal["admin", "organizer", "service"]
ROLES = frozenset(get_args(Role))
JWKS_ALGORITHMS = ["RS256", "ES256"]
_REQUIRED: jwt.types.Options = {"require": ["sub", "exp"]}
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Principal(BaseModel):
    """Who is calling, from a verified token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str = Field(min_length=1)
    email: str | None = None
    roles: frozenset[Role] = frozenset()
    groups: frozenset[str] = frozenset()
    segment: str | None = None
    expires_at: float | None = Field(default=None, exclude=True)
    """When the token stops being valid (its `exp`), set on verification."""

    @property
    def user_id(self) -> str:
        """The user id (`sub`)."""
        return self.sub

    @property
    def is_admin(self) -> bool:
        """Whether the caller has the admin role."""
        return "admin" in self.roles

    def can_manage(self, group_id: str) -> bool:
        """Admins manage every group; organizers the groups in their `groups` claim."""
        return self.is_admin or ("organizer" in self.roles and group_id in self.groups)


def issue_token(
    secret: str,
    *,
    sub: str,
    email: str | None = None,
    roles: list[str] | None = None,
    groups: list[str] | None = None,
    ttl: int = 3600,
    **extra: object,
) -> str:
    """A signed token (development and tests; production tokens come from the identity provider)."""
    now = int(time.time())
    claims = {
        "sub": sub,
        "email": email,
        "roles": roles or [],
        "groups": groups or [],
        "iat": now,
        "exp": now + ttl,
        **extra,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    """The one verifier of bearer tokens behind every door of a service (JSON APIs, fast
    routes, the console, commands): a key of `AUTH_JWKS_URL` (RS256/ES256) when it is set,
    and then never a shared secret; else the HS256 `AUTH_JWT_SECRET`. `aud` and `iss` are
    checked when `AUTH_AUDIENCE` and `AUTH_ISSUER` are set; roles and groups are read from the
    claims `AUTH_ROLES_CLAIM` and `AUTH_GROUPS_CLAIM` name."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._jwks = (
            jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True, lifespan=300)
            if settings.auth_jwks_url
            else None
        )
        if (
            self._jwks is None
            and settings.environment == "production"
            and settings.auth_jwt_secret == DEV_JWT_SECRET
        ):
            raise ValueError("production never verifies tokens with the development secret")
        self._secret = settings.auth_jwt_secret
        self._audience = settings.auth_audience
        self._issuer = settings.auth_issuer
        self._roles_claim = settings.auth_roles_claim
        self._groups_claim = settings.auth_groups_claim
        self._verified = VerifiedTokens()

    async def authenticate(self, authorization: str | None) -> Principal:
        """The verified caller of an `Authorization: Bearer <JWT>` header; Unauthorized
        otherwise (503 when the identity provider's keys cannot be fetched)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("missing bearer token", headers=_CHALLENGE)
        return await self.verify(token)

    async def verify(self, token: str) -> Principal:
        """The caller a token names, if it verifies; Unauthorized otherwise."""
        principal = self._verified.get(token)
        if principal is None:
            principal = self._principal(await self._claims(token))
            self._verified.put(token, principal)
        return principal

    async def _claims(self, token: str) -> dict[str, Any]:
        key: Any = self._secret
        algorithms = ["HS256"]
        if self._jwks is not None:
            try:
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            except jwt.PyJWKClientConnectionError:
                log.warning("auth.jwks_unavailable")
                raise ApiError(
                    "the identity provider's keys cannot be fetched",
                    code="unavailable",
                    status_code=503,
                ) from None
            except jwt.PyJWTError as exc:
                raise Unauthorized(f"invalid token: {exc}", headers=_CHALLENGE) from None
            algorithms = JWKS_ALGORITHMS
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={**_REQUIRED, "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}", headers=_CHALLENGE) from None

    def _principal(self, claims: dict[str, Any]) -> Principal:
        try:
            principal = Principal.model_validate(
                {
                    "sub": claims.get("sub"),
                    "email": claims.get("email"),
                    "roles": [r for r in _names(claims, self._roles_claim) if r in ROLES],
                    "groups": _names(claims, self._groups_claim),
                    "segment": claims.get("segment"),
                }
            )
        except ValidationError as exc:
            raise Unauthorized(f"invalid token: {exc}", headers=_CHALLENGE) from None
        return principal.model_copy(update={"expires_at": claims["exp"]})


def _names(claims: dict[str, Any], claim: str) -> list[str]:
    """The names a claim lists: a list of strings or one space-separated string, found by its
    name, else by a dotted path into nested claims (`realm_access.roles`)."""
    value: Any = claims.get(claim)
    if value is None and "." in claim:
        value = claims
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise Unauthorized(
        f"invalid token: the {claim} claim is not a list of names", headers=_CHALLENGE
    )


class VerifiedTokens:
    """Tokens already verified, until they expire: an app calling the gate sends the same
    token with every request, and verifying it again each time cost more CPU than the
    answer. Each verifier has its own, so a rotated secret verifies anew."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._verified: OrderedDict[str, Principal] = OrderedDict()

    def get(self, token: str) -> Principal | None:
        """The principal of a verified, unexpired token, else None."""
        principal = self._verified.get(token)
        if principal is None:
            return None
        if principal.expires_at is None or principal.expires_at <= time.time():
            del self._verified[token]
            return None
        self._verified.move_to_end(token)
        return principal

    def put(self, token: str, principal: Principal) -> None:
        """Remember a token that just verified."""
        self._verified[token] = principal
        if len(self._verified) > self._size:
            self._verified.popitem(last=False)


@may_answer(401, 403, 503)  # no or a bad token; not the caller's; the JWKS cannot be fetched
async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, from `Authorization: Bearer <JWT>`.

    (Dependencies here are `async`: FastAPI runs plain `def` ones in a thread pool.)
    """
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.authenticate(request.headers.get("authorization"))


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> object:
    """A dependency that admits only callers with one of `roles`."""

    async def check(principal: CurrentUser) -> Principal:
        if not principal.roles.intersection(roles):
            raise Forbidden(f"requires one of the roles {sorted(roles)}")
        return principal

    return Depends(check)


AdminUser = Annotated[Principal, require_roles("admin")]
