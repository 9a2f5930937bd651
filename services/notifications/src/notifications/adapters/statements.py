"""Notifications' hand-tuned statements: built once, rows bound as one parameter each (a
statement built per event cost more than running it, and one with a parameter per value was
parsed again per fetch)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    column,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert

from notifications.adapters.orm import (
    awaiting_address,
    catalog_entries,
    group_contacts,
    group_settings,
    invoice_attempts,
    member_emails,
    notifications,
    stripe_details,
)
from notifications.domain.model import Status
from tollgate_shared.persistence.db import DriverStatement, json_rows


def _learn_emails() -> DriverStatement:
    given = json_rows(
        "given",
        "given",
        [("user_id", String()), ("email", String()), ("as_of", DateTime(timezone=True))],
    )
    # In key order, as the notifications below: two transactions writing the same rows lock
    # them in the same order, so they wait for each other instead of deadlocking.
    stmt = insert(member_emails).from_select(
        ["user_id", "email", "as_of"],
        select(given.c.user_id, given.c.email, given.c.as_of).order_by(given.c.user_id),
    )
    return DriverStatement.of(
        stmt.on_conflict_do_update(
            index_elements=[member_emails.c.user_id],
            set_={"email": stmt.excluded.email, "as_of": stmt.excluded.as_of},
            where=member_emails.c.as_of < stmt.excluded.as_of,
        )
    )


LEARN_EMAILS = _learn_emails()
"""Each member's address (`given`: user id, email, as of) kept unless a newer one is known."""

RECORDED = (
    "id",
    "kind",
    "source_id",
    "recipient",
    "user_id",
    "group_id",
    "subject",
    "text_body",
    "html_body",
    "context",
    "message_id",
    "stale_after",
    "status",
)
"""The columns of a recorded notification's row."""


def _record_notifications() -> DriverStatement:
    given = json_rows("rows", "given", [(c, notifications.c[c].type) for c in RECORDED])
    return DriverStatement.of(
        insert(notifications)
        .from_select(
            list(RECORDED),
            select(*[given.c[c] for c in RECORDED]).order_by(
                given.c.kind, given.c.source_id, given.c.recipient
            ),
        )
        .on_conflict_do_nothing(constraint="uq_notifications_fact")
        .returning(notifications.c.id)
    )


RECORD_NOTIFICATIONS = _record_notifications()
"""Notification rows (`rows`) inserted in key order unless their fact exists; the new ids."""

WAITING = ("kind", "source_id", "user_id", "group_id", "context", "details_keys", "email")
"""The columns of a notification waiting for its member's address or Stripe's details."""


def _await_address() -> DriverStatement:
    w = awaiting_address
    given = json_rows("rows", "given", [(c, w.c[c].type) for c in WAITING])
    return DriverStatement.of(
        insert(w)
        .from_select(
            list(WAITING),
            select(*[given.c[c] for c in WAITING]).order_by(given.c.kind, given.c.source_id),
        )
        .on_conflict_do_nothing()
    )


AWAIT_ADDRESS = _await_address()
"""Notifications (`rows`) kept, in key order, to wait for their member's address or details."""


def _remember_details() -> DriverStatement:
    d = stripe_details
    given = json_rows("rows", "given", [("key", String()), ("details", d.c.details.type)])
    stmt = insert(d).from_select(
        ["key", "details"], select(given.c.key, given.c.details).order_by(given.c.key)
    )
    # A later event about the same object adds to what is known (its values win).
    return DriverStatement.of(
        stmt.on_conflict_do_update(
            index_elements=[d.c.key],
            set_={"details": d.c.details.op("||")(stmt.excluded.details), "as_of": func.now()},
        )
    )


REMEMBER_DETAILS = _remember_details()
"""Stripe objects' details (`rows`: key, details), in key order, merged into what is known."""


def _note_attempts() -> DriverStatement:
    t = invoice_attempts
    given = json_rows(
        "rows",
        "given",
        [("invoice_id", String()), ("attempt_count", Integer()), ("paid", Boolean())],
    )
    stmt = insert(t).from_select(
        ["invoice_id", "attempt_count", "paid"],
        select(given.c.invoice_id, given.c.attempt_count, given.c.paid).order_by(
            given.c.invoice_id
        ),
    )
    return DriverStatement.of(
        stmt.on_conflict_do_update(
            index_elements=[t.c.invoice_id],
            set_={
                "attempt_count": func.greatest(t.c.attempt_count, stmt.excluded.attempt_count),
                "paid": t.c.paid | stmt.excluded.paid,
                "as_of": func.now(),
            },
        )
    )


NOTE_ATTEMPTS = _note_attempts()
"""Invoices' attempts (`rows`: invoice id, attempt count, paid), in key order, merged into what
is known (the latest number; paid once any attempt paid)."""

