"""The whole platform as separate processes (`tollgate run`), shared by every journey, and a
`Platform` helper that drives it the way a frontend, an organizer, an admin, a member's card
and a member's mailbox would: only through public HTTP APIs and the emulator's page and
controls."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import stripe

from tollgate_cli.stack import (
    EMULATOR_PORT,
    MAIL_HTTP_PORT,
    MAIL_SMTP_PORT,
    NATS_PORT,
    POSTGRES_PORT,
    SERVICES,
)
from tollgate_shared.infra.process import port_open
from tollgate_shared.infra.settings import DEV_STRIPE_KEY
from tollgate_shared.testing import PlatformClient, log_tails, wait_until

GOOD_CARD = "4242 4242 4242 4242"
STARTUP_TIMEOUT = 150.0
"""Cold start: initdb, five services migrating their databases, on a busy two-core machine."""
PIPELINE_TIMEOUT = 30.0
"""Emulator → gateway → JetStream → consumer → outbox → consumer → SMTP, under load."""

CONSUMERS = {
    "STRIPE": {"checkout", "membership", "ledger", "notifications"},
    "DOMAIN": {"checkout", "notifications"},
}
"""Durable consumers each stream must have (checked, so that draining is not vacuous)."""

ISOLATED = {"NATS_URL", "DATABASE_URL", "STRIPE_API_BASE", "SMTP_URL", "PUBLIC_BASE_URL"}
"""Variables that would point the stack at someone else's servers (e.g. a `make run` stack)."""


@dataclass(frozen=True)
class StackProcess:
    """A `tollgate run` child process and where its parts listen."""

    proc: subprocess.Popen[bytes]
    port_offset: int
    jwt_secret: str
    var_dir: Path
    banner: str
    webhook_secret: str
    """The secret the emulator signs the gateway's webhooks with."""

    def url(self, port: int) -> str:
        """A DESIGN.md port of this stack, as a base URL."""
        return f"http://127.0.0.1:{port + self.port_offset}"

    @property
    def service_urls(self) -> dict[str, str]:
        """Every service's base URL by name."""
        return {s.name: self.url(s.port) for s in SERVICES}

    @property
    def ports(self) -> list[int]:
        """Every port the stack listens on."""
        return [p + self.port_offset for p in _stack_ports()]

    def log_tails(self) -> str:
        """The end of every process's log, to explain a failure."""
        return log_tails(self.var_dir / "logs")


def _stack_ports() -> list[int]:
    fixed = [EMULATOR_PORT, MAIL_HTTP_PORT, MAIL_SMTP_PORT, NATS_PORT, POSTGRES_PORT]
    return [s.port for s in SERVICES] + fixed


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_offset() -> int:
    """An offset unique to this run (from the pid) at which every port of the stack is free.

    Offsets stay below Linux's ephemeral range (32768+), so no outgoing connection holds one
    of the stack's ports, and clear of offset 0 (a `make run` stack)."""
    for attempt in range(200):
        offset = 2000 + ((os.getpid() + attempt * 7) % 1500) * 10
        if all(_bindable(port + offset) for port in _stack_ports()):
            return offset
    raise RuntimeError("no port offset with every port of the stack free")


def run_environment(jwt_secret: str) -> dict[str, str]:
    """The environment of a test's `tollgate run`: none of the caller's servers (a `make run`
    stack, say), fresh secrets, mail polled often."""
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED}
    env = {k: v for k, v in env.items() if not k.endswith("_DATABASE_URL")}
    return env | {
        "STRIPE_SECRET_KEY": DEV_STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(24),
        "AUTH_JWT_SECRET": jwt_secret,
        "MAIL_POLL_INTERVAL": "0.2",
        "ENVIRONMENT": "development",
    }


def launch(
    var_dir: Path, port_offset: int, env: dict[str, str], *, own_group: bool = False
) -> subprocess.Popen[bytes]:
    """`python -m tollgate_cli run` on `var_dir` and the ports shifted by `port_offset`, its
    output in `var_dir/tollgate-run.out`; with `own_group` it leads a process group of its
    own, as a terminal's foreground job does."""
    args = ["--var-dir", str(var_dir), "--port-offset", str(port_offset)]
    with (var_dir / "tollgate-run.out").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tollgate_cli", "run", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=own_group,
        )


async def banner(proc: subprocess.Popen[bytes], var_dir: Path) -> str:
    """What `tollgate run` printed once it is up (it must not exit before)."""
    output = var_dir / "tollgate-run.out"

    def up() -> str | bool:
        text = output.read_text(errors="replace")
        if proc.poll() is not None:
            raise AssertionError(f"tollgate run exited with {proc.returncode}:\n{text}")
        return text if "Ctrl-C stops everything" in text else False

    return await wait_until(up, timeout=STARTUP_TIMEOUT, interval=0.2, message="stack up")


