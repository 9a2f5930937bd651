"""Acceptance: a name with a line break (a group's display name, or the group id it falls back
to) never adds a header or a recipient to a mail."""

from __future__ import annotations

from typing import Any

import pytest

from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.testing import unique

INJECTED = "\r\nBcc: evil@example.com"


@pytest.mark.parametrize("group_name", ["Chess", "Café Ümlaut"])
async def test_a_group_name_with_a_line_break_stays_in_a_one_line_subject(
    service: Any, group_name: str
) -> None:
    # Names a group without contacts: its id is the name the subject shows.
    group = f"{group_name} {unique('grp')}{INJECTED}"
    member = f"{unique('member')}@example.com"
    await service.publish(
        PaymentRecorded(
            user_id=unique("usr"),
            group_id=group,
            tier_id=f"gold{INJECTED}",
            description=f"Entry fee{INJECTED}",
            amount=1250,
            currency="usd",
            charge_id=unique("ch"),
            email=member,
        )
    )
    [mail] = await service.wait_for_mail(member, 1)
    assert mail["to"] == [member]  # the envelope: no extra recipient
    # Read back by the sink: the injected text is part of the subject, on its one line, so it
    # started no header of its own.
    expected = f"Receipt: $12.50 to {group.replace(INJECTED, ' Bcc: evil@example.com')}"
    assert mail["subject"] == expected
    assert "\n" not in mail["subject"] and "\r" not in mail["subject"]
    assert "Entry fee" in mail["text"]
    assert await service.mail("evil@example.com") == []
