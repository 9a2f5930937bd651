"""Stripe's wire behaviour through the SDK: auth, errors, idempotency, pagination, expand."""

import httpx
import pytest
import stripe

from stripe_emulator.testing import RunningEmulator


def test_requests_without_a_test_key_are_refused(emulator: RunningEmulator) -> None:
    live = stripe.StripeClient(
        "sk_live_nope", base_addresses={"api": emulator.base_url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError) as error:
        live.v1.customers.list()
    assert error.value.http_status == 401
    assert httpx.get(f"{emulator.base_url}/v1/customers").status_code == 401


def test_missing_param_and_missing_resource(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.products.create({"description": "no name"})  # type: ignore[typeddict-item]
    assert missing.value.http_status == 400
    assert missing.value.code == "parameter_missing" and missing.value.param == "name"

    with pytest.raises(stripe.InvalidRequestError) as absent:
        client.v1.customers.retrieve("cus_missing")
    assert absent.value.http_status == 404 and absent.value.code == "resource_missing"
    assert absent.value.json_body == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "No such customer: 'cus_missing'",
            "param": "id",
        }
    }


def test_idempotency_replays_same_request_and_rejects_other_params(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    first = client.v1.customers.create(
        {"email": "a@example.com", "metadata": {"user_id": "u1"}},
        {"idempotency_key": "customer-u1"},
    )
    again = client.v1.customers.create(
        {"email": "a@example.com", "metadata": {"user_id": "u1"}},
        {"idempotency_key": "customer-u1"},
    )
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(client.v1.customers.list().data) == 1

    with pytest.raises(stripe.IdempotencyError) as mismatch:
        client.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "customer-u1"})
    assert mismatch.value.http_status == 400
    assert mismatch.value.error is not None and mismatch.value.error.type == "idempotency_error"
    counts = emulator.control("GET", "/requests")
    assert {"method": "POST", "path": "/v1/customers", "count": 3} in counts


def test_pagination_forward_and_backward(client: stripe.StripeClient) -> None:
    created = [client.v1.customers.create({"name": f"c{i}"}).id for i in range(5)]
    newest_first = created[::-1]

    page = client.v1.customers.list({"limit": 2})
    assert [c.id for c in page.data] == newest_first[:2] and page.has_more
    page = client.v1.customers.list({"limit": 2, "starting_after": page.data[-1].id})
    assert [c.id for c in page.data] == newest_first[2:4] and page.has_more
    page = client.v1.customers.list({"limit": 2, "starting_after": page.data[-1].id})
    assert [c.id for c in page.data] == newest_first[4:] and not page.has_more
    back = client.v1.customers.list({"limit": 2, "ending_before": newest_first[4]})
    assert [c.id for c in back.data] == newest_first[2:4] and back.has_more
    every = [c.id for c in client.v1.customers.list({"limit": 2}).auto_paging_iter()]
    assert every == newest_first
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.list({"limit": 101})


def test_lists_filter_by_creation_time(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"name": "dated"})
    listed = lambda created: [c.id for c in client.v1.customers.list({"created": created}).data]  # noqa: E731
    assert customer.id in listed({"gte": customer.created})
    assert customer.id in listed(customer.created)
    assert customer.id not in listed({"gt": customer.created})
    assert customer.id not in listed({"lt": customer.created})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.charges.list({"created": {"after": 1}})  # type: ignore[dict-item]


def test_prices_filter_update_and_expand(client: stripe.StripeClient) -> None:
    gold = client.v1.products.create({"name": "Gold"})
    silver = client.v1.products.create({"name": "Silver"})
    gold_price = client.v1.prices.create(
        {"product": gold.id, "currency": "usd", "unit_amount": 900}
    )
    client.v1.prices.create({"product": silver.id, "currency": "usd", "unit_amount": 500})

    assert [p.id for p in client.v1.prices.list({"product": gold.id}).data] == [gold_price.id]
    client.v1.prices.update(gold_price.id, {"active": False})
    assert client.v1.prices.list({"product": gold.id, "active": True}).data == []
    inactive = client.v1.prices.list({"active": False, "expand": ["data.product"]}).data
    assert [(p.id, p.product.name) for p in inactive] == [(gold_price.id, "Gold")]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.retrieve(gold_price.id, {"expand": ["currency"]})


def test_unknown_paths_answer_like_stripe(emulator: RunningEmulator) -> None:
    response = httpx.get(
        f"{emulator.base_url}/v1/terminal/readers",
        headers={"Authorization": "Bearer sk_test_x"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert httpx.get(f"{emulator.base_url}/healthz").json() == {"status": "ok"}
