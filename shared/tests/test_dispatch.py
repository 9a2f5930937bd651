"""A domain handler map is keyed by event class; its consumer asks for the subjects they declare."""

import pytest

from tollgate_shared.contracts.base import parse_domain_event
from tollgate_shared.contracts.membership import MembershipCanceled, MembershipEnded
from tollgate_shared.messaging.dispatch import domain_dispatcher


async def test_handlers_keyed_by_class_take_the_subjects_their_classes_declare() -> None:
    seen: list[MembershipCanceled] = []

    async def on_membership_canceled(_: object, event: MembershipCanceled) -> None:
        seen.append(event)

    dispatcher = domain_dispatcher({MembershipCanceled: on_membership_canceled})
    assert dispatcher.subjects == ("membership.canceled",)
    assert not dispatcher.accepts("membership.expired")
    event = MembershipCanceled(user_id="u1", group_id="g1", reason="canceled")
    await dispatcher.apply(None, event.subject, parse_domain_event(event.model_dump_json()))
    assert seen == [event]


def test_a_family_of_events_declares_no_subject_to_key_a_handler_by() -> None:
    async def on_membership_ended(_: object, __: MembershipEnded) -> None: ...

    with pytest.raises(TypeError, match="MembershipEnded declares no event type"):
        domain_dispatcher({MembershipEnded: on_membership_ended})
