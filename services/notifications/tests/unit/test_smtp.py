"""The MIME message a notification row becomes, read back as a mail client reads it."""

import email.policy
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string
from email.message import EmailMessage, Message
from types import SimpleNamespace

import pytest
from aiosmtplib.email import extract_recipients, flatten_message

from notifications.adapters.smtp import Mail, build_mail
from notifications.domain.errors import Undeliverable
from notifications.domain.model import Rendered


def _row(**fields: object) -> SimpleNamespace:
    """A notification row as the sender leases it: a receipt, unless `fields` say otherwise."""
    receipt = {
        "id": "n1",
        "kind": "payment_receipt",
        "message_id": "<payment_receipt.abc@tollgate.example>",
        "created_at": datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
    }
    return SimpleNamespace(**(receipt | fields))


def _content(row: SimpleNamespace) -> Rendered:
    return Rendered(row.subject, row.text_body, row.html_body)


def _read(mail: Mail) -> EmailMessage:
    """The mail as a client reads it, from the bytes that go over the wire (as UTF-8, SMTPUTF8,
    when it is a message flattened when sent)."""
    if isinstance(mail.content, bytes):
        read = message_from_bytes(mail.content, policy=email.policy.default)
    else:
        raw = flatten_message(mail.content, utf8=True).decode()
        read = message_from_string(raw.replace("\r\n", "\n"), policy=email.policy.default)
    assert isinstance(read, EmailMessage)
    return read


def test_a_row_becomes_a_utf8_message_with_text_and_html_alternatives() -> None:
    row = _row(
        recipient="zoe@example.com",
        subject="Reçu : 12,00 € — Café Ümlaut, a group whose name runs past the fold",
        text_body="Merci pour votre paiement de 12,00 €.\n",
        html_body="<p>Merci pour votre paiement de <b>12,00 €</b>.</p>\n",
    )
    mail = build_mail(row, _content(row), "Tollgate Café <billing@tollgate.example>")
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
    raw = build_mail(row, _content(row), "billing@tollgate.example").content
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


def test_a_long_subject_is_folded() -> None:
    subject = "Welcome to " + " ".join(["the Tuesday Evening Chess Club"] * 4)
    fields = {"kind": "new_member", "recipient": "ada@example.com", "text_body": "Hi.\n"}
    row = _row(subject=subject, html_body="<p>Hi.</p>", **fields)
    raw = build_mail(row, _content(row), "b@t.example")
    assert isinstance(raw.content, bytes)
    assert all(len(line) <= 78 for line in raw.content.split(b"\r\n"))
    read = message_from_bytes(raw.content, policy=email.policy.default)
    assert read["Subject"] == subject


HEADERS = {
    "Content-Type",
    "MIME-Version",
    "From",
    "To",
    "Subject",
    "Message-ID",
    "Date",
    "Tollgate-Notification-Id",
    "Tollgate-Notification-Kind",
}


@pytest.mark.parametrize("recipient", ["ada@example.com", "zoë@exämple.com"])
@pytest.mark.parametrize("group", ["Chess club", "Café Ümlaut"])
@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r", "\x0b", "\x0c", "\x00", "\x85", "\u2028"])
def test_a_line_break_in_a_header_value_becomes_a_space(
    group: str, recipient: str, brk: str
) -> None:
    # A group name an organizer chose reaches the subject, and an operator's sender name the
    # From header: with a line break neither can add a header (nor a recipient) of its own.
    row = _row(
        recipient=recipient,
        subject=f"New member in {group}{brk}Bcc: evil@example.com",
        text_body="Hi.\n",
        html_body="<p>Hi.</p>",
    )
    mail = build_mail(row, _content(row), f"Tollgate{brk}Billing <b@t.example>")
    assert mail.recipient == recipient

    read = _read(mail)
    assert set(read.keys()) == HEADERS
    assert read["Subject"] == f"New member in {group} Bcc: evil@example.com"
    assert read["From"].addresses[0].display_name == "Tollgate Billing"
    assert [a.addr_spec for a in read["From"].addresses] == ["b@t.example"]
    assert [a.addr_spec for a in read["To"].addresses] == [recipient]
    if isinstance(mail.content, Message):
        assert extract_recipients(mail.content) == [recipient]
    else:
        assert mail.content.isascii()  # non-ASCII values as RFC 2047 encoded words


@pytest.mark.parametrize(
    "recipient",
    [
        "ada@example.com\r\nBcc: evil@example.com",
        "ada@example.com, evil@example.com",
        "Ada <ada@example.com>",
        "ada@example.com>\r\nRCPT TO:<evil@example.com",
        "zoë@exämple.com\nBcc: evil@example.com",
        "no address",
        "ada@exa\x00mple.com",
    ],
)
def test_a_recipient_that_is_not_one_plain_address_is_undeliverable(recipient: str) -> None:
    row = _row(recipient=recipient, subject="Hi", text_body="Hi.\n", html_body="<p>Hi.</p>")
    with pytest.raises(Undeliverable, match="not a mail address"):
        build_mail(row, _content(row), "b@t.example")


def test_an_address_that_is_not_ascii_travels_as_utf8() -> None:
    row = _row(
        recipient="zoë@exämple.com",
        subject="Reçu",
        text_body="Merci.\n",
        html_body="<p>Merci.</p>\n",
    )
    mail = build_mail(row, _content(row), "Tollgate Café <billing@tollgate.example>")
    assert (mail.sender, mail.recipient) == ("billing@tollgate.example", "zoë@exämple.com")
    assert not isinstance(mail.content, bytes)  # flattened when sent, as SMTPUTF8
    assert extract_recipients(mail.content) == ["zoë@exämple.com"]
    raw = flatten_message(mail.content, utf8=True).decode().replace("\r\n", "\n")  # SMTPUTF8
    read = message_from_string(raw, policy=email.policy.default)
    assert read["To"].addresses[0].addr_spec == "zoë@exämple.com"
    assert read["Subject"] == "Reçu"
    assert read.get_body(("plain",)).get_content() == "Merci.\n"
