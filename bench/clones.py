"""Copies of recorded Stripe events for other customers: every Stripe id in them rewritten to a
fresh one of the same prefix and length, the same way throughout one copy, so that the copies
are distinct objects in Stripe's exact shapes."""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

PREFIXES = (
    "cs_test", "cus", "sub", "si", "inpay", "in", "il", "pi", "ch", "pm", "txn", "re", "dp",
    "evt", "req", "li", "bps", "prv", "issfr", "di", "tr", "po", "prod", "price", "promo",
)  # fmt: skip
"""The id prefixes the emulator gives its objects (`tools/stripe-emulator/README.md`)."""
SHARED = frozenset({"prod", "price", "promo"})
"""The app's catalog, the same for all its customers: kept."""
PER_CUSTOMER = frozenset({"cus", "pm"})
"""A customer and its card: one for every copy made for that customer."""
ID = re.compile(
    rf"(?<![A-Za-z0-9_])({'|'.join(PREFIXES)})_(?=[a-z]*[A-Z0-9])([A-Za-z0-9]{{8,}})(?![A-Za-z0-9])"
)
"""An id: its prefix, then a random token with a capital or a digit (not `in_progress`)."""
ALPHABET = string.ascii_letters + string.digits


def _token(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


class Customer:
    """One customer's copies of recorded flows: its own customer id in all of them, every other
    object fresh in each copy; `names` (a recorded value → this customer's, e.g. the recorded
    user's `user_id` metadata and email) replaced throughout."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names = dict(names or {})
        self._own: dict[str, str] = {}

    def copy(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """`events` (one flow, in order) as this customer's, with fresh ids."""
        fresh: dict[str, str] = {}

        def swap(found: re.Match[str]) -> str:
            prefix, token = found.group(1), found.group(2)
            if prefix in SHARED:
                return found.group(0)
            if prefix in PER_CUSTOMER:
                return self._own.setdefault(prefix, f"{prefix}_{_token(len(token))}")
            old = found.group(0)
            if old not in fresh:
                fresh[old] = f"{prefix}_{_token(len(token))}"
            return fresh[old]

        text = ID.sub(swap, json.dumps(list(events)))
        for recorded, own in self.names.items():
            text = text.replace(json.dumps(recorded)[1:-1], json.dumps(own)[1:-1])
        copied: list[dict[str, Any]] = json.loads(text)
        return copied
