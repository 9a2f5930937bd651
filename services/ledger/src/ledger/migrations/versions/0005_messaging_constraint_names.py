"""The inbox and outbox constraints named as the models name them.

Revision ID: 0005
Revises: 0004
"""

from tollgate_shared.persistence.migrations import (
    name_messaging_constraints,
    unname_messaging_constraints,
)

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    name_messaging_constraints()


def downgrade() -> None:
    unname_messaging_constraints()
