"""The platform as separate processes that the fault tests break one at a time, a stream of
realistic work to break them under, and the checks every fault test ends with.

Unlike `tests/e2e` (which runs `tollgate run` as one unit), every part here is its own child
process or proxy the harness can stop, SIGKILL and restart: each service, NATS (one node or a
three-node cluster), the shared Postgres, a second Postgres that only the ledger uses, the
Stripe emulator (behind a TCP proxy, so "Stripe is unreachable" can be switched on and off
without losing its in-memory state) and the mail sink (behind another one, for SMTP outages).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import nats.js.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tollgate_cli.stack import script
from tollgate_shared.infra.nats import nats_server_binary
from tollgate_shared.infra.postgres import start_postgres
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.infra.settings import database_name
from tollgate_shared.testing import PlatformClient, log_tails, unique, wait_until

SERVICES = ("webhook-gateway", "checkout", "membership", "ledger", "notifications")
CONSUMERS = {
    "STRIPE": ("checkout", "membership", "ledger", "notifications"),
    "DOMAIN": ("checkout", "notifications"),
}
"""Durable consumers each stream must have (checked, so that "idle" is never vacuous)."""
OWN_POSTGRES = "ledger"
"""The service whose database lives on a Postgres of its own, so it alone can lose it."""
GOOD_CARD = "4242424242424242"
SERVICES_STRIPE_KEY = "sk_test_tollgate_services"
"""The services' Stripe key: the emulator counts (and may storm) it apart from the harness's
`DEV_STRIPE_KEY` reads."""
SERVICES_STRIPE_RATE = "90"
"""The services share one Stripe budget (NATS KV) at live mode's rate with its margin."""
STARTUP_TIMEOUT = 180.0
RECOVERY_TIMEOUT = 90.0
"""From the end of a fault to everything settled: Stripe's retries, consumers' growing nak
delays (0.5, 1, 2, 5, 10 s ...), redelivery after `ACK_WAIT`, SMTP retries."""
ACK_WAIT = 5.0
"""The durables' ack wait in these tests (30 s in production): how soon JetStream redelivers
what a killed consumer had in hand. Only the time to recover depends on it."""
ISOLATED = {"NATS_URL", "DATABASE_URL", "STRIPE_API_BASE", "SMTP_URL", "PUBLIC_BASE_URL"}
CONSUMED = re.compile(r"^tollgate_consumer_messages_total\{(.*)\} (\S+)$", re.MULTILINE)
LABEL = re.compile(r'(\w+)="([^"]*)"')


def service_of(name: str) -> str:
    """The service a process runs: `membership` for `membership` and its replica `membership.2`."""
    return name.partition(".")[0]


def replica(service: str) -> str:
    """The name of a second process of `service` (same durables, same database)."""
    return f"{service}.2"


# --- plumbing ------------------------------------------------------------------------------


class Proxy:
    """A loopback TCP proxy that can be cut: while cut it resets every new connection at once
    (and, if asked, the open ones), as an unreachable server would."""

    def __init__(self, name: str, target_port: int) -> None:
        self.name = name
        self.target_port = target_port
        self.port = 0
        self.cut_off = False
        self.refused = 0
        """Connections reset while cut (so a test can tell the outage was felt)."""
        self.stalled = 0
        """Chunks of data that were kept back while held."""
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on a free loopback port (`port`)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and reset every open connection."""
        if self._server is not None:
            self._server.close()
            self.cut(abort_open=True)
            await self._server.wait_closed()

    @property
    def open_connections(self) -> int:
        """Connections being relayed right now."""
        return len(self._open)

    def cut(self, *, abort_open: bool) -> None:
        """Reset new connections; with `abort_open`, the open ones too."""
        self.cut_off = True
        if abort_open:
            for client, upstream in list(self._open):
                client.transport.abort()
                upstream.transport.abort()

    def restore(self) -> None:
        """Relay connections again."""
        self.cut_off = False

    def hold(self) -> None:
        """Keep back what either side sends, on every connection, until `release`: a server
        that stalls in the middle of an exchange."""
        self._flowing.clear()

    def release(self) -> None:
        """Deliver what was kept back, and relay as usual again."""
        self._flowing.set()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.cut_off:
            self.refused += 1
            client_w.transport.abort()
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        pair = (client_w, upstream_w)
        self._open.add(pair)
        try:
            await asyncio.gather(self._pipe(client_r, upstream_w), self._pipe(upstream_r, client_w))
        finally:
            self._open.discard(pair)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self._flowing.is_set():
                    self.stalled += 1
                    await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@dataclass
class NatsNode:
    """One `nats-server` with JetStream; in a cluster when `routes` are given."""

    name: str
    port: int
    store: Path
    log: Path
    cluster_port: int | None = None
    routes: list[int] = field(default_factory=list)
    process: ServerProcess | None = None

    def argv(self) -> list[str]:
        args = [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        args += ["-sd", str(self.store), "-n", self.name]
        if self.cluster_port is not None:
            args += ["--cluster_name", "tollgate-faults"]
            args += ["--cluster", f"nats://127.0.0.1:{self.cluster_port}"]
            args += ["--routes", ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)]
        return args

    async def start(self) -> None:
        self.process = ServerProcess(self.name, self.argv(), log_path=self.log)
        await asyncio.to_thread(self.process.wait_for_port, "127.0.0.1", self.port)

    def kill(self) -> None:
        """SIGKILL: no lame-duck mode, no flush."""
        assert self.process is not None
        self.process.proc.send_signal(signal.SIGKILL)
        self.process.proc.wait()
        self.process.stop()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


class Postgres:
    """An embedded Postgres under its own var dir that can be stopped and started again."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def start(self) -> None:
        self.process = await asyncio.to_thread(start_postgres, self.var_dir, port=self.port)

    async def stop(self) -> None:
        if self.process is not None:
            await asyncio.to_thread(self.process.stop)
            self.process = None


