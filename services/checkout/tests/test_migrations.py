"""The SQLAlchemy models are what the migrations build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from checkout.adapters.orm import metadata
from checkout.main import MIGRATIONS
from tollgate_shared.testing import schema_drift


def test_the_models_match_the_migrated_database(
    migrated_database: Callable[[Path], str],
) -> None:
    assert schema_drift(migrated_database(MIGRATIONS), metadata) == []
