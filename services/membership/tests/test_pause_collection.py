"""Pausing payment collection through the API against the emulator: only where the group's
organizers allow it; renewals meanwhile are not charged and access lasts as long as what was
paid; resuming after such a renewal restarts the period and charges it once; organizers may
give a grace that keeps access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js import JetStreamContext

from tollgate_shared.contracts.checkout import GroupSettingsChanged
from tollgate_shared.testing import EmulatorEvents, publish_domain_event, unique, wait_until

from .conftest import ADMIN, Emulator, Service, ServiceFactory, bearer, user_token
from .test_self_service import _joined, _post


async def _allow_pause(service: Service, js: JetStreamContext, user: str, group: str) -> None:
    await publish_domain_event(
        js, GroupSettingsChanged(group_id=group, revision=1, name="Climbers", allow_pause=True)
    )

    async def offered() -> bool:
        answer = await service.http.get(
            f"/members/{user}/memberships/{group}", headers=bearer(user_token(user))
        )
        return "pause" in answer.json()["actions"]

    await wait_until(offered, message="the group's settings applied")


async def test_members_pause_only_where_the_group_allows_it(
    membership_service: ServiceFactory,
    emulator: Emulator,
    deliverer: EmulatorEvents,
    js: JetStreamContext,
) -> None:
    async with membership_service() as service:
        user, group, subscription = await _joined(service, emulator, deliverer)
        me, path = user_token(user), f"/members/{user}/memberships/{group}"

        refused = await _post(service, f"{path}/pause", me)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "pause_not_allowed"
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        assert stripe_side.pause_collection is None
        stranger = await _post(service, f"{path}/pause", user_token(unique("user")))
        assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "forbidden"

        await _allow_pause(service, js, user, group)
        grace = await _post(service, f"{path}/pause", me, {"behavior": "mark_uncollectible"})
        assert grace.status_code == 403 and grace.json()["error"]["code"] == "forbidden"
        past = await _post(service, f"{path}/pause", me, {"resumes_at": "2020-01-01T00:00:00Z"})
        assert past.status_code == 422
        resumes_at = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
        paused = await _post(service, f"{path}/pause", me, {"resumes_at": resumes_at.isoformat()})
        assert paused.status_code == 200, paused.text
        body = paused.json()
        assert body["pause_collection"]["behavior"] == "void"
        assert datetime.fromisoformat(body["pause_collection"]["resumes_at"]) == resumes_at
        assert (body["active"], body["renews"], body["status"]) == (True, False, "active")
        assert body["paid_through"] == body["current_period_end"] == body["expires_at"]
        assert body["actions"] == ["resume", "switch", "cancel_now"]
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        assert stripe_side.pause_collection.behavior == "void"
        assert stripe_side.pause_collection.resumes_at == int(resumes_at.timestamp())
        again = await _post(service, f"{path}/pause", me, {"resumes_at": resumes_at.isoformat()})
        assert again.status_code == 200
        assert await emulator.request_count("POST", f"/v1/subscriptions/{subscription}") == 1

        await deliverer.forward()
        await service.settle()
        assert (await service.gate(user, group))["active"] is True
        assert await service.event_types(user) == ["membership.activated"]


async def test_a_paused_renewal_is_not_charged_and_resuming_charges_the_restarted_period(
    membership_service: ServiceFactory,
    emulator: Emulator,
    deliverer: EmulatorEvents,
    js: JetStreamContext,
) -> None:
    async with membership_service() as service:
        user, group, subscription = await _joined(service, emulator, deliverer, amount=2100)
        me, path = user_token(user), f"/members/{user}/memberships/{group}"
        await _allow_pause(service, js, user, group)
        first = (await _post(service, f"{path}/pause", me)).json()

        await emulator.advance(subscription)  # the renewal: its invoice is voided
        await deliverer.forward()
        await service.settle()

        view = (await service.http.get(path, headers=bearer(me))).json()
        assert view["current_period_end"] > first["current_period_end"]
        assert view["paid_through"] == view["expires_at"] == first["current_period_end"]
        assert view["active"] is True and view["renews"] is False
        renewal = await emulator.client.v1.invoices.retrieve_async(
            (await emulator.client.v1.subscriptions.retrieve_async(subscription)).latest_invoice
        )
        assert renewal.status == "void" and renewal.amount_paid == 0

        resumed = await _post(service, f"{path}/resume", me)
        assert resumed.status_code == 200, resumed.text
        body = resumed.json()
        assert body["pause_collection"] is None and body["renews"] is True
        assert body["expires_at"] == body["current_period_end"] == body["renews_at"]
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        charged = await emulator.client.v1.invoices.retrieve_async(stripe_side.latest_invoice)
        assert (charged.billing_reason, charged.status) == ("subscription_update", "paid")
        assert charged.amount_paid == 2100
        again = await _post(service, f"{path}/resume", me)
        assert again.status_code == 200
        assert (
            await emulator.client.v1.subscriptions.retrieve_async(subscription)
        ).latest_invoice == (charged.id)

        await deliverer.forward()
        await service.settle()
        view = (await service.http.get(path, headers=bearer(me))).json()
        assert view["paid_through"] == view["current_period_end"]
        gate = await service.gate(user, group)
        assert gate["active"] is True
        assert await service.event_types(user) == ["membership.activated"]


async def test_organizers_may_give_a_grace_that_keeps_access(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service() as service:
        user, group, subscription = await _joined(service, emulator, deliverer)
        organizer = user_token(unique("org"), roles=["organizer"], groups=[group])
        path = f"/members/{user}/memberships/{group}"

        paused: Any = await _post(
            service, f"{path}/pause", organizer, {"behavior": "keep_as_draft"}
        )
        assert paused.status_code == 200, paused.text  # organizers need no permission
        await emulator.advance(subscription)
        await deliverer.forward()
        await service.settle()

        view = (await service.http.get(path, headers=bearer(ADMIN))).json()
        assert view["pause_collection"]["behavior"] == "keep_as_draft"
        assert view["active"] is True and view["expires_at"] == view["current_period_end"]
        assert view["paid_through"] < view["current_period_end"]
        draft = await emulator.client.v1.invoices.retrieve_async(
            (await emulator.client.v1.subscriptions.retrieve_async(subscription)).latest_invoice
        )
        assert draft.status == "draft"
