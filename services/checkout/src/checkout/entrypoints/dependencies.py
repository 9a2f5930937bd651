"""Dependencies the routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from checkout.service_layer.context import Context
from tollgate_shared.web import validation
from tollgate_shared.web.auth import Principal
from tollgate_shared.web.errors import may_answer
from tollgate_shared.web.ratelimit import rate_limited


@may_answer(503)  # the database or Stripe does not answer
def _context(request: Request) -> Context:
    context: Context = request.app.state.deps
    return context


ContextDep = Annotated[Context, Depends(_context)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[validation.Offset, Query()]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="same key and body → same response; without it a double click is detected",
    ),
]
CheckoutCaller = Annotated[Principal, rate_limited("checkout")]
"""The caller, rate-limited per user on starting payments (each one is a Stripe call)."""
ClaimCaller = Annotated[Principal, rate_limited("claim")]
"""The caller, rate-limited per user on claiming purchases (no guessing session ids)."""
ValidateCaller = Annotated[Principal, rate_limited("coupon-validate")]
"""The caller, rate-limited per user on validating coupon codes (no guessing codes)."""
