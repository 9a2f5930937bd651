"""Credit rules without I/O: the metadata format and the reset of a new cycle."""

from __future__ import annotations

from datetime import UTC, datetime

from membership.domain.credits import Allocation, Entry, SpendRequest, parse_allowances, reset

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_allowances_are_read_from_checkouts_metadata_and_malformed_pairs_dropped() -> None:
    assert parse_allowances("booking=10,guest=2") == {"booking": 10, "guest": 2}
    assert parse_allowances(" booking=10 , Bad=1,x=,=3,zero=0,y=-1") == {"booking": 10}
    assert parse_allowances(None) == parse_allowances("") == {}


def test_a_new_cycle_expires_what_is_left_and_allocates_the_allowance() -> None:
    cycle = Allocation("in_2", {"booking": 10, "guest": 1}, cycle_start=T0, cycle_end=None)
    assert reset({"booking": 3, "legacy": 5}, cycle) == [
        Entry("booking", "expired", -3, 0, "in_2"),
        Entry("booking", "allocated", 10, 10, "in_2"),
        Entry("guest", "allocated", 1, 1, "in_2"),
        Entry("legacy", "expired", -5, 0, "in_2"),
    ]
    assert reset({"booking": 0}, cycle)[0] == Entry("booking", "allocated", 10, 10, "in_2")


def test_a_spend_request_is_identified_by_its_whole_body() -> None:
    one = SpendRequest("booking", 1, "b-1")
    assert one.fingerprint == SpendRequest("booking", 1, "b-1").fingerprint
    assert one.fingerprint != SpendRequest("booking", 2, "b-1").fingerprint
    assert one.fingerprint != SpendRequest("booking", 1, "b-2").fingerprint
