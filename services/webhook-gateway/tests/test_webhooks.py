"""The gateway over real HTTP against real NATS JetStream."""

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from nats.js import JetStreamContext

from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import serve_app
from webhook_gateway.config import Settings
from webhook_gateway.main import create_app

from .conftest import SECRETS, encode, make_event, signed


async def stored_count(js: JetStreamContext, subject: str) -> int:
    info = await js.stream_info(STRIPE.name, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def stream_total(js: JetStreamContext) -> int:
    return (await js.stream_info(STRIPE.name)).state.messages


async def test_valid_event_is_stored_and_acknowledged(gateway: httpx.AsyncClient, js) -> None:
    event = make_event()
    body = encode(event)
    response = await gateway.post("/webhooks/stripe", content=body, headers=signed(body))

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "id": event["id"], "duplicate": False}
    subject = f"stripe.{event['type']}"
    assert await stored_count(js, subject) == 1
    stored = await js.get_last_msg(STRIPE.name, subject)
    assert stored.data == body
    assert stored.headers["Nats-Msg-Id"] == event["id"]
    assert stored.headers["traceparent"].startswith("00-"), "the trace continues in consumers"


async def test_five_sequential_deliveries_store_once(gateway: httpx.AsyncClient, js) -> None:
    event = make_event()
    body = encode(event)
    answers = [
        (await gateway.post("/webhooks/stripe", content=body, headers=signed(body))).json()
        for _ in range(5)
    ]
    assert [a["duplicate"] for a in answers] == [False, True, True, True, True]
    assert await stored_count(js, f"stripe.{event['type']}") == 1