def _interrupt(proc: subprocess.Popen[bytes]) -> int:
    """Ctrl-C, as a developer stops `tollgate run`; its exit code (killed if it hangs)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    return proc.returncode


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StackProcess]:
    """`python -m tollgate_cli run` on its own ports, secrets and var dir; on teardown it must
    stop everything on Ctrl-C (SIGINT) and exit 0."""
    var_dir = tmp_path_factory.mktemp("stack")
    offset = free_port_offset()
    jwt_secret = secrets.token_urlsafe(32)
    env = run_environment(jwt_secret)
    proc = launch(var_dir, offset, env)
    try:
        text = await banner(proc, var_dir)
        running = StackProcess(
            proc, offset, jwt_secret, var_dir, text, env["STRIPE_WEBHOOK_SECRET"]
        )
        yield running
    finally:
        code = _interrupt(proc)
    assert code == 0, (var_dir / "tollgate-run.out").read_text(errors="replace")
    stopped = await wait_until(
        lambda: not any(port_open("127.0.0.1", p) for p in running.ports),
        timeout=10,
        message="every port closed",
    )
    assert stopped


@dataclass
class Platform(PlatformClient):
    """Drives the running stack over HTTP as its users and Stripe's test controls would."""

    stack: StackProcess
    http: httpx.AsyncClient
    admin: dict[str, str] = field(init=False)
    wait_timeout = PIPELINE_TIMEOUT

    def __post_init__(self) -> None:
        self.admin = self.bearer("e2e-admin", roles=["admin"])

    # --- where things are -------------------------------------------------------------------
    def service(self, name: str) -> str:
        """The base URL of a service (`checkout`, `membership`, `ledger`, ...)."""
        return self.stack.service_urls[name]

    @property
    def emulator(self) -> str:
        """The Stripe emulator's base URL (Stripe's API, hosted pages, test controls)."""
        return self.stack.url(EMULATOR_PORT)

    @property
    def jwt_secret(self) -> str:
        """The stack's `AUTH_JWT_SECRET`."""
        return self.stack.jwt_secret

    def logs(self) -> str:
        """The end of every process's log."""
        return self.stack.log_tails()

    @property
    def nats_url(self) -> str:
        """The stack's NATS server (for barriers only: journeys act through HTTP)."""
        return f"nats://127.0.0.1:{NATS_PORT + self.stack.port_offset}"

    @property
    def mail_sink(self) -> str:
        """The mail sink's HTTP base URL."""
        return self.stack.url(MAIL_HTTP_PORT)

    # --- identities -------------------------------------------------------------------------

    def organizer(self, group_id: str) -> dict[str, str]:
        """An organizer of `group_id`."""
        return self.bearer(f"org-{group_id}", roles=["organizer"], groups=[group_id])

    def member(self, user_id: str) -> dict[str, str]:
        """A member signed in as `user_id`, with the address `<user_id>@members.test`."""
        return self.bearer(user_id, email=self.email(user_id))

    @staticmethod
    def email(user_id: str) -> str:
        """The address a test member receives mail at."""
        return f"{user_id}@members.test"

    # --- the catalog and checkout -----------------------------------------------------------
    async def create_tier(self, group_id: str, **body: Any) -> dict[str, Any]:
        """An organizer adds a tier; it must be on Stripe at once."""
        body = {"name": "Supporter", "amount": 2000, "currency": "usd", "interval": "month"} | body
        tier = await self.call(
            "POST",
            "checkout",
            f"/groups/{group_id}/tiers",
            headers=self.organizer(group_id),
            json=body,
            expect=201,
        )
        assert tier["synced"], tier
        return tier

    async def checkout(
        self, user_id: str, body: dict[str, Any], *, expect: int = 201
    ) -> dict[str, Any]:
        """A member starts a Checkout Session (`{session_id, url, expires_at}` on success)."""
        return await self.call(
            "POST",
            "checkout",
            "/checkout/sessions",
            headers=self.member(user_id),
            json=body,
            expect=expect,
        )

    async def pay(
        self, url: str, *, card: str = GOOD_CARD, promotion_code: str | None = None
    ) -> httpx.Response:
        """Pay on the hosted Checkout page: GET the page, POST its form with a test card.

        Returns the answer: 303 to the success URL when paid, 402 with the decline shown."""
        page = await self.http.get(url)
        assert page.status_code == 200, f"GET {url}: {page.status_code} {page.text}"
        assert "<form method='post'>" in page.text, page.text
        assert "name='card_number'" in page.text, page.text
        form = {"card_number": card, "email": _input_value(page.text, "email")}
        if promotion_code is not None:
            form["promotion_code"] = promotion_code
        return await self.http.post(url, data=form)

    async def join_in_card_form(
        self, user_id: str, tier_id: str, *, expect: int = 201
    ) -> dict[str, Any]:
        """A member starts a membership in the app's own card form (`{subscription_id,
        client_secret, intent_type, status, trial_end}` on success)."""
        return await self.call(
            "POST",
            "checkout",
            "/checkout/subscriptions",
            headers=self.member(user_id),
            json={"tier_id": tier_id},
            expect=expect,
        )

    async def confirm(
        self, client_secret: str, payment_method: str = "pm_card_visa", **params: Any
    ) -> str:
        """Confirm the PaymentIntent (or a trial's SetupIntent, `seti_…`) of a card form's client
        secret with one of Stripe's test payment methods through the Stripe SDK, as Stripe.js
        does for the browser; its status then (a decline leaves it `requires_payment_method`)."""
        client = stripe.StripeClient(
            DEV_STRIPE_KEY, base_addresses={"api": self.emulator}, http_client=stripe.HTTPXClient()
        )
        intent = client_secret.split("_secret_")[0]
        confirming = {"payment_method": payment_method, **params}
        try:
            if intent.startswith("seti_"):
                setup = await client.v1.setup_intents.confirm_async(intent, confirming)
                return setup.status
            confirmed = await client.v1.payment_intents.confirm_async(intent, confirming)
        except stripe.CardError:
            return "requires_payment_method"
        return confirmed.status

    async def subscribe(self, user_id: str, group_id: str, tier_id: str) -> dict[str, Any]:
        """Check out `tier_id`, pay with a good card, and wait until the gate says active."""
        session = await self.checkout(user_id, {"tier_id": tier_id})
        paid = await self.pay(session["url"])
        assert paid.status_code == 303, paid.text
        return await self.wait_gate(
            user_id, group_id, lambda g: g["active"] and g["tier_id"] == tier_id
        )

    # --- what members, organizers and admins see --------------------------------------------
    async def gate(self, user_id: str, group_id: str) -> dict[str, Any]:
        """The membership gate, asked with the member's own token."""
        return await self.call(
            "GET",
            "membership",
            f"/entitlements/{user_id}/groups/{group_id}",
            headers=self.member(user_id),
        )

    async def wait_gate(
        self,
        user_id: str,
        group_id: str,
        condition: Callable[[dict[str, Any]], bool],
        message: str = "gate",
    ) -> dict[str, Any]:
        """Poll the gate until `condition` holds on its answer; returns that answer."""

        async def check() -> dict[str, Any] | None:
            answer = await self.gate(user_id, group_id)
            return answer if condition(answer) else None

        return await self.until(check, message=f"{message} for {user_id} in {group_id}")

    async def payments(self, user_id: str) -> list[dict[str, Any]]:
        """The member's payments as the ledger has them, newest first."""
        found = await self.call(
            "GET", "ledger", f"/users/{user_id}/payments", headers=self.member(user_id)
        )
        return found["payments"]

    async def summary(self, group_id: str) -> dict[str, Any] | None:
        """The group's ledger totals in its only currency (None before any entry)."""
        found = await self.call(
            "GET", "ledger", f"/groups/{group_id}/summary", headers=self.organizer(group_id)
        )
        totals = found["totals"]
        assert len(totals) <= 1, totals
        return totals[0] if totals else None

    async def booked_with_fee(self, group_id: str, user_id: str) -> dict[str, Any]:
        """The member's only payment, once the ledger has booked it and Stripe's fee for its
        charge (the group's totals: that payment's); returns the totals and `fee`."""
        [payment] = await self.until(
            lambda: self.payments(user_id), message=f"{user_id}'s payment in the ledger"
        )
        charge = await self.stripe(
            f"/charges/{payment['charge_id']}", **{"expand[]": "balance_transaction"}
        )
        fee = charge["balance_transaction"]["fee"]
        assert payment["amount"] == charge["amount"] and fee > 0, (payment, charge)

        async def booked() -> dict[str, Any] | None:
            totals = await self.summary(group_id)
            return totals if totals and totals["fees"] else None

        totals = await self.until(booked, message="payment and fee booked")
        assert (totals["gross"], totals["fees"]) == (charge["amount"], fee), totals
        assert totals["net"] == charge["amount"] - fee
        return {**totals, "fee": fee}

    async def transactions(self, group_id: str) -> list[dict[str, Any]]:
        """Every ledger transaction of the group with its entries, following the cursor."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = await self.call(
                "GET",
                "ledger",
                f"/groups/{group_id}/transactions",
                headers=self.organizer(group_id),
                params=params,
            )
            found += page["data"]
            if not page["next_cursor"]:
                return found
            params["cursor"] = page["next_cursor"]

    async def mails(self, to: str) -> list[dict[str, Any]]:
        """Messages the mail sink received for `to`, newest first."""
        response = await self.http.get(f"{self.mail_sink}/api/messages", params={"to": to})
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_mail(self, to: str, subject: str) -> dict[str, Any]:
        """Wait for a message to `to` whose subject matches the regular expression `subject`."""

        async def arrived() -> dict[str, Any] | None:
            found = (m for m in await self.mails(to) if re.search(subject, m["subject"]))
            return next(found, None)

        return await self.until(arrived, message=f"mail {subject!r} to {to}")

    # --- Stripe's test controls (`control` comes from PlatformClient) -----------------------
    async def advance(
        self, subscription_id: str, *, card: str | None = None, on_failure: str = "canceled"
    ) -> Any:
        """Bill the subscription's next period (or retry its open invoice when past due)."""
        body: dict[str, Any] = {"on_failure": on_failure}
        if card is not None:
            body["card_number"] = card
        return await self.control(f"/subscriptions/{subscription_id}/advance", body)

    @contextlib.asynccontextmanager
    async def deliveries_doubled_and_shuffled(self) -> AsyncIterator[None]:
        """Within the block every event reaches the gateway twice: through a second endpoint at
        the gateway's URL (in order), and through the stack's own newest first (what arrives
        within 0.3 s) — as Stripe may deliver them."""
        [own] = (await self.stripe("/webhook_endpoints"))["data"]
        second = await self.control(
            "/webhook_endpoints", {"url": own["url"], "secret": self.stack.webhook_secret}
        )
        shuffled = {"mode": "out_of_order", "window_seconds": 0.3, "endpoint": own["id"]}
        await self.control("/delivery", shuffled)
        try:
            yield
            await self.drained()
        finally:
            await self.control("/delivery", {"mode": "normal", "endpoint": own["id"]})
            removed = await self.http.delete(
                f"{self.emulator}/v1/webhook_endpoints/{second['id']}",
                headers={"Authorization": f"Bearer {DEV_STRIPE_KEY}"},
            )
            assert removed.status_code == 200, removed.text

    async def requests_to_stripe(self, method: str, path: str) -> int:
        """How many times the services called `method path` on Stripe."""
        response = await self.http.get(f"{self.emulator}/_emulator/requests")
        assert response.status_code == 200, response.text
        return sum(
            r["count"] for r in response.json() if r["method"] == method and r["path"] == path
        )

    # --- waiting ----------------------------------------------------------------------------
    async def drained(self) -> None:
        """Wait until Stripe has delivered every event to the gateway and every durable consumer
        has processed everything on the STRIPE and DOMAIN streams: after this, whatever the
        events so far cause has happened (save what an outbox has yet to relay)."""

        async def delivered() -> bool:
            pending = await self.stripe("/events", delivery_success="false", limit=1)
            return not pending["data"]

        await self.until(delivered, message="every Stripe event delivered")
        nc = await nats.connect(self.nats_url)
        try:
            js = nc.jetstream()

            async def idle() -> bool:
                for stream, durables in CONSUMERS.items():
                    found = {c.name: c for c in await js.consumers_info(stream)}
                    assert durables <= found.keys(), f"{stream} consumers: {sorted(found)}"
                    if any(c.num_pending or c.num_ack_pending for c in found.values()):
                        return False
                return True

            await self.until(idle, message="consumers drained")
        finally:
            await nc.close()

    async def dead_letters(self) -> dict[str, int]:
        """How many messages each DLQ subject holds (`dlq.<service>.<subject>`)."""
        nc = await nats.connect(self.nats_url)
        try:
            info = await nc.jetstream().stream_info("DLQ", subjects_filter=">")
            return dict(info.state.subjects or {})
        finally:
            await nc.close()


def _input_value(html: str, name: str) -> str:
    found = re.search(rf"name='{name}'[^>]*value='([^']*)'", html)
    return unescape(found.group(1)) if found else ""


@pytest.fixture(scope="session")
async def platform(stack: StackProcess) -> AsyncIterator[Platform]:
    """The helper every journey drives the stack with; after the last journey, nothing may
    have been dead-lettered."""
    async with httpx.AsyncClient(timeout=30) as http:
        platform = Platform(stack, http)
        yield platform
        await platform.drained()
    assert await platform.dead_letters() == {}, "the journeys left messages on the DLQ"
