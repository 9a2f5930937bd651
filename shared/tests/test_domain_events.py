import pytest
from pydantic import ValidationError

from tollgate_shared.contracts.base import DomainEvent, parse_domain_event
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.contracts.membership import MembershipCanceled, MembershipEnded


def test_round_trip_keeps_type_version_and_id() -> None:
    event = MembershipCanceled(user_id="u1", group_id="g1", reason="canceled")
    parsed = parse_domain_event(event.model_dump_json())
    assert isinstance(parsed, MembershipCanceled) and isinstance(parsed, MembershipEnded)
    assert parsed == event
    assert parsed.subject == "membership.canceled"
    assert parsed.version == 1


def test_every_registered_subject_belongs_to_its_producer() -> None:
    prefixes = {"membership", "ledger", "checkout", "notification"}
    assert DomainEvent.registry
    for event_type in DomainEvent.registry:
        assert event_type.split(".")[0] in prefixes


def test_events_are_frozen_and_validated() -> None:
    event = PaymentRecorded(amount=1000, currency="usd", group_id="g")
    with pytest.raises(ValidationError):
        event.amount = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        PaymentRecorded(amount="lots", currency="usd")  # type: ignore[arg-type]


def test_unknown_type_parses_as_base_event() -> None:
    parsed = parse_domain_event(b'{"type": "ledger.something_new", "version": 2}')
    assert type(parsed) is DomainEvent
    assert parsed.version == 2