async def test_five_concurrent_deliveries_store_once(gateway: httpx.AsyncClient, js) -> None:
    event = make_event()
    body = encode(event)
    responses = await asyncio.gather(
        *(gateway.post("/webhooks/stripe", content=body, headers=signed(body)) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [200] * 5
    assert sum(not r.json()["duplicate"] for r in responses) == 1
    assert await stored_count(js, f"stripe.{event['type']}") == 1


async def test_unconsumed_event_types_are_stored_too(gateway: httpx.AsyncClient, js) -> None:
    event = make_event("customer.tax_id.created")
    body = encode(event)
    assert (
        await gateway.post("/webhooks/stripe", content=body, headers=signed(body))
    ).status_code == 200
    msg = await js.get_last_msg(STRIPE.name, "stripe.customer.tax_id.created")
    assert msg.headers["Nats-Msg-Id"] == event["id"]


def _bad_requests() -> list[tuple[str, Callable[[], tuple[bytes, dict]], int, str]]:
    def good() -> bytes:
        return encode(make_event())

    def stale() -> tuple[bytes, dict]:
        body = good()
        return body, signed(body, timestamp=int(time.time()) - 3600)

    def tampered() -> tuple[bytes, dict]:
        body = good()
        headers = signed(body)
        return body.replace(b"2000", b"9000"), headers

    def unsigned_json(raw: bytes) -> Callable[[], tuple[bytes, dict]]:
        return lambda: (raw, signed(raw))

    return [
        ("missing signature", lambda: (good(), {}), 400, "missing_signature"),
        (
            "wrong secret",
            lambda: (b := good(), signed(b, "whsec_unknown")),
            400,
            "signature_mismatch",
        ),
        ("tampered body", tampered, 400, "signature_mismatch"),
        ("stale timestamp", stale, 400, "stale_timestamp"),
        (
            "malformed header",
            lambda: (good(), {"Stripe-Signature": "nonsense"}),
            400,
            "malformed_signature",
        ),
        ("malformed json", unsigned_json(b"{not json"), 400, "invalid_event"),
        ("json but not an event", unsigned_json(b'{"hello": "world"}'), 400, "invalid_event"),
        (
            "event without data.object",
            unsigned_json(encode(make_event(data={}))),
            400,
            "invalid_event",
        ),
        ("bad event id", unsigned_json(encode(make_event(id="42"))), 400, "invalid_event"),
    ]


@pytest.mark.parametrize(
    ("name", "build", "status", "code"), _bad_requests(), ids=[b[0] for b in _bad_requests()]
)
async def test_bad_input_is_rejected_and_stores_nothing(
    gateway: httpx.AsyncClient, js, name: str, build, status: int, code: str
) -> None:
    before = await stream_total(js)
    body, headers = build()
    response = await gateway.post("/webhooks/stripe", content=body, headers=headers)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert await stream_total(js) == before


async def metric(gateway: httpx.AsyncClient, sample: str) -> float:
    """A sample of the gateway's /metrics, e.g. `gateway_events_received_total`."""
    for row in (await gateway.get("/metrics")).text.splitlines():
        if row.startswith(sample + " "):
            return float(row.removeprefix(sample + " "))
    return 0.0


async def rejected_total(gateway: httpx.AsyncClient, reason: str) -> float:
    """`gateway_events_rejected_total{reason}` as the gateway's /metrics shows it."""
    return await metric(gateway, f'gateway_events_rejected_total{{reason="{reason}"}}')


async def test_every_delivery_is_counted_as_received(gateway: httpx.AsyncClient) -> None:
    """Each delivery counts once, stored, refused or too large alike."""
    received = await metric(gateway, "gateway_events_received_total")
    body = encode(make_event())
    answers = [
        await gateway.post("/webhooks/stripe", content=body, headers=signed(body)),
        await gateway.post("/webhooks/stripe", content=body, headers={}),
        await gateway.post("/webhooks/stripe", content=b"x" * 2_000_000, headers=signed(body)),
    ]
    assert [a.status_code for a in answers] == [200, 400, 413]
    assert await metric(gateway, "gateway_events_received_total") == received + 3


UNSTORABLE = {
    "id of 256 characters": {"id": "evt_" + "a" * 252},
    "id of 300 characters": {"id": "evt_" + "A1" * 148},
    "id with a non-ASCII letter": {"id": "evt_1Ab\u00e9"},
    "id with a dash": {"id": "evt_1Ab-2"},
    "id with a space": {"id": "evt_1Ab 2"},
    "id with a newline at the end": {"id": "evt_1Ab2\n"},
    "id of the prefix alone": {"id": "evt_"},
    "empty token inside the type": {"type": "invoice..paid"},
    "empty first token": {"type": ".x"},
    "empty last token": {"type": "x."},
    "type of one dot": {"type": "."},
    "wildcard token": {"type": "invoice.*"},
    "full wildcard": {"type": "invoice.>"},
    "space in the type": {"type": "invoice paid"},
    "tab in the type": {"type": "invoice.\tpaid"},
    "upper case type": {"type": "Invoice.Paid"},
    "type of 101 characters": {"type": "x" * 101},
}


@pytest.mark.parametrize("changes", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_ids_and_types_no_consumer_can_store_are_400_and_counted(
    gateway: httpx.AsyncClient, js, changes: dict[str, str]
) -> None:
    """Event ids beyond Stripe's form (`evt_` + letters, digits, underscores) and length (255),
    and types that are no NATS subject, are refused: never stored (a consumer would give up on
    them), never a 503 (Stripe would retry them for days)."""
    before, rejected = await stream_total(js), await rejected_total(gateway, "invalid_event")
    body = encode(make_event(**changes))
    response = await gateway.post("/webhooks/stripe", content=body, headers=signed(body))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid_event" and error["message"]
    assert [d["loc"] for d in error["details"]] == [list(changes)]
    assert await stream_total(js) == before
    assert await rejected_total(gateway, "invalid_event") == rejected + 1


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "evt_" + "a" * 251},
        {"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy"},
        {"id": "evt_backfill_0123abcd"},
        {"type": "a" * 50 + "." + "b" * 49},
        {"type": "treasury.outbound_payment.expected_arrival_date_updated"},
    ],
    ids=["id of 255 characters", "Stripe's id", "an imported event's id", "type of 100", "long"],
)
async def test_ids_and_types_at_the_bounds_are_stored(
    gateway: httpx.AsyncClient, js, changes: dict[str, str]
) -> None:
    event = make_event(**changes)
    body = encode(event)
    response = await gateway.post("/webhooks/stripe", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    stored = await js.get_last_msg(STRIPE.name, f"stripe.{event['type']}")
    assert stored.headers["Nats-Msg-Id"] == event["id"]


async def test_body_over_limit_is_413_with_or_without_length(
    gateway_settings: Callable[..., Settings], js
) -> None:
    settings = gateway_settings(webhook_max_body_bytes=4096)
    body = encode(make_event(data={"object": {"id": "in_1", "padding": "x" * 5000}}))
    before = await stream_total(js)
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        declared = await client.post("/webhooks/stripe", content=body, headers=signed(body))

        async def chunks():
            for i in range(0, len(body), 1000):
                yield body[i : i + 1000]

        streamed = await client.post("/webhooks/stripe", content=chunks(), headers=signed(body))
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
    assert await stream_total(js) == before


async def test_wrong_method_and_path(gateway: httpx.AsyncClient) -> None:
    wrong_method = await gateway.get("/webhooks/stripe")
    wrong_path = await gateway.post("/webhooks/other", content=b"{}")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert wrong_path.status_code == 404
    assert wrong_path.json()["error"]["code"] == "not_found"


async def test_secret_rotation(gateway_settings: Callable[..., Settings], js) -> None:
    old, new = SECRETS[1], SECRETS[0]
    events = {secret: make_event() for secret in (old, new)}
    async with (
        serve_app(create_app(gateway_settings())) as url,
        httpx.AsyncClient(base_url=url) as c,
    ):
        for secret, event in events.items():
            body = encode(event)
            response = await c.post("/webhooks/stripe", content=body, headers=signed(body, secret))
            assert response.status_code == 200
    rotated = gateway_settings(stripe_webhook_secret=new)
    async with serve_app(create_app(rotated)) as url, httpx.AsyncClient(base_url=url) as c:
        late = make_event()
        body = encode(late)
        refused = await c.post("/webhooks/stripe", content=body, headers=signed(body, old))
        accepted = await c.post("/webhooks/stripe", content=body, headers=signed(body, new))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "signature_mismatch"
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("mode", "live"),
    [
        ({"stripe_livemode": True}, True),
        ({"stripe_livemode": False}, False),
        ({"stripe_secret_key": "sk_live_0123456789"}, True),
        ({"stripe_secret_key": "rk_test_0123456789"}, False),
    ],
    ids=["STRIPE_LIVEMODE=true", "STRIPE_LIVEMODE=false", "live key", "restricted test key"],
)
async def test_events_of_the_other_mode_are_rejected_and_not_stored(
    gateway_settings: Callable[..., Settings], js, mode: dict, live: bool
) -> None:
    same, other = make_event(livemode=live), make_event(livemode=not live)
    async with (
        serve_app(create_app(gateway_settings(**mode))) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        answers = [
            await client.post("/webhooks/stripe", content=body, headers=signed(body))
            for body in (encode(same), encode(other))
        ]
    assert [a.status_code for a in answers] == [200, 400]
    assert answers[1].json()["error"]["code"] == "livemode_mismatch"
    assert await stored_count(js, f"stripe.{same['type']}") == 1
    assert await stored_count(js, f"stripe.{other['type']}") == 0


async def test_events_of_other_accounts_are_rejected_and_not_stored(
    gateway_settings: Callable[..., Settings], js
) -> None:
    platform = "acct_1Platform0123"
    own, named_own = make_event(), make_event(account=platform)
    connected = make_event(account="acct_1Connected456")
    async with (
        serve_app(create_app(gateway_settings(stripe_account_id=platform))) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        answers = [
            await client.post("/webhooks/stripe", content=body, headers=signed(body))
            for body in map(encode, (own, named_own, connected))
        ]
    assert [a.status_code for a in answers] == [200, 200, 400]
    assert answers[2].headers["content-type"] == "application/json"
    assert answers[2].json()["error"]["code"] == "account_mismatch"
    assert "acct_1Connected456" in answers[2].json()["error"]["message"]
    for event, stored in ((own, 1), (named_own, 1), (connected, 0)):
        assert await stored_count(js, f"stripe.{event['type']}") == stored


async def test_any_account_is_accepted_without_an_account_id(
    gateway: httpx.AsyncClient, js
) -> None:
    event = make_event(account="acct_1Connected456")
    body = encode(event)
    response = await gateway.post("/webhooks/stripe", content=body, headers=signed(body))
    assert response.status_code == 200
    assert await stored_count(js, f"stripe.{event['type']}") == 1


async def test_health_ready_and_metrics(gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/healthz")).json() == {"status": "ok"}
    ready = await gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"broker": True}
    body = encode(make_event())
    await gateway.post("/webhooks/stripe", content=body, headers={})
    metrics = (await gateway.get("/metrics")).text
    assert 'gateway_events_rejected_total{reason="missing_signature"}' in metrics
    assert "gateway_publish_seconds_bucket" in metrics


async def test_fast_path_and_documented_route_answer_alike(
    gateway_settings: Callable[..., Settings], js
) -> None:
    """The ASGI fast path answers the webhook; without it, the FastAPI route does the same."""
    answers = []
    for fast in (True, False):
        app = create_app(gateway_settings())
        if not fast:
            app.fast_routes = ()
        event = make_event()
        body = encode(event)
        async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
            ok = await client.post("/webhooks/stripe", content=body, headers=signed(body))
            bad = await client.post("/webhooks/stripe", content=body, headers={})
            docs = (await client.get("/openapi.json")).json()
        answers.append((ok.status_code, ok.json() | {"id": "x"}, bad.status_code, bad.json()))
        assert await stored_count(js, f"stripe.{event['type']}") == 1
        assert "/webhooks/stripe" in docs["paths"]
    assert answers[0] == answers[1]
