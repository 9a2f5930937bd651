"""Delivery over SMTP (aiosmtplib), configured by one URL, with failures classified.

`smtp://user:pass@host:587` uses STARTTLS when the server offers it (`?starttls=require` to
insist), `smtps://host:465` connects with TLS. A 5xx about the recipient or the message is
permanent; connection trouble, timeouts, 4xx, and 5xx about our own login or sender address
(configuration, fixed by an operator) are transient.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from notifications.domain.delivery import DeliveryFailure


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    use_tls: bool
    start_tls: bool | None
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        """Parse `smtp[s]://[user:pass@]host[:port][?starttls=require|off]`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must be smtp:// or smtps://, not {parts.scheme!r}")
        implicit = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", ["auto"])[0]
        return cls(
            hostname=parts.hostname or "127.0.0.1",
            port=parts.port or (465 if implicit else 25),
            use_tls=implicit,
            start_tls=False if implicit else {"require": True, "off": False}.get(starttls),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def _text(value: str) -> str | Header:
    """A header's text, as an RFC 2047 encoded word where it is not ASCII."""
    return value if value.isascii() else Header(value, "utf-8")


def build_message(row: Any, mail_from: str) -> Message:
    """The MIME message of a notification row: text and HTML alternatives, UTF-8.

    Built with the email package's compat32 classes, whose headers are plain strings: the
    default policy parses every header it is given, which made building and flattening a
    receipt cost about 1.9 ms instead of 0.4 ms. An address that is not ASCII must travel
    as UTF-8 (SMTPUTF8), which compat32 cannot write; such a message is built with the
    default policy.
    """
    message: Message
    name, address = parseaddr(mail_from)
    if row.recipient.isascii() and address.isascii():
        message = MIMEMultipart("alternative")
        message.attach(MIMEText(row.text_body, "plain", "utf-8"))
        message.attach(MIMEText(row.html_body, "html", "utf-8"))
        headers = {
            "From": formataddr((name, address), charset="utf-8"),
            "To": row.recipient,
            "Subject": _text(row.subject),
        }
    else:
        message = EmailMessage()
        message.set_content(row.text_body)
        message.add_alternative(row.html_body, subtype="html")
        headers = {"From": mail_from, "To": row.recipient, "Subject": row.subject}
    headers |= {
        "Message-ID": row.message_id,
        "Date": format_datetime(row.created_at),
        "Tollgate-Notification-Id": row.id,
        "Tollgate-Notification-Kind": row.kind,
    }
    for header, value in headers.items():
        message[header] = value
    return message


def _permanent(exc: aiosmtplib.SMTPException) -> tuple[int | None, bool]:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        code = min(r.code for r in exc.recipients) if exc.recipients else None
        return code, code is not None and code >= 500
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return exc.code, exc.code >= 500
    return getattr(exc, "code", None), False


class SmtpMailer:
    """Sends over kept-open connections (at most one per send in progress, until
    `close_idle`) and reports a classified failure instead of raising. A connection opened per
    message cost the sender more than the message (connect, EHLO, TLS, login, QUIT). A kept
    connection the server has closed meanwhile fails before anything is accepted, so the
    message goes once more over a new one; a connection that failed otherwise is dropped."""

    def __init__(self, target: SmtpTarget, *, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, message: Message) -> DeliveryFailure | None:
        """Deliver `message`; None once the server accepted it."""
        try:
            while self._idle:
                try:
                    return await self._send_over(self._idle.pop(), message)
                except aiosmtplib.SMTPServerDisconnected:
                    continue  # closed by the server while kept
            return await self._send_over(await self._connect(), message)
        except aiosmtplib.SMTPException as exc:
            code, permanent = _permanent(exc)
            detail = str(exc) if code is None else f"{code} {exc}"
            return DeliveryFailure(f"{type(exc).__name__}: {detail}", permanent=permanent)
        except OSError as exc:
            return DeliveryFailure(f"{type(exc).__name__}: {exc}", permanent=False)

    async def _send_over(self, client: aiosmtplib.SMTP, message: Message) -> None:
        try:
            await client.send_message(message)
        except BaseException:
            client.close()
            raise
        self._idle.append(client)

    async def close_idle(self) -> None:
        """End the kept connections politely (QUIT)."""
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        target = self._target
        client = aiosmtplib.SMTP(
            hostname=target.hostname,
            port=target.port,
            use_tls=target.use_tls,
            start_tls=target.start_tls,
            username=target.username,
            password=target.password,
            timeout=self._timeout,
        )
        await client.connect()
        return client
