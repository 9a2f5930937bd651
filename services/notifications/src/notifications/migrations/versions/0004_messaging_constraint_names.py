"""The inbox and outbox constraints named as the models name them.

Revision ID: 0004
Revises: 0003
"""

from tollgate_shared.persistence.migrations import (
    name_messaging_constraints,
    unname_messaging_constraints,
)

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    name_messaging_constraints()


def downgrade() -> None:
    unname_messaging_constraints()
