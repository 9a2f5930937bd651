"""Bearer JWT authentication for the HTTP APIs (claims: sub, email, roles, groups)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tollgate_shared.errors import Forbidden, Unauthorized
from tollgate_shared.settings import ServiceSettings

Role = Literal["admin", "organizer", "service"]
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


def verify_token(token: str, secret: str) -> Principal:
    """Verify an HS256 token's signature and expiry; raise Unauthorized otherwise."""
    return _principal(lambda: jwt.decode(token, secret, algorithms=["HS256"], options=_REQUIRED))


@functools.cache
def _jwks(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300)


async def verify_jwks_token(token: str, jwks_url: str) -> Principal:
    """Verify a token signed by a key of the identity provider's JWKS (fetched and cached)."""
    try:
        key = await asyncio.to_thread(_jwks(jwks_url).get_signing_key_from_jwt, token)
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}", headers=_CHALLENGE) from None
    return _principal(
        lambda: jwt.decode(token, key.key, algorithms=JWKS_ALGORITHMS, options=_REQUIRED)
    )


def _principal(decode: Callable[[], dict[str, Any]]) -> Principal:
    try:
        claims = decode()
        principal = Principal.model_validate(claims)
    except (jwt.PyJWTError, ValidationError) as exc:
        raise Unauthorized(f"invalid token: {exc}", headers=_CHALLENGE) from None
    return principal.model_copy(update={"expires_at": claims["exp"]})


class VerifiedTokens:
    """Tokens already verified, until they expire: an app calling the gate sends the same
    token with every request, and verifying it again each time cost more CPU than the
    answer. Keyed by the token and what verified it, so a rotated secret verifies anew."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._verified: OrderedDict[tuple[str, str], Principal] = OrderedDict()

    def get(self, token: str, verifier: str) -> Principal | None:
        """The principal of a verified, unexpired token, else None."""
        principal = self._verified.get((token, verifier))
        if principal is None:
            return None
        if principal.expires_at is None or principal.expires_at <= time.time():
            del self._verified[(token, verifier)]
            return None
        self._verified.move_to_end((token, verifier))
        return principal

    def put(self, token: str, verifier: str, principal: Principal) -> None:
        """Remember a token that just verified."""
        self._verified[(token, verifier)] = principal
        if len(self._verified) > self._size:
            self._verified.popitem(last=False)


_verified = VerifiedTokens()


async def authenticate(authorization: str | None, settings: ServiceSettings) -> Principal:
    """The verified caller of an `Authorization: Bearer <JWT>` header, by the service's
    JWKS URL if it has one, else its HS256 secret; Unauthorized otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token", headers=_CHALLENGE)
    verifier = settings.auth_jwks_url or settings.auth_jwt_secret
    principal = _verified.get(token, verifier)
    if principal is None:
        if settings.auth_jwks_url:
            principal = await verify_jwks_token(token, settings.auth_jwks_url)
        else:
            principal = verify_token(token, settings.auth_jwt_secret)
        _verified.put(token, verifier, principal)
    return principal


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, from `Authorization: Bearer <JWT>`.

    (Dependencies here are `async`: FastAPI runs plain `def` ones in a thread pool.)
    """
    return await authenticate(request.headers.get("authorization"), request.app.state.settings)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> object:
    """A dependency that admits only callers with one of `roles`."""

    async def check(principal: CurrentUser) -> Principal:
        if not principal.roles.intersection(roles):
            raise Forbidden(f"requires one of the roles {sorted(roles)}")
        return principal

    return Depends(check)


AdminUser = Annotated[Principal, require_roles("admin")]
