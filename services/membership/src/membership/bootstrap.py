"""Membership's composition root."""

from __future__ import annotations

from membership.adapters import orm
from membership.config import Settings
from membership.entrypoints import consumers
from tollgate_shared.runtime import Runtime


def build_runtime(settings: Settings) -> Runtime:
    """Database, broker, the STRIPE consumer and the outbox relay."""
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox)
    consumers.register(runtime)
    return runtime
