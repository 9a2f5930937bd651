"""`tollgate token` mints a development JWT; `tollgate verify-token` shows what the services see
of a token. Both read the services' own settings (`AUTH_*`, `ENVIRONMENT`), and verifying goes
through the same `TokenVerifier` as every HTTP door."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from pydantic import ValidationError

from tollgate_shared.infra.settings import ServiceSettings, describe_errors
from tollgate_shared.web.auth import TokenVerifier, issue_token
from tollgate_shared.web.errors import ApiError


class AuthSettings(ServiceSettings):
    """The services' authentication settings, from the environment."""

    required_secrets = ("auth_jwt_secret",)


def add_commands(commands: Any) -> None:
    """Add `token` and `verify-token` to the `tollgate` command."""
    token = commands.add_parser(
        "token", help="print a development JWT (signed with AUTH_JWT_SECRET)"
    )
    token.add_argument("--sub", default="admin")
    token.add_argument("--email")
    token.add_argument("--role", action="append", choices=["admin", "organizer", "service"])
    token.add_argument("--group", action="append", help="a group the user organizes")
    token.add_argument("--secret", help="sign with this secret instead of AUTH_JWT_SECRET")
    token.add_argument("--ttl", type=int, default=3600)
    verify = commands.add_parser(
        "verify-token", help="verify a token as the services do, and print who it names"
    )
    verify.add_argument("token")


def run(args: argparse.Namespace) -> int:
    """Run `token` or `verify-token`; the exit status (2: refused or misconfigured)."""
    try:
        settings = AuthSettings()
    except ValidationError as exc:
        print(f"tollgate: the settings are not valid:\n{describe_errors(exc)}", file=sys.stderr)
        return 2
    if args.command == "token":
        return _mint(args, settings)
    return asyncio.run(_verify(args.token, settings))


def _mint(args: argparse.Namespace, settings: AuthSettings) -> int:
    if settings.environment == "production" or settings.auth_jwks_url:
        print(
            "tollgate: tokens come from the identity provider here (ENVIRONMENT=production "
            "or AUTH_JWKS_URL is set); the services would refuse a minted one",
            file=sys.stderr,
        )
        return 2
    claims = {
        key: value
        for key, value in (("aud", settings.auth_audience), ("iss", settings.auth_issuer))
        if value
    }
    print(
        issue_token(
            args.secret or settings.auth_jwt_secret,
            sub=args.sub,
            email=args.email,
            roles=args.role or [],
            groups=args.group or [],
            ttl=args.ttl,
            **claims,
        )
    )
    return 0


async def _verify(token: str, settings: AuthSettings) -> int:
    try:
        principal = await TokenVerifier(settings).verify(token.strip())
    except ApiError as exc:
        print(f"tollgate: refused: {exc.message}", file=sys.stderr)
        return 1
    answer = principal.model_dump(mode="json") | {"expires_at": principal.expires_at}
    print(json.dumps(answer, sort_keys=True))
    return 0
