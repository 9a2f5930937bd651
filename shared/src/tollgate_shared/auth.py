"""Bearer JWT authentication for the HTTP APIs (claims: sub, email, roles, groups)."""

from __future__ import annotations

import time
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tollgate_shared.errors import Forbidden, Unauthorized

Role = Literal["admin", "organizer", "service"]
ALGORITHMS = ["HS256"]


class Principal(BaseModel):
    """Who is calling, from a verified token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str = Field(min_length=1)
    email: str | None = None
    roles: frozenset[Role] = frozenset()
    groups: frozenset[str] = frozenset()
    segment: str | None = None

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
    """Verify signature and expiry; raise Unauthorized otherwise."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=ALGORITHMS, options={"require": ["sub", "exp"]}
        )
        return Principal.model_validate(claims)
    except (jwt.PyJWTError, ValidationError) as exc:
        raise Unauthorized(
            f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
        ) from None


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, from `Authorization: Bearer <JWT>`.

    (Dependencies here are `async`: FastAPI runs plain `def` ones in a thread pool.)
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return verify_token(token.strip(), request.app.state.settings.auth_jwt_secret)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> object:
    """A dependency that admits only callers with one of `roles`."""

    async def check(principal: CurrentUser) -> Principal:
        if not principal.roles.intersection(roles):
            raise Forbidden(f"requires one of the roles {sorted(roles)}")
        return principal

    return Depends(check)


AdminUser = Annotated[Principal, require_roles("admin")]
