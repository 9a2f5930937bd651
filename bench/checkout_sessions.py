"""Checkout Session creation against the Stripe emulator."""

from __future__ import annotations

import json
import uuid

import httpx

from bench.load import build_post, run_load
from bench.services import JWT_SECRET, Service
from tollgate_shared.web.auth import issue_token


async def session_creation(checkout: Service, *, total: int, concurrency: int) -> dict:
    """`POST /checkout/sessions` by distinct members for one tier (each creates a Stripe
    customer and session in the emulator)."""
    admin = issue_token(JWT_SECRET, sub="bench-admin", roles=["admin"])
    async with httpx.AsyncClient(base_url=checkout.url) as http:
        tier = await http.post(
            "/groups/g_bench/tiers",
            headers={"Authorization": f"Bearer {admin}"},
            json={"name": "Bench", "amount": 1500, "currency": "nzd", "interval": "month"},
        )
        tier.raise_for_status()
    body = json.dumps({"tier_id": tier.json()["id"]}).encode()
    url = f"{checkout.url}/checkout/sessions"
    requests = [
        build_post(
            url,
            body,
            {
                "Authorization": "Bearer "
                + issue_token(
                    JWT_SECRET, sub=f"member_{uuid.uuid4().hex[:10]}", email="m@example.com"
                ),
                "Content-Type": "application/json",
            },
        )
        for _ in range(total)
    ]
    return (await run_load(url, requests, total=total, concurrency=concurrency)).summary()