# --- the stack -----------------------------------------------------------------------------


class Stack(PlatformClient):
    """Every process of the platform, started and stopped one by one."""

    wait_timeout = RECOVERY_TIMEOUT
    wait_interval = 0.25

    def __init__(self, var_dir: Path, http: httpx.AsyncClient) -> None:
        self.var_dir = var_dir
        self.http = http
        self._jwt_secret = secrets.token_urlsafe(32)
        self.webhook_secret = "whsec_" + secrets.token_hex(24)
        self.ports = {name: free_port() for name in SERVICES}
        self.emulator_port = free_port()
        self.smtp_port, self.mail_http_port = free_port(), free_port()
        self.postgres = Postgres(var_dir / "pg-shared")
        self.own_postgres = Postgres(var_dir / f"pg-{OWN_POSTGRES}")
        self.stripe_proxy = Proxy("stripe", self.emulator_port)
        self.smtp_proxy = Proxy("smtp", self.smtp_port)
        self.nats: list[NatsNode] = []
        self.replicas = 1
        self.services: dict[str, ServerProcess] = {}
        self.overrides: dict[str, dict[str, str]] = {}
        """Variables a test gave a service on top of its environment (see `restart`)."""
        self.tools: list[ServerProcess] = []
        self.admin = self.bearer("faults-admin", roles=["admin"])

    # where things are
    def service(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def jwt_secret(self) -> str:
        return self._jwt_secret

    @property
    def emulator(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def mail_sink(self) -> str:
        return f"http://127.0.0.1:{self.mail_http_port}"

    @property
    def nats_url(self) -> str:
        return ",".join(node.url for node in self.nats)

    # start-up and shutdown
    async def start(self) -> None:
        await asyncio.gather(self.postgres.start(), self.own_postgres.start())
        await self.stripe_proxy.start()
        await self.smtp_proxy.start()
        self.nats = [self._node("single", free_port())]
        await self.nats[0].start()
        self._start_tools()
        await self._wait_tools()
        await self.start_services(*SERVICES)

    def _node(self, name: str, port: int, **cluster: Any) -> NatsNode:
        base = self.var_dir / "nats" / name
        return NatsNode(f"faults-{name}", port, base / "store", base / "nats.log", **cluster)

    def _start_tools(self) -> None:
        gateway = f"{self.service('webhook-gateway')}/webhooks/stripe={self.webhook_secret}"
        env = os.environ | {
            "STRIPE_EMULATOR_RETRY_BASE_SECONDS": "0.1",
            "STRIPE_EMULATOR_RETRY_MAX_SECONDS": "1",
            "STRIPE_EMULATOR_RETRY_MAX_ATTEMPTS": "200",
        }
        emulator = [sys.executable, "-m", "stripe_emulator", "--port", str(self.emulator_port)]
        emulator += ["--test-mode", "--webhook", gateway]
        sink = [sys.executable, "-m", "mail_sink", "--smtp-port", str(self.smtp_port)]
        sink += ["--http-port", str(self.mail_http_port)]
        logs = self.var_dir / "logs"
        self.tools = [
            ServerProcess("stripe-emulator", emulator, log_path=logs / "emulator.log", env=env),
            ServerProcess("mail-sink", sink, log_path=logs / "mail-sink.log"),
        ]

    async def _wait_tools(self) -> None:
        for tool, port in zip(self.tools, (self.emulator_port, self.mail_http_port), strict=True):
            await asyncio.to_thread(tool.wait_for_port, "127.0.0.1", port)

    def environment(self, service: str) -> dict[str, str]:
        """The service's environment: this stack's servers, secrets and short test timings."""
        env = {k: v for k, v in os.environ.items() if k not in ISOLATED}
        env = {k: v for k, v in env.items() if not k.endswith("_DATABASE_URL")}
        postgres = self.own_postgres if service == OWN_POSTGRES else self.postgres
        return (
            env
            | {
                "NATS_URL": self.nats_url,
                "NATS_STREAM_REPLICAS": str(self.replicas),
                "DATABASE_URL": postgres.url,
                "STRIPE_SECRET_KEY": SERVICES_STRIPE_KEY,
                "STRIPE_RATE_LIMIT": SERVICES_STRIPE_RATE,
                "STRIPE_API_BASE": f"http://127.0.0.1:{self.stripe_proxy.port}",
                "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
                "AUTH_JWT_SECRET": self.jwt_secret,
                "SMTP_URL": f"smtp://127.0.0.1:{self.smtp_proxy.port}",
                "PUBLIC_BASE_URL": self.service("checkout"),
                "ENVIRONMENT": "development",
                "GATEWAY_PUBLISH_TIMEOUT": "2",
                "MAIL_POLL_INTERVAL": "0.2",
                "MAIL_RETRY_BACKOFF": "[0.5, 1, 1, 2, 2]",
                "MAIL_MAX_ATTEMPTS": "60",
                "MAIL_TIMEOUT": "5",
            }
            | self.overrides.get(service, {})
        )

    async def start_services(self, *names: str) -> None:
        """Start services (or a service's `replica`) at once, migrating their databases, then
        wait for each."""
        for name in names:
            service = service_of(name)
            program = script(service)
            assert program, f"{service} is not installed (uv sync --all-packages)"
            port = self.ports.setdefault(name, free_port())
            argv = [program, "serve", "--port", str(port)]
            if service != "webhook-gateway":
                argv.append("--migrate")
            log = self.var_dir / "logs" / f"{name}.log"
            env = self.environment(service)
            self.services[name] = ServerProcess(name, argv, log_path=log, env=env)
        for name in names:
            await self._wait_healthy(name)
        await self.shorten_ack_wait()

    async def _wait_healthy(self, name: str) -> None:
        process = self.services[name]

        async def healthy() -> bool:
            if process.proc.poll() is not None:
                raise AssertionError(f"{name} exited:\n{process.log_tail(40)}")
            with contextlib.suppress(httpx.HTTPError):
                response = await self.http.get(self.service(name) + "/healthz", timeout=2)
                return response.status_code == 200
            return False

        await wait_until(healthy, timeout=STARTUP_TIMEOUT, interval=0.2, message=f"{name} up")

    async def restart(self, name: str, **env: str) -> None:
        """Stop a service (SIGTERM) and start it again with `env` on top of its environment
        (and without what an earlier `restart` gave it)."""
        await asyncio.to_thread(self.services.pop(name).stop)
        self.overrides[name] = env
        await self._forget_connections()
        await self.start_services(name)

    async def kill(self, name: str) -> None:
        """SIGKILL a service: no shutdown hook, no ack, no commit of what it was doing."""
        process = self.services.pop(name)
        process.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.proc.wait)
        process.stop()
        await self._forget_connections()

    async def _forget_connections(self) -> None:
        """Drop the client's kept-alive connections: one to a killed process may still look
        idle, and the next request on it fails instead of reaching the restarted one."""
        stale, self.http = self.http, httpx.AsyncClient(timeout=self.http.timeout)
        await stale.aclose()

    async def stop_services(self) -> None:
        for name in list(self.services):
            await asyncio.to_thread(self.services.pop(name).stop)

    async def stop(self) -> None:
        await self.stop_services()
        for tool in self.tools:
            await asyncio.to_thread(tool.stop)
        for node in self.nats:
            node.stop()
        await self.stripe_proxy.stop()
        await self.smtp_proxy.stop()
        await self.postgres.stop()
        await self.own_postgres.stop()

    # NATS
    async def jetstream(self) -> tuple[nats.NATS, Any]:
        nc = await nats.connect(self.nats_url.split(","), connect_timeout=2)
        return nc, nc.jetstream()

    async def shorten_ack_wait(self) -> None:
        """Give every durable `ACK_WAIT` (services keep an existing durable's settings)."""
        nc, js = await self.jetstream()
        try:
            for stream, durables in CONSUMERS.items():
                for durable in durables:
                    info = await js.consumer_info(stream, durable)
                    if info.config.ack_wait != ACK_WAIT:
                        info.config.ack_wait = ACK_WAIT
                        await js.add_consumer(stream, config=info.config)
        finally:
            await nc.close()

    def stop_nats(self) -> None:
        """SIGKILL the single NATS node (its store stays)."""
        [node] = self.nats
        node.kill()

    async def start_nats(self) -> None:
        """Start the single node again, on the same port and store."""
        [node] = self.nats
        await node.start()

    async def use_cluster(self) -> None:
        """Move every service onto a fresh three-node cluster with three-replica streams."""
        await self.stop_services()
        for node in self.nats:
            node.stop()
        ports = [free_port() for _ in range(3)]
        routes = [free_port() for _ in range(3)]
        self.nats = [
            self._node(f"n{i}", ports[i], cluster_port=routes[i], routes=routes) for i in range(3)
        ]
        await asyncio.gather(*(node.start() for node in self.nats))
        await wait_until(self._jetstream_ready, timeout=60, interval=0.2, message="cluster up")
        self.replicas = 3
        await self.start_services(*SERVICES)

    async def _jetstream_ready(self) -> bool:
        try:
            nc, js = await self.jetstream()
        except Exception:
            return False
        try:
            await js.account_info()
            return True
        except Exception:
            return False
        finally:
            await nc.close()

    def logs(self) -> str:
        """The end of every process's log, to explain a failure."""
        return log_tails(self.var_dir / "logs", lines=30)

    # HTTP (`call`, `stripe`, `control`, `until` come from PlatformClient)
    async def emulator_events(self) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.emulator}/_emulator/events")
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()
        return events

    def stripe_retries(self, service: str) -> Counter[tuple[str, str]]:
        """Requests `service`'s Stripe clients (of each of its processes) sent again after a
        network error, per (method, path), as their logs say: a request whose connection was
        reset after Stripe had received it reaches Stripe twice, as it would in production."""
        found: Counter[tuple[str, str]] = Counter()
        for path in (self.var_dir / "logs").glob(f"{service}*.log"):
            log = path.read_text(errors="replace")
            pattern = r"Initiating retry \d+ for request (\w+) \S*?(/v1/\S+) after"
            found.update((m.upper(), p) for m, p in re.findall(pattern, log))
        return found

    def database_url(self, service: str) -> str:
        """The URL of `service`'s own database."""
        server = self.own_postgres if service == OWN_POSTGRES else self.postgres
        return server.url.rsplit("/", 1)[0] + "/" + database_name(service)

    async def consumed(self, name: str) -> Counter[tuple[str, str, str]]:
        """Per (stream, durable, outcome), the deliveries one process's consumers finished
        (its `/metrics`)."""
        consumed: Counter[tuple[str, str, str]] = Counter()
        metrics = (await self.http.get(self.service(name) + "/metrics")).text
        for labels, value in CONSUMED.findall(metrics):
            found = dict(LABEL.findall(labels))
            consumed[(found["stream"], found["consumer"], found["outcome"])] += int(float(value))
        return consumed

    async def msg_ids(self, stream: str) -> list[str]:
        """The `Nats-Msg-Id` of every message on `stream`, in stream order."""
        nc, js = await self.jetstream()
        try:
            info = await js.stream_info(stream)
            config = ConsumerConfig(
                ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30
            )
            sub = await js.pull_subscribe(">", stream=stream, config=config)
            ids: list[str] = []
            deadline = time.monotonic() + 30
            while len(ids) < info.state.messages and time.monotonic() < deadline:
                try:
                    for msg in await sub.fetch(500, timeout=2):
                        ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
                except nats.errors.TimeoutError:
                    continue
                except nats.js.errors.ServiceUnavailableError:
                    # The server answered the pull 503 (its consumer not ready yet, seen right
                    # after a faulted run): ask again, until the deadline.
                    await asyncio.sleep(0.2)
            await sub.unsubscribe()
            return ids
        finally:
            await nc.close()

    async def stripe_requests(self) -> Counter[tuple[str, str]]:
        """How many times the services called each (method, path) on Stripe."""
        response = await self.http.get(f"{self.emulator}/_emulator/requests")
        assert response.status_code == 200, response.text
        return Counter({(r["method"], r["path"]): r["count"] for r in response.json()})

    async def post_webhook(self, event: dict[str, Any]) -> httpx.Response:
        """Deliver `event` to the gateway signed as Stripe signs (`Stripe-Signature`)."""
        payload = json.dumps(event)
        stamp = int(time.time())
        digest = hmac.new(
            self.webhook_secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        return await self.http.post(
            self.service("webhook-gateway") + "/webhooks/stripe",
            content=payload,
            headers={
                "Stripe-Signature": f"t={stamp},v1={digest}",
                "Content-Type": "application/json",
            },
        )

    async def failed_deliveries(self) -> int:
        """Webhook deliveries the gateway did not answer 2xx (a 503, or no answer)."""
        response = await self.http.get(f"{self.emulator}/_emulator/deliveries")
        assert response.status_code == 200, response.text
        return sum(1 for d in response.json() if not d["succeeded"])

    async def mails(self) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.mail_sink}/api/messages")
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()
        return messages


