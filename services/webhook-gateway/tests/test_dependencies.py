"""The gateway installs the shared package without its extras: it serves, stores events and
stops where SQLAlchemy, the Postgres driver, Alembic and the Stripe SDK are not installed."""

from pathlib import Path

import httpx
from nats.js import JetStreamContext

from tollgate_shared.messaging.streams import STRIPE

from .conftest import encode, make_event, signed, start_gateway

NOT_INSTALLED = ("sqlalchemy", "psycopg", "psycopg_pool", "alembic", "stripe")

WITHOUT_EXTRAS = f"""
import importlib.abc, runpy, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {NOT_INSTALLED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
runpy.run_module("webhook_gateway", run_name="__main__", alter_sys=True)
"""
"""`python -m webhook_gateway` as it runs where those packages are missing."""


async def test_the_gateway_runs_without_the_database_and_stripe_packages(
    nats_url: str, js: JetStreamContext, tmp_path: Path
) -> None:
    server, port = start_gateway(nats_url, tmp_path, python=("-c", WITHOUT_EXTRAS))
    try:
        event = make_event()
        body = encode(event)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            answer = await http.post("/webhooks/stripe", content=body, headers=signed(body))
            assert answer.status_code == 200, answer.text
            assert (await http.get("/readyz")).status_code == 200
    finally:
        server.stop()
    stored = await js.get_last_msg(STRIPE.name, f"stripe.{event['type']}")
    assert stored.headers is not None and stored.headers["Nats-Msg-Id"] == event["id"]
    assert "No module named" not in (tmp_path / "gateway.log").read_text()
