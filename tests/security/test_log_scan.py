"""No configured secret in any service's log, in either log mode: all five services run as
processes with every secret set (Stripe key, webhook secret, JWT secret, passwords in the
database and SMTP URLs), while Stripe and the mail server are unreachable, at DEBUG; then
each is made to fail (forged and valid tokens, forged and valid webhooks, Stripe calls and
mail deliveries that fail with tracebacks), and every log is searched for every secret."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.security.conftest import ServiceProcess, StartServices
from tollgate_shared.infra.process import free_port
from tollgate_shared.testing import stripe_event, unique, wait_until
from tollgate_shared.web.auth import issue_token
from webhook_gateway.domain.signature import compute_signature

SERVICES = ["webhook-gateway", "checkout", "membership", "ledger", "notifications"]


def configured_secrets() -> dict[str, str]:
    return {
        "stripe key": f"sk_test_{secrets.token_hex(16)}",
        "webhook secret": f"whsec_{secrets.token_hex(16)}",
        "jwt secret": secrets.token_hex(20),
        "smtp password": secrets.token_hex(10),
        "database password": secrets.token_hex(10),
    }


def with_password(url: str, password: str) -> str:
    return make_url(url).set(username="postgres", password=password).render_as_string(False)


def signed(event: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    now = int(time.time())
    header = f"t={now},v1={compute_signature(secret, now, body)}"
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


def failed(service: ServiceProcess) -> bool:
    """Whether the service logged a warning or an error (JSON or console lines)."""
    log = service.log
    return any(f'"level": "{level}"' in log or f"[{level}" in log for level in ("warning", "error"))


@pytest.mark.parametrize("log_json", ["true", "false"], ids=["json", "console"])
async def test_no_secret_reaches_any_log(
    start_services: StartServices,
    migrated_database: Any,
    log_json: str,
) -> None:
    secret = configured_secrets()
    from tests.security.conftest import SERVICES as APPS

    env = {
        "LOG_JSON": log_json,
        "LOG_LEVEL": "DEBUG",
        "STRIPE_SECRET_KEY": secret["stripe key"],
        "STRIPE_WEBHOOK_SECRET": secret["webhook secret"],
        "AUTH_JWT_SECRET": secret["jwt secret"],
        "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",  # Stripe unreachable
        "SMTP_URL": f"smtp://mailer:{secret['smtp password']}@127.0.0.1:{free_port()}",
        "MAIL_RETRY_BACKOFF": "[0.2]",
        "LEDGER_FEE_INTERVAL_SECONDS": "0.5",
    }
    for name in SERVICES:
        migrations = APPS[name].migrations
        if migrations is not None:
            variable = name.upper().replace("-", "_") + "_DATABASE_URL"
            env[variable] = with_password(
                migrated_database(migrations), secret["database password"]
            )
    running = {s.name: s for s in start_services(env, SERVICES)}
    url = {name: s.url for name, s in running.items()}

    group, user = unique("grp"), unique("user")
    admin = issue_token(secret["jwt secret"], sub=unique("admin"), roles=["admin"])
    member = issue_token(secret["jwt secret"], sub=user, email=f"{user}@example.com")
    forged = issue_token(secrets.token_hex(20), sub="intruder", roles=["admin"])
    tokens = [admin, member, forged]
    as_admin = {"Authorization": f"Bearer {admin}"}

    async with httpx.AsyncClient(timeout=60) as http:
        for name in SERVICES:
            for token in (forged, "Bearer-not-a-jwt", admin):
                # Hostile paths too: whatever fails on them is logged with the headers around.
                for path in (f"/notifications?user_id={user}", "/tiers/a%00b", "/payments/%00"):
                    with contextlib.suppress(httpx.TransportError):
                        await http.get(
                            f"{url[name]}{path}", headers={"Authorization": f"Bearer {token}"}
                        )
        # The gateway: a forged signature, then events Stripe would send, signed.
        body, headers = signed(stripe_event("invoice.paid", {"id": "in_1"}), "whsec_forged")
        assert (
            await http.post(
                f"{url['webhook-gateway']}/webhooks/stripe", content=body, headers=headers
            )
        ).status_code == 400
        invoice = {
            "object": "invoice",
            "id": unique("in"),
            "customer": unique("cus"),
            "customer_email": f"{user}@example.com",
            "amount_due": 2000,
            "currency": "usd",
            "attempt_count": 1,
            "status": "open",
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": unique("sub"),
                    "metadata": {"user_id": user, "group_id": group, "tier_id": "tier_x"},
                },
            },
        }
        charge = {
            "object": "charge",
            "id": unique("ch"),
            "amount": 2000,
            "currency": "usd",
            "amount_refunded": 2000,
            "refunded": True,
            "payment_intent": unique("pi"),
            "status": "succeeded",
            "paid": True,
            "balance_transaction": unique("txn"),
            # Tollgate's: booked, so the ledger asks Stripe for its fee and for its refund.
            "metadata": {"user_id": user, "group_id": group, "tier_id": "tier_x"},
        }
        for event in (
            stripe_event("invoice.payment_failed", invoice),
            stripe_event("charge.succeeded", {**charge, "amount_refunded": 0, "refunded": False}),
            stripe_event("charge.refunded", charge),
            stripe_event(
                "customer.subscription.updated", {"object": "subscription", "id": unique("sub")}
            ),
        ):
            body, headers = signed(event, secret["webhook secret"])
            answer = await http.post(
                f"{url['webhook-gateway']}/webhooks/stripe", content=body, headers=headers
            )
            assert answer.status_code == 200, answer.text
        # Checkout and the ledger call Stripe, which does not answer.
        tier = await http.post(
            f"{url['checkout']}/groups/{group}/tiers",
            headers=as_admin,
            json={"name": "Gold", "amount": 2000, "currency": "usd", "interval": "month"},
        )
        assert tier.status_code == 201, tier.text
        session = await http.post(
            f"{url['checkout']}/checkout/sessions",
            headers={"Authorization": f"Bearer {member}"},
            json={"tier_id": tier.json()["id"]},
        )
        assert session.status_code >= 500
        refund = await http.post(
            f"{url['ledger']}/payments/{charge['id']}/refunds",
            headers=as_admin,
            json={"amount": 100},
        )
        assert refund.status_code >= 400

        def quiet() -> list[str]:
            return [name for name, service in running.items() if not failed(service)]

        try:
            await wait_until(lambda: not quiet(), timeout=60, message="failures logged")
        except AssertionError:
            raise AssertionError(f"no failure logged by {quiet()}") from None

        async def mail_failed() -> bool:
            listed = await http.get(
                f"{url['notifications']}/notifications",
                params={"user_id": user},
                headers=as_admin,
            )
            return any(n["attempts"] >= 1 and n["last_error"] for n in listed.json()["items"])

        await wait_until(mail_failed, timeout=60, message="a mail delivery failed")

    for service in running.values():
        log = service.log
        for what, value in secret.items():
            assert value not in log, f"the {what} is in {service.name}'s log"
        for token in tokens:
            assert token not in log and token.split(".")[2] not in log, service.name
        assert "Traceback (most recent call last)" not in log or "│" not in log
