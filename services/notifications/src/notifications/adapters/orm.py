"""The notifications database's tables."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from tollgate_shared.persistence.db import inbox_table, make_metadata, outbox_table

metadata = make_metadata()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("source_id", String(255), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("user_id", String(255)),
    Column("group_id", String(255)),
    # NULL while a notification whose rendering failed is not rendered yet (the sender does).
    Column("subject", Text),
    Column("text_body", Text),
    Column("html_body", Text),
    Column("context", JSONB, nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("resends", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    # When what it says stops being true: a sender marks it `superseded` instead of sending.
    Column("stale_after", DateTime(timezone=True)),
    UniqueConstraint("kind", "source_id", "recipient", name="uq_notifications_fact"),
    CheckConstraint(
        "status IN ('pending', 'sending', 'sent', 'failed', 'superseded', 'digest', 'digested')",
        name="status",
    ),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        postgresql_where=text("status IN ('pending', 'sending')"),
    ),
    Index("ix_notifications_user_id", "user_id"),
    Index("ix_notifications_digest", "created_at", postgresql_where=text("status = 'digest'")),
)

group_contacts = Table(
    "group_contacts",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("name", String(200)),
    Column("emails", ARRAY(String(320)), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

group_settings = Table(
    "group_settings",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("contact_email", String(320)),
    Column("organizer_mail_opt_outs", ARRAY(String(40)), nullable=False),
    Column("sale_notice_digest", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""Each group's name, contact address and organizer mail choices as checkout last announced
them (`checkout.group.settings_changed`): the highest revision seen."""

catalog_entries = Table(
    "catalog_entries",
    metadata,
    Column("entry_kind", String(8), primary_key=True),
    Column("entry_id", String(255), primary_key=True),
    Column("group_id", String(255), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("interval", String(32)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""Each tier's and item's name and price as checkout last announced them
(`checkout.catalog.entry_changed`): the highest revision seen."""

member_emails = Table(
    "member_emails",
    metadata,
    Column("user_id", String(255), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

expiries = Table(
    "expiries",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("tier_id", String(255)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("email", String(320)),
    Column("ended", Boolean, nullable=False, server_default=text("false")),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Index("ix_expiries_open", "expires_at", postgresql_where=text("NOT ended")),
)

awaiting_address = Table(
    "awaiting_address",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("source_id", String(255), primary_key=True),
    Column("user_id", String(255), nullable=False),
    Column("group_id", String(255)),
    Column("context", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The Stripe objects whose details it waits for (`stripe_details`); NULL: its address only.
    Column("details_keys", ARRAY(String(255))),
    # The address its event carried, if any (one waiting for details may have one).
    Column("email", String(320)),
    Index("ix_awaiting_address_user_id", "user_id"),
)
"""Member notifications that wait for their member's address (no event has carried it yet) or
for the details of Stripe objects that complete them."""

stripe_details = Table(
    "stripe_details",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("details", JSONB, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_stripe_details_as_of", "as_of"),
)
"""What Stripe's events told about our charges, invoices and subscriptions (`domain/details`),
by object id, for the notifications they complete; kept as long as the STRIPE stream keeps
events."""

invoice_attempts = Table(
    "invoice_attempts",
    metadata,
    Column("invoice_id", String(255), primary_key=True),
    Column("attempt_count", Integer, nullable=False),
    Column("paid", Boolean, nullable=False, server_default=text("false")),
    Column("as_of", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_invoice_attempts_as_of", "as_of"),
)
"""The latest known payment attempt of each invoice of ours, and whether it is paid: a failed
attempt's mail is superseded by either."""
