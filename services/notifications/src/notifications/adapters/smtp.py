"""Delivery over SMTP (aiosmtplib), configured by one URL, with failures classified.

`smtp://user:pass@host:587` uses STARTTLS when the server offers it (`?starttls=require` to
insist), `smtps://host:465` connects with TLS. A 5xx about the recipient or the message is
permanent; connection trouble, timeouts, 4xx, and 5xx about our own login or sender address
(configuration, fixed by an operator) are transient.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from notifications.domain.delivery import DeliveryFailure
from notifications.domain.errors import Undeliverable
from notifications.domain.model import Rendered


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


@dataclass(frozen=True)
class Mail:
    """A message with its envelope."""

    sender: str
    recipient: str
    content: bytes | Message
    """Ready for 7-bit transport, or a message flattened when sent (as UTF-8, SMTPUTF8)."""


_CRLF = "\r\n"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
"""Runs of control characters (CR and LF among them) and Unicode line breaks: a header value
must hold none (the categories `tollgate_shared.web.validation.SingleLine` refuses)."""

_PART = r'[^\s@<>()\[\]\\,;:"\x00-\x1f\x7f-\x9f]+'
_ADDRESS = re.compile(f"{_PART}@{_PART}")
"""One plain address (`local@domain`): nothing a header or an SMTP command could be split at,
no display name, no second address."""


def _recipient(address: str) -> str:
    if not _ADDRESS.fullmatch(address):
        raise Undeliverable(f"recipient is not a mail address: {address!r}")
    return address


def _headers(row: Any, content: Rendered, sender: str) -> list[tuple[str, str]]:
    """The headers of a notification's mail, each on one line: a value carries names an
    organizer chose (the group's, in the subject), so every run of control characters in it
    (CR and LF above all) becomes a space and can never start a header of its own."""
    headers = (
        ("From", sender),
        ("To", _recipient(row.recipient)),
        ("Subject", content.subject),
        ("Message-ID", row.message_id),
        ("Date", format_datetime(row.created_at)),
        ("Tollgate-Notification-Id", row.id),
        ("Tollgate-Notification-Kind", row.kind),
    )
    return [(name, _CONTROL.sub(" ", value)) for name, value in headers]


def _header(name: str, value: str) -> str:
    """`Name: value` and its line break; a value that is not ASCII as RFC 2047 encoded words,
    a long one folded — by the email package's `Header`, as its generator would. Most values
    need neither and are written as they are. `value` holds no control characters."""
    if value.isascii() and len(name) + len(value) <= 76:
        return f"{name}: {value}{_CRLF}"
    charset = "us-ascii" if value.isascii() else "utf-8"
    return f"{name}: {Header(value, charset, header_name=name).encode(linesep=_CRLF)}{_CRLF}"


def _text_part(subtype: str, body: str) -> str:
    encoded = base64.encodebytes(body.encode()).decode("ascii").replace("\n", _CRLF)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{_CRLF}MIME-Version: 1.0{_CRLF}'
        f"Content-Transfer-Encoding: base64{_CRLF}{_CRLF}{encoded}"
    )


def _compose(row: Any, content: Rendered, sender: str) -> bytes:
    """The bytes of a notification to ASCII addresses: multipart/alternative, both parts UTF-8
    in base64, as the email package's compat32 classes write it. Composed directly, because the
    email package's generator folds every header and compiles a pattern per boundary (its cost:
    bench/README.md). The boundary comes from the notification's id; base64 never contains
    `--`, so it cannot occur in a part."""
    boundary = f"=_{row.id}"
    return "".join(
        (
            f'Content-Type: multipart/alternative;{_CRLF} boundary="{boundary}"{_CRLF}',
            f"MIME-Version: 1.0{_CRLF}",
            *(_header(name, value) for name, value in _headers(row, content, sender)),
            f"{_CRLF}--{boundary}{_CRLF}",
            _text_part("plain", content.text),
            f"{_CRLF}--{boundary}{_CRLF}",
            _text_part("html", content.html),
            f"{_CRLF}--{boundary}--{_CRLF}",
        )
    ).encode("ascii")


def build_mail(row: Any, content: Rendered, mail_from: str) -> Mail:
    """The mail of a notification row with its subject and bodies: text and HTML
    alternatives, UTF-8. An address that is not ASCII must travel as UTF-8 (SMTPUTF8): such a
    message is built with the email package's default policy and flattened when sent, its
    headers in UTF-8 as RFC 6532 has them. Raises `Undeliverable` for a recipient that is not
    one plain mail address."""
    mail_from = _CONTROL.sub(" ", mail_from)
    name, address = parseaddr(mail_from)
    if row.recipient.isascii() and address.isascii():
        sender = formataddr((name, address), charset="utf-8")
        return Mail(address, row.recipient, _compose(row, content, sender))
    message = EmailMessage()
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    for header, value in _headers(row, content, mail_from):
        message[header] = value
    return Mail(address, row.recipient, message)


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

    async def send(self, mail: Mail) -> DeliveryFailure | None:
        """Deliver `mail`; None once the server accepted it."""
        try:
            while self._idle:
                try:
                    await self._send_over(self._idle.pop(), mail)
                except aiosmtplib.SMTPServerDisconnected:
                    continue  # closed by the server while kept
                return None
            await self._send_over(await self._connect(), mail)
            return None
        except aiosmtplib.SMTPException as exc:
            code, permanent = _permanent(exc)
            detail = str(exc) if code is None else f"{code} {exc}"
            return DeliveryFailure(f"{type(exc).__name__}: {detail}", permanent=permanent)
        except OSError as exc:
            return DeliveryFailure(f"{type(exc).__name__}: {exc}", permanent=False)

    async def _send_over(self, client: aiosmtplib.SMTP, mail: Mail) -> None:
        try:
            if isinstance(mail.content, bytes):
                await client.sendmail(mail.sender, [mail.recipient], mail.content)
            else:
                await client.send_message(
                    mail.content, sender=mail.sender, recipients=[mail.recipient]
                )
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
