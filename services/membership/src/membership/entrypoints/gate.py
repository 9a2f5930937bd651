"""The membership gate, the API's hottest read: `GET /entitlements/{user}/groups/{group}`.

`GateFastPath` answers it as plain ASGI before FastAPI's middleware and routing (see
`tollgate_shared.web.fast_path`); the FastAPI route in `http.py` documents it and answers the
requests the fast path leaves to it (browsers' CORS requests; all while spans are exported).
Both call `answer`, which reads the member's sources and credit balances and computes the
entitlement at this instant. Concurrent gate reads are coalesced (`reads`): one statement
answers every read that arrived while the previous one ran, so no answer is older than its
request.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool
from starlette.datastructures import State

from membership.adapters import repository
from membership.adapters.repository import GateAnswer
from membership.domain import rules
from membership.domain.model import MembershipKey
from membership.entrypoints.schemas import GateOut
from membership.service_layer import grants
from tollgate_shared.persistence.coalesce import Coalescer
from tollgate_shared.web.auth import Principal, TokenVerifier
from tollgate_shared.web.errors import Forbidden
from tollgate_shared.web.fast_path import FastRequest, FastRoute


def reads_all_groups(principal: Principal, user_id: str) -> bool:
    """The user themself, admins and services read a user's memberships in every group."""
    return principal.user_id == user_id or principal.is_admin or "service" in principal.roles


async def answer(state: State, principal: Principal, user_id: str, group_id: str) -> GateOut:
    """Is the user an active member of the group, and at which tier?"""
    if not (reads_all_groups(principal, user_id) or principal.can_manage(group_id)):
        raise Forbidden("you may read only your own entitlements or your groups' members")
    key = MembershipKey(user_id, group_id)
    sources, credits = await state.gate_reads.get(key)
    now = datetime.now(UTC)
    grant = sources.grant
    if grant is not None and grant.awaits_first_sign_in and _signs_in(principal, user_id):
        sources, credits = await _first_sign_in(state, key, now)
    entitlement = rules.entitlement(key, sources, grace=state.settings.grace, now=now)
    access = entitlement.access
    if access is None:
        return GateOut(user_id=user_id, group_id=group_id, active=False)
    return GateOut(
        user_id=user_id,
        group_id=group_id,
        active=entitlement.active,
        tier_id=access.tier_id,
        status=entitlement.status,
        expires_at=access.expires_at,
        source=access.source,
        subscription_id=access.subscription_id,
        grace_until=access.grace_until,
        cancel_at_period_end=access.cancel_at_period_end,
        credits=credits,
    )


def _signs_in(principal: Principal, user_id: str) -> bool:
    """A gate read that is the member's sign-in: their own, or the app's on their behalf (an
    organizer or admin looking is not)."""
    return principal.user_id == user_id or "service" in principal.roles


async def _first_sign_in(state: State, key: MembershipKey, now: datetime) -> GateAnswer:
    """Record the member's first sign-in for the legacy grace rule (once, whoever races),
    then read the member again."""
    async with state.deps.uow() as uow:
        await grants.first_sign_in(uow, key, grace=state.settings.grace, now=now)
        await uow.commit()
    again: GateAnswer = await state.gate_reads.get(key)
    return again


def reads(pool: AsyncConnectionPool) -> Coalescer[MembershipKey, repository.GateAnswer]:
    """The gate's reads through `pool`, coalesced (kept on the app's state as `gate_reads`)."""
    return Coalescer(functools.partial(repository.gate_read, pool))


class GateFastPath(FastRoute):
    """The gate without FastAPI's per-request machinery."""

    METHOD = "GET"
    # Ids longer than `validation.MAX_ID_LENGTH` are left to the FastAPI route, which refuses them.
    PATH = re.compile(r"/entitlements/(?P<user_id>[^/]{1,255})/groups/(?P<group_id>[^/]{1,255})")

    async def answer(self, request: FastRequest) -> bytes:
        verifier: TokenVerifier = request.state.token_verifier
        principal = await verifier.authenticate(request.headers.get("authorization"))
        gate = await answer(
            request.state, principal, request.params["user_id"], request.params["group_id"]
        )
        return gate.model_dump_json().encode()
