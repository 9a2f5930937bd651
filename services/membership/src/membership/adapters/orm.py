"""The membership database's tables."""

from tollgate_shared.db import inbox_table, make_metadata, outbox_table

metadata = make_metadata()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)
