"""Stripe's webhook signature scheme: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, where
each v1 is HMAC-SHA256(secret, "<t>.<raw body>"). Several secrets may be valid at once
(rotation), and the timestamp must be within a tolerance to stop replays."""

from __future__ import annotations

import hashlib
import hmac
import time


class SignatureError(Exception):
    """The request is not provably from Stripe; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def compute_signature(secret: str, timestamp: int, payload: bytes) -> str:
    """The hex v1 signature of `payload` at `timestamp` with `secret`."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    payload: bytes,
    header: str | None,
    secrets: list[str],
    *,
    tolerance: int,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless a v1 signature in `header` matches one of `secrets`."""
    if not header:
        raise SignatureError("missing_signature", "Stripe-Signature header is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("malformed_signature", "timestamp is not a number") from None
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(
            "malformed_signature", "Stripe-Signature needs a timestamp and a v1 signature"
        )
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("stale_timestamp", "signature timestamp is outside the tolerance")
    for secret in secrets:
        expected = compute_signature(secret, timestamp, payload)
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return
    raise SignatureError("signature_mismatch", "no signature matches the payload")
