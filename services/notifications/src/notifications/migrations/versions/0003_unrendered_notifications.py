"""A notification whose rendering failed is recorded without subject and bodies.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"

_RENDERED = ("subject", "text_body", "html_body")


def upgrade() -> None:
    for column in _RENDERED:
        op.alter_column("notifications", column, nullable=True)


def downgrade() -> None:
    # The previous version cannot render them: those still to be sent end failed.
    op.execute(
        "UPDATE notifications SET subject = '', text_body = '', html_body = '',"
        " status = CASE WHEN status IN ('pending', 'sending') THEN 'failed' ELSE status END,"
        " last_error = coalesce(last_error, 'not rendered') WHERE subject IS NULL"
    )
    for column in _RENDERED:
        op.alter_column("notifications", column, nullable=False)
