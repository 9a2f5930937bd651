"""The MIME message a notification row becomes, read back as a mail client reads it."""

import email.errors
import email.policy
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string
from types import SimpleNamespace

import pytest
from aiosmtplib.email import extract_recipients, flatten_message

from notifications.adapters.smtp import build_mail


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
    mail = build_mail(row, "Tollgate Café <billing@tollgate.example>")
    assert (mail.sender, mail.recipient) == ("billing@tollgate.example", "zoe@example.com")

    raw = mail.content
    assert isinstance(raw, bytes)
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
    raw = build_mail(row, "billing@tollgate.example").content
    assert isinstance(raw, bytes)
    lines = raw.split(b"\r\n")
    assert b"Subject: Welcome to Chess Club" in lines
    assert b"To: ada@example.com" in lines
    assert b"From: billing@tollgate.example" in lines
    assert all(len(line) <= 78 for line in lines)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line breaks only
    read = message_from_bytes(raw, policy=email.policy.default)
    assert read.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in read.iter_parts()] == ["text/plain", "text/html"]
    assert read.get_body(("html",)).get_content() == row.html_body


def test_a_long_subject_is_folded_and_one_with_a_line_break_refused() -> None:
    subject = "Welcome to " + " ".join(["the Tuesday Evening Chess Club"] * 4)
    fields = {"kind": "new_member", "recipient": "ada@example.com", "text_body": "Hi.\n"}
    raw = build_mail(_row(subject=subject, html_body="<p>Hi.</p>", **fields), "b@t.example")
    assert isinstance(raw.content, bytes)
    assert all(len(line) <= 78 for line in raw.content.split(b"\r\n"))
    read = message_from_bytes(raw.content, policy=email.policy.default)
    assert read["Subject"] == subject

    injected = _row(subject="Hi\r\nBcc: everyone@example.com", html_body="<p>Hi.</p>", **fields)
    with pytest.raises(email.errors.HeaderParseError):
        build_mail(injected, "b@t.example")


def test_an_address_that_is_not_ascii_travels_as_utf8() -> None:
    row = _row(
        recipient="zoë@exämple.com",
        subject="Reçu",
        text_body="Merci.\n",
        html_body="<p>Merci.</p>\n",
    )
    mail = build_mail(row, "Tollgate Café <billing@tollgate.example>")
    assert (mail.sender, mail.recipient) == ("billing@tollgate.example", "zoë@exämple.com")
    assert not isinstance(mail.content, bytes)  # flattened when sent, as SMTPUTF8
    assert extract_recipients(mail.content) == ["zoë@exämple.com"]
    raw = flatten_message(mail.content, utf8=True).decode().replace("\r\n", "\n")  # SMTPUTF8
    read = message_from_string(raw, policy=email.policy.default)
    assert read["To"].addresses[0].addr_spec == "zoë@exämple.com"
    assert read["Subject"] == "Reçu"
    assert read.get_body(("plain",)).get_content() == "Merci.\n"
