"""Our verifier agrees with the stripe SDK's scheme."""

import time

import pytest
import stripe

from webhook_gateway.domain.signature import SignatureError, compute_signature, verify

SECRET = "whsec_test_secret"
PAYLOAD = b'{"id": "evt_1", "object": "event"}'


def test_accepts_header_generated_by_stripe_sdk() -> None:
    header = stripe.WebhookSignature.generate_signature_header(PAYLOAD.decode(), SECRET)
    verify(PAYLOAD, header, [SECRET], tolerance=300)


def test_stripe_sdk_accepts_our_signature() -> None:
    ts = int(time.time())
    header = f"t={ts},v1={compute_signature(SECRET, ts, PAYLOAD)}"
    event = stripe.Webhook.construct_event(PAYLOAD, header, SECRET)
    assert event.id == "evt_1"


def test_any_of_several_v1_signatures_is_enough() -> None:
    ts = int(time.time())
    good = compute_signature(SECRET, ts, PAYLOAD)
    verify(PAYLOAD, f"t={ts},v1={'0' * 64},v0=legacy,v1={good}", [SECRET], tolerance=300)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("garbage", "malformed_signature"),
        ("t=notanumber,v1=abc", "malformed_signature"),
        ("t=123", "malformed_signature"),
    ],
)
def test_malformed_headers(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify(PAYLOAD, header, [SECRET], tolerance=300)
    assert info.value.reason == reason


def test_stale_timestamp_rejected_even_if_signature_matches() -> None:
    old = int(time.time()) - 301
    header = f"t={old},v1={compute_signature(SECRET, old, PAYLOAD)}"
    with pytest.raises(SignatureError) as info:
        verify(PAYLOAD, header, [SECRET], tolerance=300)
    assert info.value.reason == "stale_timestamp"
    verify(PAYLOAD, header, [SECRET], tolerance=600)


def test_tampered_payload_or_wrong_secret_rejected() -> None:
    header = stripe.WebhookSignature.generate_signature_header(PAYLOAD.decode(), SECRET)
    for payload, secrets in [(PAYLOAD + b" ", [SECRET]), (PAYLOAD, ["whsec_other"])]:
        with pytest.raises(SignatureError) as info:
            verify(payload, header, secrets, tolerance=300)
        assert info.value.reason == "signature_mismatch"
