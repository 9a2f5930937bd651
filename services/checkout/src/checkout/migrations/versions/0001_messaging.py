"""Inbox and outbox.

Revision ID: 0001
Revises:
"""

from tollgate_shared.persistence.migrations import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
