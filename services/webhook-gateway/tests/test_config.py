"""Which events the gateway expects, from its settings; contradictions refuse to start."""

import pytest
from pydantic import ValidationError

from webhook_gateway.config import Settings

PRODUCTION = {"environment": "production", "stripe_webhook_secret": "whsec_production_0123"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, None),
        ({"stripe_secret_key": "sk_live_0123"}, True),
        ({"stripe_secret_key": "rk_live_0123"}, True),
        ({"stripe_secret_key": "sk_test_0123"}, False),
        ({"stripe_secret_key": "rk_test_0123"}, False),
        ({"stripe_livemode": False, "stripe_secret_key": "sk_test_0123"}, False),
        ({"stripe_livemode": True}, True),
        (PRODUCTION | {"stripe_livemode": True}, True),
        (PRODUCTION | {"stripe_secret_key": "sk_live_0123"}, True),
    ],
)
def test_expected_mode(values: dict, expected: bool | None) -> None:
    assert Settings(**values).expected_livemode is expected


@pytest.mark.parametrize(
    "values",
    [
        PRODUCTION,
        {"stripe_livemode": True, "stripe_secret_key": "sk_test_0123"},
        {"stripe_livemode": False, "stripe_secret_key": "rk_live_0123"},
        {"stripe_account_id": "platform"},
    ],
    ids=["production without a mode", "live with a test key", "test with a live key", "bad id"],
)
def test_refused(values: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(**values)


def test_an_empty_account_id_is_unset() -> None:
    assert Settings(stripe_account_id="").stripe_account_id is None
