"""The CSV export of a group's ledger entries, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response

CSV_COLUMNS = [
    "transaction_id",
    "occurred_at",
    "kind",
    "key",
    "account",
    "currency",
    "amount",
    "charge_id",
    "invoice_id",
    "user_id",
    "tier_id",
    "reference",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


class CsvResponse(Response):
    media_type = "text/csv"


def attachment(filename: str) -> str:
    """A `Content-Disposition` offering `filename` for download: in ASCII (other characters as
    `_`) for every client, and exactly, percent-encoded, in `filename*` (RFC 6266)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string that would start a formula (a member
    chooses `reference`) is prefixed with `'`; numbers and dates are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def entries_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows of `queries.export_rows` as CSV, a header line first."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()
