"""The gateway's composition root: a broker (no database), and the event store on it."""

from __future__ import annotations

from tollgate_shared.infra.runtime import Runtime
from webhook_gateway.config import Settings


def build_runtime(settings: Settings) -> Runtime:
    """The gateway is stateless: only a broker connection."""
    return Runtime.build(settings, with_database=False)
