"""Dependencies the routes share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from membership.service_layer.unit_of_work import MembershipUnitOfWork


async def _unit_of_work(request: Request) -> AsyncIterator[MembershipUnitOfWork]:
    async with request.app.state.deps.uow() as uow:
        yield uow


UnitOfWorkDep = Annotated[MembershipUnitOfWork, Depends(_unit_of_work)]
"""A unit of work for one request: commit it to keep what the request changed."""
