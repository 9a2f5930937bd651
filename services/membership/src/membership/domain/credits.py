"""Credits: allowances per billing cycle, and the rule that allocates them.

Rule: each paid cycle *resets* the member's balances. Allocating a cycle sets every kind to
the tier's allowance for it (kinds the tier no longer grants drop to zero); credits left from
the previous cycle expire. A cycle whose start is older than the cycle already allocated (a
late or redelivered payment) is recorded but changes nothing, so the balances follow the
newest paid cycle whatever order payments arrive in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

_PAIR = re.compile(r"^([a-z0-9_-]{1,40})=(\d{1,9})$")

EntryType = Literal["allocated", "expired", "spent"]


def parse_allowances(value: str | None) -> dict[str, int]:
    """`booking=10,guest=2` (checkout's `credit_allowances` metadata) as `{kind: amount}`;
    malformed pairs are left out."""
    found: dict[str, int] = {}
    for pair in (value or "").split(","):
        match = _PAIR.match(pair.strip())
        if match and int(match[2]) > 0:
            found[match[1]] = int(match[2])
    return found


@dataclass(frozen=True)
class Allocation:
    """The allowances one paid cycle brings (`cause`: the invoice or Checkout Session)."""

    cause: str
    allowances: Mapping[str, int]
    cycle_start: datetime
    cycle_end: datetime | None


@dataclass(frozen=True)
class Entry:
    """One line of a member's credit history."""

    kind: str
    type: EntryType
    delta: int
    balance_after: int
    cause: str


def reset(balances: Mapping[str, int], allocation: Allocation) -> list[Entry]:
    """The entries that move `balances` to the new cycle: expire what is left, then allocate."""
    entries: list[Entry] = []
    for kind in sorted(set(balances) | set(allocation.allowances)):
        left, granted = balances.get(kind, 0), allocation.allowances.get(kind, 0)
        if left:
            entries.append(Entry(kind, "expired", -left, 0, allocation.cause))
        if granted:
            entries.append(Entry(kind, "allocated", granted, granted, allocation.cause))
    return entries


@dataclass(frozen=True)
class SpendRequest:
    """Spend `amount` credits of `kind` for the app's `reference`."""

    kind: str
    amount: int
    reference: str

    @property
    def fingerprint(self) -> str:
        """Identifies the request, so a reused idempotency key with another body is refused."""
        return hashlib.sha256(
            f"{self.kind}\x1f{self.amount}\x1f{self.reference}".encode()
        ).hexdigest()


@dataclass(frozen=True)
class SpendOutcome:
    """What a spend answered (stored, so the same idempotency key answers the same)."""

    request: SpendRequest
    spent: bool
    balance: int
    at: datetime
