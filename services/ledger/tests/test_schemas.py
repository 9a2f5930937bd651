"""The JSON API answers its rows field for field: every response model holds exactly the
columns its rows are read with (a column added to a table and not to its model would be dropped
from the answers without a word)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from sqlalchemy import Table

from ledger.adapters import orm
from ledger.entrypoints import schemas


def columns(table: Table) -> set[str]:
    return {column.name for column in table.columns}


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (schemas.Transaction, columns(orm.transactions) | {"entries"}),
        (schemas.Payment, columns(orm.payments) | {"refunded", "disputed", "status"}),
        (schemas.Invoice, columns(orm.invoices)),
        (schemas.Refund, columns(orm.refunds)),
        (schemas.Dispute, columns(orm.disputes)),
        (schemas.ListedDispute, columns(orm.disputes) | {"user_id", "email"}),
        (schemas.Risk, columns(orm.risk_items)),
        (schemas.ListedRisk, columns(orm.risk_items) | {"email", "amount", "currency"}),
        (schemas.TimelineStep, columns(orm.timeline)),
        (schemas.Schedule, columns(orm.payout_schedules)),
        (schemas.Payout, columns(orm.payout_requests)),
    ],
)
def test_a_response_model_has_every_column_of_its_rows(
    model: type[BaseModel], fields: set[str]
) -> None:
    assert set(model.model_fields) == fields
