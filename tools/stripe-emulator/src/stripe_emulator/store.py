"""In-memory state: every Stripe object by id, plus the emulator's private bookkeeping.

All reads and writes happen under `Store.lock`; API handlers hold it for a whole request so
each request sees and leaves a consistent state.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from stripe_emulator.errors import no_such

StripeObject = dict[str, Any]


@dataclass
class IdempotentResult:
    """A finished request saved under its Idempotency-Key, to replay."""

    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: bytes
    headers: list[tuple[str, str]]


@dataclass
class Store:
    lock: threading.RLock = field(default_factory=threading.RLock)
    objects: dict[str, StripeObject] = field(default_factory=dict)
    private: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotentResult] = field(default_factory=dict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    requests_by_key: defaultdict[str, Counter[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    """The same per API key (`/v1` requests only), to tell apart who called."""
    _order: dict[str, int] = field(default_factory=dict)
    _by_type: defaultdict[str, dict[str, StripeObject]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    """The objects of each type by id: a list reads its type's, not every object."""
    _sequence: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, obj: StripeObject, **private: Any) -> StripeObject:
        """Store a new object; `private` holds data Stripe keeps but never shows."""
        self.objects[obj["id"]] = obj
        self._by_type[obj.get("object", "")][obj["id"]] = obj
        self._order[obj["id"]] = next(self._sequence)
        if private:
            self.private[obj["id"]] = dict(private)
        return obj

    def get(self, object_id: str) -> StripeObject | None:
        return self.objects.get(object_id)

    def find(self, object_type: str, object_id: str, *, param: str = "id") -> StripeObject:
        """The object of this type with this id, or Stripe's 404 resource_missing."""
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != object_type:
            raise no_such(object_type.split(".")[-1].replace("_", " "), object_id, param=param)
        return obj

    def remove(self, object_id: str) -> None:
        obj = self.objects.pop(object_id, None)
        if obj is not None:
            self._by_type[obj.get("object", "")].pop(object_id, None)

    def secret(self, object_id: str) -> dict[str, Any]:
        return self.private.setdefault(object_id, {})

    def all(self, object_type: str) -> list[StripeObject]:
        """Objects of one type, newest first (Stripe's list order)."""
        found = self._by_type[object_type].values()
        return sorted(found, key=lambda obj: (obj.get("created", 0), self._order[obj["id"]]))[::-1]

    def snapshot(self, obj: StripeObject) -> StripeObject:
        return copy.deepcopy(obj)

    def clear(self) -> None:
        mappings = (self.objects, self.private, self.idempotency, self._order, self._by_type)
        for mapping in mappings:
            mapping.clear()
        self.in_flight.clear()
        self.requests.clear()
        self.requests_by_key.clear()
