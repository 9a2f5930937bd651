"""No Docker engine runs here, so the Compose file is checked offline against the code."""

import re
from importlib import import_module
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from tollgate_shared.infra.settings import ServiceSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
APPS = {
    name: spec
    for name, spec in COMPOSE["services"].items()
    if spec.get("build", {}).get("args", {}).get("APP_DIR", "").startswith("services/")
}


def settings_class(command: str) -> type[ServiceSettings]:
    return import_module(f"{command.replace('-', '_')}.config").Settings


def interpolated(value: str, shell: dict[str, str]) -> str:
    """Compose's `${NAME:-default}` (unset or empty) and `${NAME-default}` (unset)."""

    def one(match: re.Match[str]) -> str:
        name, operator, default = match.groups()
        set_here = name in shell and (shell[name] or operator == "-")
        return shell[name] if set_here else default

    return re.sub(r"\$\{(\w+)(:?-)([^}]*)\}", one, value)


def gateway_settings(shell: dict[str, str]) -> ServiceSettings:
    """The gateway's settings from its Compose environment with `shell`'s variables."""
    environment = COMPOSE["services"]["webhook-gateway"]["environment"]
    values = {name.lower(): interpolated(value, shell) for name, value in environment.items()}
    return settings_class("webhook-gateway")(**values)


def test_every_service_builds_from_an_existing_package() -> None:
    for spec in COMPOSE["services"].values():
        args = spec.get("build", {}).get("args")
        if args:
            pyproject = (DEPLOY.parent / args["APP_DIR"] / "pyproject.toml").read_text()
            assert f'name = "{args["PACKAGE"]}"' in pyproject
            assert f"{args['COMMAND']} = " in pyproject


def test_environment_names_are_settings_the_services_read() -> None:
    assert APPS
    for name, spec in APPS.items():
        command = spec["build"]["args"]["COMMAND"]
        fields = {f.upper() for f in settings_class(command).model_fields}
        own_db = command.upper().replace("-", "_") + "_DATABASE_URL"
        for variable in spec.get("environment", {}):
            assert variable in fields or variable == own_db, f"{name}: {variable} is not read"


def test_ports_match_the_services_defaults() -> None:
    for name, spec in APPS.items():
        args = spec["build"]["args"]
        default = settings_class(args["COMMAND"]).model_fields["http_port"].default
        assert int(args["PORT"]) == default, name
        if "ports" in spec:
            assert spec["ports"] == [f"{default}:{default}"]


def test_bake_targets_build_what_compose_builds() -> None:
    bake = (DEPLOY / "docker-bake.hcl").read_text()
    pattern = r'target "([\w-]+)" \{\s*inherits[^\n]*\n\s*args\s*=\s*\{([^}]*)\}'
    targets = dict(re.findall(pattern, bake))
    services = {name: spec for name, spec in APPS.items() if not name.endswith("-migrate")}
    assert set(targets) == set(services)
    for name, spec in services.items():
        args = dict(re.findall(r'(\w+) = "([^"]*)"', targets[name]))
        assert args == spec["build"]["args"], name


PRODUCTION = {
    "ENVIRONMENT": "production",
    "STRIPE_SECRET_KEY": "sk_live_0123456789",
    "STRIPE_WEBHOOK_SECRET": "whsec_production_0123456789",
}


def test_the_gateway_gets_its_expected_mode_and_account() -> None:
    environment = COMPOSE["services"]["webhook-gateway"]["environment"]
    assert {"STRIPE_LIVEMODE", "STRIPE_ACCOUNT_ID"} <= set(environment)
    development = gateway_settings({})
    assert (development.expected_livemode, development.stripe_account_id) == (False, None)
    live = gateway_settings(PRODUCTION | {"STRIPE_LIVEMODE": "true", "STRIPE_ACCOUNT_ID": "acct_1"})
    assert (live.expected_livemode, live.stripe_account_id) == (True, "acct_1")


def test_a_live_key_without_stripe_livemode_does_not_start() -> None:
    with pytest.raises(ValidationError, match="STRIPE_LIVEMODE"):
        gateway_settings(PRODUCTION)
