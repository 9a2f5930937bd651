"""`tollgate token` mints a development JWT; `tollgate verify-token` shows what the services see
of a token. Both read the services' own settings (`AUTH_*`, `ENVIRONMENT`), and verifying goes
through the same `TokenVerifier` as every HTTP door."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, ClassVar

from tollgate_cli.common import CliSettings, options
from tollgate_cli.common import settings as common_settings
from tollgate_shared.infra.cli import CommandError
from tollgate_shared.web.auth import TokenVerifier, issue_token
from tollgate_shared.web.errors import ApiError


class AuthSettings(CliSettings):
    """The services' settings, whose JWT secret may not keep its default in production."""

    required_secrets: ClassVar[tuple[str, ...]] = ("auth_jwt_secret",)


def add_commands(commands: Any) -> None:
    """Add `token` and `verify-token` to the `tollgate` command."""
    common = options()
    token = commands.add_parser(
        "token", parents=[common], help="print a development JWT (signed with AUTH_JWT_SECRET)"
    )
    token.add_argument("--sub", default="admin")
    token.add_argument("--email")
    token.add_argument("--role", action="append", choices=["admin", "organizer", "service"])
    token.add_argument("--group", action="append", help="a group the user organizes")
    token.add_argument("--secret", help="sign with this secret instead of AUTH_JWT_SECRET")
    token.add_argument("--ttl", type=int, default=3600)
    verify = commands.add_parser(
        "verify-token",
        parents=[common],
        help="verify a token as the services do, and print who it names",
    )
    verify.add_argument("token")
    for command in (token, verify):
        command.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Run `token` or `verify-token` (exit status 1: refused; 2: misconfigured)."""
    settings = common_settings(args, AuthSettings)
    if args.command == "token":
        _mint(args, settings)
    else:
        asyncio.run(_verify(args.token, settings))


def _mint(args: argparse.Namespace, settings: AuthSettings) -> None:
    if settings.environment == "production" or settings.auth_jwks_url:
        raise CommandError(
            "tokens come from the identity provider here (ENVIRONMENT=production or "
            "AUTH_JWKS_URL is set); the services would refuse a minted one",
            status=2,
        )
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


async def _verify(token: str, settings: AuthSettings) -> None:
    try:
        principal = await TokenVerifier(settings).verify(token.strip())
    except ApiError as exc:
        raise CommandError(f"refused: {exc.message}") from exc
    answer = principal.model_dump(mode="json") | {"expires_at": principal.expires_at}
    print(json.dumps(answer, sort_keys=True))
