"""Property-based fuzzing of every service from its own OpenAPI document (schemathesis): valid
and invalid requests to every operation, as an admin, against the service's app served by
uvicorn on the test session's real NATS, Postgres and Stripe emulator. No answer may be a 5xx,
and every answer must be one the document declares for the operation, with the declared body.

Runs are reproducible: a fixed seed, Hypothesis derandomized, no example database.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tollgate_shared.infra.settings import DEV_JWT_SECRET
from tollgate_shared.testing import serve_app
from tollgate_shared.web.auth import issue_token

SERVICES = ["webhook-gateway", "checkout", "membership", "ledger", "notifications"]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 23,
        # Hypothesis's health checks time data generation: on a loaded machine they would fail
        # a run that found nothing.
        "suppress-health-check": ["all"],
        # valid and invalid requests; the same ones on every run
        "generation": {
            "mode": "all",
            "max-examples": 50,
            "deterministic": True,
            "database": "none",
        },
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
TRANSPORT_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection"})
# Schemathesis's strategies draw from `random`, which Hypothesis seeds for every example.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


def document(service: str) -> dict[str, Any]:
    """The OpenAPI document `service` serves (building its app connects to nothing)."""
    package = service.replace("-", "_")
    settings = importlib.import_module(f"{package}.config").Settings
    create_app = importlib.import_module(f"{package}.main").create_app
    app: FastAPI = create_app(settings(service_database_url="postgresql://unused.invalid/x"))
    return app.openapi()


DOCUMENTS = {service: document(service) for service in SERVICES}
SERVICE_OF_TITLE = {found["info"]["title"]: service for service, found in DOCUMENTS.items()}


@contextlib.contextmanager
def served_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve `app` under uvicorn on an event loop of its own thread, so that a synchronous
    client (schemathesis's) can call it; yields its base URL."""
    handoff: queue.Queue[tuple[str, Callable[[], None]] | BaseException] = queue.Queue()

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        async with serve_app(app) as url:
            handoff.put((url, lambda: loop.call_soon_threadsafe(stop.set)))
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:
            handoff.put(exc)

    thread = threading.Thread(target=run, name="fuzzed-app", daemon=True)
    thread.start()
    started = handoff.get(timeout=60)
    if isinstance(started, BaseException):
        raise started
    url, stop = started
    try:
        yield url
    finally:
        stop()
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def served(make_app: Callable[..., FastAPI]) -> Iterator[Callable[[str], str]]:
    """`served(service)`: the base URL of the service's app, started on first use (rate limits
    off, so that every example reaches the route's own checks); all stopped at the end."""
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:

        def url(service: str) -> str:
            if service not in urls:
                app = make_app(service, rate_limit_requests=0)
                urls[service] = stack.enter_context(served_in_thread(app))
            return urls[service]

        yield url


@pytest.fixture(scope="module")
def admin_headers() -> dict[str, str]:
    token = issue_token(DEV_JWT_SECRET, sub="fuzz-admin", email="fuzz@example.com", roles=["admin"])
    return {"Authorization": f"Bearer {token}"}


@schemathesis.pytest.parametrize(
    **{
        service.replace("-", "_"): schemathesis.openapi.from_dict(found, config=CONFIG)
        for service, found in DOCUMENTS.items()
    }
)
def test_api(case: Case, served: Callable[[str], str], admin_headers: dict[str, str]) -> None:
    base_url = served(SERVICE_OF_TITLE[case.operation.schema.raw_schema["info"]["title"]])
    # Framing headers are the HTTP client's to set: a malformed one is refused by the server's
    # HTTP parser (a plain-text 400) before any route of ours runs.
    for name in [h for h in case.headers or {} if h.lower() in TRANSPORT_HEADERS]:
        del case.headers[name]
    case.call_and_validate(base_url=base_url, headers=admin_headers, checks=CHECKS)
