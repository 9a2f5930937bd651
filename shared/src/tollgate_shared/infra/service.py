"""A service as its bootstrap builds it: its settings, its runtime, its dependencies and what
its app serves. Every service's `bootstrap.build(settings)` returns one and every `main.py`
serves it with `tollgate_shared.web.service.service_app`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from tollgate_shared.infra.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import APIRouter

    from tollgate_shared.infra.runtime import Runtime
    from tollgate_shared.web.errors import StatusMap
    from tollgate_shared.web.fast_path import FastRoute
    from tollgate_shared.web.service import Loop, OnStart

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
DepsT = TypeVar("DepsT")


@dataclass(frozen=True)
class Service(Generic[SettingsT, DepsT]):
    """One service, built and wired: nothing connects until its app starts the runtime."""

    settings: SettingsT
    runtime: Runtime
    """Database, broker, the consumers it registered and the outbox relay."""
    deps: DepsT
    """What its handlers and routes need besides a unit of work (the app's `state.deps`)."""
    title: str
    description: str
    error_status: StatusMap
    """Its domain errors' HTTP answers (`entrypoints/errors.STATUS`)."""
    routers: Sequence[APIRouter] = ()
    fast_routes: Sequence[FastRoute] = ()
    loops: Sequence[Loop] = ()
    """Background loops, run once the runtime is up and cancelled before it stops."""
    on_start: OnStart | None = None
    """Runs once the runtime is up (what needs a connection, e.g. the gateway's event store)."""
    request_spans: bool = True