ATTEMPTS_BY_INVOICE = DriverStatement.of(
    select(
        invoice_attempts.c.invoice_id, invoice_attempts.c.attempt_count, invoice_attempts.c.paid
    ).where(invoice_attempts.c.invoice_id == any_(bindparam("invoice_ids", type_=ARRAY(String))))
)
"""What is known of the attempts of the invoices `invoice_ids`."""

SUPERSEDE = DriverStatement.of(
    update(notifications)
    .where(
        notifications.c.kind == bindparam("kind", type_=String()),
        notifications.c.source_id == any_(bindparam("stale_ids", type_=ARRAY(String))),
        or_(*(notifications.c.status == s.value for s in (Status.PENDING, Status.SENDING))),
    )
    .values(stale_after=func.now(), updated_at=func.now())
)
"""Make the notifications of `kind` about `stale_ids` not sent yet stale now."""

DETAILS_BY_KEY = DriverStatement.of(
    select(stripe_details.c.key, stripe_details.c.details).where(
        stripe_details.c.key == any_(bindparam("keys", type_=ARRAY(String)))
    )
)
"""The details known of the Stripe objects `keys`."""


def _groups_by_id() -> DriverStatement:
    wanted = (
        func.unnest(bindparam("group_ids", type_=ARRAY(String)))
        .table_valued(column("group_id", String))
        .render_derived(name="wanted")
    )
    s, c = group_settings, group_contacts
    return DriverStatement.of(
        select(
            wanted.c.group_id,
            s.c.name.label("settings_name"),
            s.c.contact_email,
            s.c.organizer_mail_opt_outs.label("opt_outs"),
            s.c.sale_notice_digest.label("digest"),
            c.c.name.label("contacts_name"),
            c.c.emails.label("contacts_emails"),
        )
        .select_from(
            wanted.outerjoin(s, s.c.group_id == wanted.c.group_id).outerjoin(
                c, c.c.group_id == wanted.c.group_id
            )
        )
        .where(or_(s.c.group_id.is_not(None), c.c.group_id.is_not(None)))
    )


GROUPS_BY_ID = _groups_by_id()
"""The groups `group_ids` that checkout announced or whose contacts were set: checkout's
settings beside the contacts (`domain.groups.Group.of`)."""


def _entries_by_key() -> DriverStatement:
    wanted = (
        func.unnest(
            bindparam("entry_kinds", type_=ARRAY(String)),
            bindparam("entry_ids", type_=ARRAY(String)),
        )
        .table_valued(column("entry_kind", String), column("entry_id", String))
        .render_derived(name="wanted")
    )
    e = catalog_entries
    return DriverStatement.of(
        select(e).join(
            wanted, and_(e.c.entry_kind == wanted.c.entry_kind, e.c.entry_id == wanted.c.entry_id)
        )
    )


ENTRIES_BY_KEY = _entries_by_key()
"""The tiers and items (`entry_kinds[i]`, `entry_ids[i]`) checkout announced."""

MEMBER_EMAILS = DriverStatement.of(
    select(member_emails).where(
        member_emails.c.user_id == any_(bindparam("user_ids", type_=ARRAY(String)))
    )
)
"""The stored addresses of the members `user_ids`."""


def _settle_many() -> DriverStatement:
    t = notifications
    v = (
        func.unnest(
            bindparam("outcome_ids", type_=ARRAY(String)),
            bindparam("outcome_attempts", type_=ARRAY(Integer)),
            bindparam("outcome_statuses", type_=ARRAY(String)),
            bindparam("outcome_reasons", type_=ARRAY(Text)),
            bindparam("outcome_retry_ins", type_=ARRAY(Float)),
        )
        .table_valued(
            column("id", String),
            column("attempts", Integer),
            column("status", String),
            column("reason", Text),
            column("retry_in", Float),
        )
        .render_derived(name="v")
    )
    now = func.now()
    sent = v.c.status == Status.SENT
    # `id = ANY(ids)` besides the join: without it the plan cached for the statement could
    # walk every pending and sending row (the partial due index) once per outcome, a cost
    # that grows with the backlog the sender is working through.
    settle = (
        update(t)
        .where(
            t.c.id == any_(bindparam("outcome_ids", type_=ARRAY(String))),
            t.c.id == v.c.id,
            t.c.status == Status.SENDING,
            t.c.attempts == v.c.attempts,
        )
        .values(
            status=v.c.status,
            lease_until=None,
            updated_at=now,
            sent_at=case((sent, now), else_=t.c.sent_at),
            last_error=case((sent, None), else_=v.c.reason),
            next_attempt_at=func.coalesce(
                now + func.make_interval(0, 0, 0, 0, 0, 0, v.c.retry_in), t.c.next_attempt_at
            ),
        )
        .returning(t.c.id)
    )
    return DriverStatement.of(settle)


SETTLE_MANY = _settle_many()
"""Attempts' outcomes (`outcome_*` arrays) recorded on rows still leased by those attempts."""
