"""The MIME message a notification row becomes, read back as a mail client reads it."""

import email.policy
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string
from types import SimpleNamespace

from aiosmtplib.email import extract_recipients, extract_sender, flatten_message

from notifications.adapters.smtp import build_message


def _row(**fields: object) -> SimpleNamespace:
    """A notification row as the sender leases it: a receipt, unless `fields` say otherwise."""
    receipt = {
        "id": "n1",
        "kind": "payment_receipt",
        "message_id": "<payment_receipt.abc@tollgate.example>",
        "created_at": datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
    }
    return SimpleNamespace(**(receipt | fields))


def test_a_row_becomes_a_utf8_message_with_text_and_html_alternatives() -> None:
    row = _row(
        recipient="zoe@example.com",
        subject="Reçu : 12,00 € — Café Ümlaut, a group whose name runs past the fold",
        text_body="Merci pour votre paiement de 12,00 €.\n",
        html_body="<p>Merci pour votre paiement de <b>12,00 €</b>.</p>\n",
    )
    message = build_message(row, "Tollgate Café <billing@tollgate.example>")
    assert extract_sender(message) == "billing@tollgate.example"
    assert extract_recipients(message) == ["zoe@example.com"]

    raw = flatten_message(message)
    assert raw.isascii()  # every header and body encoded for 7-bit transport
    read = message_from_bytes(raw, policy=email.policy.default)
    assert read["Subject"] == row.subject
    assert read["From"].addresses[0].display_name == "Tollgate Café"
    assert read["From"].addresses[0].addr_spec == "billing@tollgate.example"
    assert read["Message-ID"] == row.message_id
    assert read["Date"].datetime == row.created_at
    assert read["Tollgate-Notification-Id"] == "n1"
    assert read["Tollgate-Notification-Kind"] == "payment_receipt"
    assert read.get_body(("plain",)).get_content() == row.text_body
    assert read.get_body(("html",)).get_content() == row.html_body


def test_ascii_headers_stay_as_they_are() -> None:
    row = _row(
        kind="new_member",
        recipient="ada@example.com",
        subject="Welcome to Chess Club",
        text_body="Welcome.\n",
        html_body="<p>Welcome.</p>\n",
    )
    lines = flatten_message(build_message(row, "billing@tollgate.example")).splitlines()
    assert b"Subject: Welcome to Chess Club" in lines
    assert b"To: ada@example.com" in lines
    assert b"From: billing@tollgate.example" in lines


def test_an_address_that_is_not_ascii_travels_as_utf8() -> None:
    row = _row(
        recipient="zoë@exämple.com",
        subject="Reçu",
        text_body="Merci.\n",
        html_body="<p>Merci.</p>\n",
    )
    message = build_message(row, "Tollgate Café <billing@tollgate.example>")
    assert extract_recipients(message) == ["zoë@exämple.com"]
    raw = flatten_message(message, utf8=True).decode().replace("\r\n", "\n")  # SMTPUTF8
    read = message_from_string(raw, policy=email.policy.default)
    assert read["To"].addresses[0].addr_spec == "zoë@exämple.com"
    assert read["Subject"] == "Reçu"
    assert read.get_body(("plain",)).get_content() == "Merci.\n"
