"""The ceiling of the gateway's server stack: verify a Stripe signature and answer 200, nothing
else (same FastAPI + uvicorn + verifier as the gateway, no envelope parsing, no publish)."""

from fastapi import FastAPI, Request

from webhook_gateway.domain.signature import verify

SECRET = "whsec_bench_0123456789"
app = FastAPI()


@app.post("/webhooks/stripe")
async def receive(request: Request) -> dict[str, bool]:
    """Verify and answer."""
    verify(await request.body(), request.headers.get("stripe-signature"), [SECRET], tolerance=3600)
    return {"received": True}
