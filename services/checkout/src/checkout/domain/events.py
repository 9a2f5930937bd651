"""Ids of the events checkout emits: derived from what they are about, so a fact written twice
(a retried request, a redelivered Stripe event) is published once."""

from __future__ import annotations

import hashlib


def event_id(event_type: str, subject_id: str) -> str:
    """One id per (event type, what it is about): e.g. a checkout's Stripe id, or an entry's id
    and version."""
    return hashlib.sha256(f"{event_type}:{subject_id}".encode()).hexdigest()[:32]