@pytest.fixture(scope="package")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The platform for every fault test of this folder (each uses its own group and users)."""
    var_dir = tmp_path_factory.mktemp("faults")
    running = Stack(var_dir, httpx.AsyncClient(timeout=30))
    try:
        await running.start()
        yield running
    finally:
        await running.stop()
        await running.http.aclose()  # the latest client: `kill` and `restart` replace it


# --- the work ------------------------------------------------------------------------------


@dataclass
class Member:
    """A member of the run's group, what happens to them, and what it should end as."""

    user: str
    tier: str
    session: str
    renews: bool = False
    refunded: bool = False
    switch_to: str | None = None
    switch_session: str | None = None
    subscriptions: list[str] = field(default_factory=list)
    customers: set[str] = field(default_factory=set)

    @property
    def email(self) -> str:
        return f"{self.user}@members.test"

    @property
    def final_tier(self) -> str:
        return self.switch_to or self.tier


Step = Callable[[], Awaitable[None]]


class Workload:
    """N members of one new group joining through Checkout, some renewing, some switching tier
    (the old subscription is cancelled through Stripe), some buying a one-time annual
    membership that an admin then refunds in full (access ends) — and the checks."""

    def __init__(self, stack: Stack, members: int) -> None:
        self.stack = stack
        self.size = members
        self.group = unique("grp")
        self.organizer = stack.bearer(f"org-{self.group}", roles=["organizer"], groups=[self.group])
        self.members: list[Member] = []
        self.tiers: dict[str, str] = {}
        self.earlier_events: set[str] = set()
        self.requests_before: Counter[tuple[str, str]] = Counter()
        self.refund_ids: list[str] = []

    async def prepare(self) -> None:
        """Tiers and every Checkout Session, through checkout's API, before any fault."""
        self.earlier_events = {e["id"] for e in await self.stack.emulator_events()}
        self.requests_before = await self.stack.stripe_requests()
        for key, amount, interval in (
            ("basic", 1000, "month"),
            ("plus", 2500, "month"),
            ("annual", 12000, "one_time_annual"),
        ):
            tier = await self.stack.call(
                "POST",
                "checkout",
                f"/groups/{self.group}/tiers",
                headers=self.organizer,
                json={"name": key, "amount": amount, "currency": "usd", "interval": interval},
                expect=201,
            )
            self.tiers[key] = tier["id"]
        for i in range(self.size):
            user = unique("usr")
            kind = ("annual", "basic", "plus", "basic", "plus")[i % 5]
            member = Member(user, self.tiers[kind], await self._session(user, self.tiers[kind]))
            member.renews = kind == "plus"
            member.refunded = kind == "annual" and i % 10 == 0
            if i % 5 == 1:
                member.switch_to = self.tiers["plus"]
                member.switch_session = await self._session(user, member.switch_to)
            self.members.append(member)

    async def _session(self, user: str, tier: str) -> str:
        headers = self.stack.bearer(user, email=f"{user}@members.test")
        found = await self.stack.call(
            "POST",
            "checkout",
            "/checkout/sessions",
            headers=headers,
            json={"tier_id": tier},
            expect=201,
        )
        return str(found["session_id"])

    def steps(self) -> list[Step]:
        """The stream: members pay one after another; two steps behind, earlier members renew
        or switch tier. Every step is a call to Stripe (the emulator), never to our services."""
        steps: list[Step] = []
        for i in range(len(self.members) + 2):
            if i < len(self.members):
                steps.append(lambda m=self.members[i]: self._pay(m, m.session))
            if i >= 2:
                earlier = self.members[i - 2]
                if earlier.renews:
                    steps.append(lambda m=earlier: self._renew(m))
                if earlier.switch_session:
                    steps.append(lambda m=earlier: self._switch(m))
        return steps

    async def _pay(self, member: Member, session: str) -> None:
        paid = await self.stack.control(
            f"/checkout/sessions/{session}/complete",
            {"card_number": GOOD_CARD, "email": member.email},
        )
        assert paid["outcome"] == "paid", paid
        completed = paid["session"]
        member.customers.add(_id(completed["customer"]))
        if completed.get("subscription"):
            member.subscriptions.append(_id(completed["subscription"]))

    async def _switch(self, member: Member) -> None:
        """Pay the other tier's session in a later second than the first subscription's:
        Stripe stamps whole seconds, and membership tells which of a member's subscriptions
        is newer by that stamp when the session does not name the one it replaces (these
        sessions were opened before the first payment, so they cannot)."""
        joined = await self.stack.stripe(f"/subscriptions/{member.subscriptions[0]}")
        await wait_until(
            lambda: time.time() >= joined["created"] + 1, timeout=5, message="a later second"
        )
        await self._pay(member, str(member.switch_session))

    async def _renew(self, member: Member) -> None:
        renewed = await self.stack.control(
            f"/subscriptions/{member.subscriptions[-1]}/advance", {"on_failure": "canceled"}
        )
        assert renewed, renewed

    async def run(self, faults: list[tuple[int, Step]] | None = None) -> None:
        """Every step in order; each `(k, fault)` runs just before step k (several may share
        a k, in the order given): a fault or a recovery."""
        faults = faults or []
        assert all(k < self.stream_length for k, _ in faults), "a fault after the last step"
        for k, step in enumerate(self.steps()):
            for _, fault in (f for f in faults if f[0] == k):
                await fault()
            await step()

    @property
    def stream_length(self) -> int:
        return len(self.steps())

    async def refund(self) -> None:
        """An admin refunds each one-time membership chosen for it, in full, through the
        ledger (once the ledger has the payment)."""
        for member in self.members:
            if not member.refunded:
                continue
            headers = self.stack.bearer(member.user, email=member.email)

            async def booked(user: str = member.user, h: dict[str, str] = headers) -> Any:
                found = await self.stack.call("GET", "ledger", f"/users/{user}/payments", headers=h)
                return found["payments"]

            [payment] = await self.stack.until(booked, message=f"{member.user}'s payment booked")
            refund = await self.stack.call(
                "POST",
                "ledger",
                f"/payments/{payment['charge_id']}/refunds",
                headers=self.stack.admin | {"Idempotency-Key": f"refund-{member.user}"},
                json={"reason": "requested_by_customer"},
                expect=202,
            )
            self.refund_ids.append(refund["refund_id"])

    # --- the checks -------------------------------------------------------------------------
    async def verify(self, *, dead_letters: dict[str, int] | None = None) -> None:
        """Everything settles, then: each event the gateway accepted is on STRIPE once and
        every consumer has processed everything (idle; the DLQ holds only `dead_letters`);
        the gates are what this work should give; the ledger balances and equals Stripe's
        charges; one receipt per payment, no mail twice; no Stripe call made twice."""
        expected = await self._expected_from_stripe()
        await self._settle(self._delivered, None, "every Stripe event delivered")
        await self._settle(self._gates_match, self._assert_gates, "gates as expected")
        await self._settle(
            lambda: self._ledger_matches(expected),
            lambda: self._assert_ledger(expected),
            "ledger equals Stripe",
        )
        await self._settle(
            lambda: self._mails_arrived(expected),
            lambda: self._assert_mails(expected),
            "every receipt and refund mail",
        )
        await self._settle(self._consumers_idle, None, "consumers idle")
        # Settled: now everything must be exactly so (nothing more may arrive after this).
        assert await self._delivered()
        assert await self._consumers_idle()
        await self._assert_stored_once()
        assert await self._dead_letters() == (dead_letters or {})
        await self._assert_gates()
        await self._assert_ledger(expected)
        await self._assert_mails(expected)
        await self._assert_stripe_calls()

    async def _settle(
        self,
        condition: Callable[[], Awaitable[bool]],
        explain: Callable[[], Awaitable[None]] | None,
        message: str,
    ) -> None:
        """Wait for `condition`; if it never holds, `explain` fails with the difference."""
        try:
            await self.stack.until(condition, message=message)
        except AssertionError:
            if explain is not None:
                await explain()
            raise

    async def run_events(self) -> list[dict[str, Any]]:
        """The Stripe events created since this workload was prepared, oldest first."""
        return [e for e in await self.stack.emulator_events() if e["id"] not in self.earlier_events]

    async def _delivered(self) -> bool:
        pending = await self.stack.stripe("/events", delivery_success="false", limit=1)
        return not pending["data"]

    async def _consumers_idle(self) -> bool:
        nc, js = await self.stack.jetstream()
        try:
            for stream, durables in CONSUMERS.items():
                for durable in durables:
                    try:
                        info = await js.consumer_info(stream, durable)
                    except nats.errors.TimeoutError:
                        return False  # a cluster still settling after a fault: ask again
                    if info.num_pending or info.num_ack_pending:
                        return False
            return True
        finally:
            await nc.close()

    async def _dead_letters(self) -> dict[str, int]:
        nc, js = await self.stack.jetstream()
        try:
            info = await js.stream_info("DLQ", subjects_filter=">")
            return dict(info.state.subjects or {})
        finally:
            await nc.close()

    async def _assert_stored_once(self) -> None:
        """Every event of this run is on STRIPE exactly once (the gateway answered 200 only
        after JetStream's ack; retries after a 503 or a lost answer were deduplicated)."""
        run_ids = {e["id"] for e in await self.run_events()}
        on_stripe = await self.stack.msg_ids("STRIPE")
        stored = Counter(msg_id for msg_id in on_stripe if msg_id in run_ids)
        assert set(stored) == run_ids, f"not on STRIPE: {sorted(run_ids - set(stored))}"
        assert {k: n for k, n in stored.items() if n > 1} == {}

    async def _gate(self, member: Member) -> dict[str, Any]:
        found: dict[str, Any] = await self.stack.call(
            "GET",
            "membership",
            f"/entitlements/{member.user}/groups/{self.group}",
            headers=self.stack.bearer(member.user, email=member.email),
        )
        return found

    def _expected_gate(self, member: Member) -> tuple[bool, str | None]:
        if member.refunded:
            return False, None
        return True, member.final_tier

    async def _gates_match(self) -> bool:
        for member in self.members:
            gate = await self._gate(member)
            active, tier = self._expected_gate(member)
            if gate["active"] != active or (active and gate["tier_id"] != tier):
                return False
        return True

    async def _assert_gates(self) -> None:
        for member in self.members:
            gate = await self._gate(member)
            active, tier = self._expected_gate(member)
            at_stripe = {
                s: (await self.stack.stripe(f"/subscriptions/{s}"))["status"]
                for s in member.subscriptions
            }
            context = {"member": member, "gate": gate, "subscriptions at Stripe": at_stripe}
            assert gate["active"] is active, context
            if active:
                assert gate["tier_id"] == tier, context
            if member.switch_to:
                assert gate["subscription_id"] == member.subscriptions[-1], context

    async def _expected_from_stripe(self) -> dict[str, Any]:
        """What Stripe moved for this group's members: totals, and charges per member."""
        gross = fees = refunds = 0
        charges: dict[str, int] = {}
        for member in self.members:
            charges[member.user] = 0
            for customer in member.customers:
                found = await self.stack.stripe(
                    "/charges",
                    customer=customer,
                    limit=100,
                    **{"expand[]": "data.balance_transaction"},
                )
                for charge in found["data"]:
                    if charge["status"] != "succeeded":
                        continue
                    charges[member.user] += 1
                    gross += charge["amount"]
                    fees += charge["balance_transaction"]["fee"]
                    refunds += charge["amount_refunded"]
        totals = {
            "gross": gross,
            "refunds": refunds,
            "disputes": 0,
            "fees": fees,
            "net": gross - refunds - fees,
        }
        return {"totals": totals, "charges": charges}

    async def _summary(self) -> dict[str, Any] | None:
        found = await self.stack.call(
            "GET", "ledger", f"/groups/{self.group}/summary", headers=self.organizer
        )
        totals = found["totals"]
        assert len(totals) <= 1, totals
        return totals[0] if totals else None

    async def _ledger_matches(self, expected: dict[str, Any]) -> bool:
        summary = await self._summary()
        return bool(summary) and _totals(summary) == expected["totals"]

    async def _assert_ledger(self, expected: dict[str, Any]) -> None:
        summary = await self._summary()
        assert summary is not None and _totals(summary) == expected["totals"], summary
        params: dict[str, Any] = {"limit": 100}
        transactions: list[dict[str, Any]] = []
        while True:
            page = await self.stack.call(
                "GET",
                "ledger",
                f"/groups/{self.group}/transactions",
                headers=self.organizer,
                params=params,
            )
            transactions += page["data"]
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        assert transactions
        for transaction in transactions:
            by_currency: Counter[str] = Counter()
            for entry in transaction["entries"]:
                by_currency[entry["currency"]] += entry["amount"]
            assert all(v == 0 for v in by_currency.values()), transaction
        keys = Counter(t["key"] for t in transactions)
        assert {k: n for k, n in keys.items() if n > 1} == {}

    async def _member_mails(self) -> dict[str, list[dict[str, Any]]]:
        emails = {m.email: m.user for m in self.members}
        found: dict[str, list[dict[str, Any]]] = {m.user: [] for m in self.members}
        for mail in await self.stack.mails():
            for to in mail["to"]:
                if to in emails:
                    found[emails[to]].append(mail)
        return found

    async def _mails_arrived(self, expected: dict[str, Any]) -> bool:
        mails = await self._member_mails()
        for member in self.members:
            subjects = [m["subject"] for m in mails[member.user]]
            receipts = sum(1 for s in subjects if s.startswith("Receipt"))
            refunds = sum(1 for s in subjects if s.startswith("Refund"))
            if receipts < expected["charges"][member.user] or refunds < int(member.refunded):
                return False
        return True

    async def _assert_mails(self, expected: dict[str, Any]) -> None:
        mails = await self._member_mails()
        for member in self.members:
            subjects = [m["subject"] for m in mails[member.user]]
            receipts = [s for s in subjects if s.startswith("Receipt")]
            refunds = [s for s in subjects if s.startswith("Refund")]
            assert len(receipts) == expected["charges"][member.user], (member, subjects)
            assert len(refunds) == int(member.refunded), (member, subjects)
        every = [m for found in mails.values() for m in found]
        twice = Counter(m["message_id"] for m in every)
        assert {k: n for k, n in twice.items() if n > 1} == {}, "a mail was sent twice"

    async def _assert_stripe_calls(self) -> None:
        """Each switch cancelled its old subscription once; nothing else was cancelled; one
        refund call per refund asked for; no transfer."""
        made = await self.stack.stripe_requests() - self.requests_before
        resent = self.stack.stripe_retries("membership")
        for member in self.members:
            for i, subscription in enumerate(member.subscriptions):
                call = ("DELETE", f"/v1/subscriptions/{subscription}")
                superseded = member.switch_to is not None and i < len(member.subscriptions) - 1
                # A cancel resent by the client after a reset may have reached Stripe too.
                expected = range(int(superseded), int(superseded) + resent[call] + 1)
                assert made[call] in expected, (member, subscription, made[call], resent[call])
        assert made[("POST", "/v1/refunds")] == len(self.refund_ids)
        assert made[("POST", "/v1/transfers")] == 0


def _totals(summary: dict[str, Any]) -> dict[str, int]:
    return {k: summary[k] for k in ("gross", "refunds", "disputes", "fees", "net")}


def _id(ref: Any) -> str:
    return str(ref["id"] if isinstance(ref, dict) else ref)


@pytest.fixture
def workload(stack: Stack) -> Callable[[int], Workload]:
    """Factory: a fresh group with `n` members on the shared stack."""
    return lambda n: Workload(stack, n)
