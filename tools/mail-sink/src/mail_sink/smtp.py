"""The SMTP side: accept every message except for recipients on rejected domains."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from mail_sink.store import MessageStore, received


class SinkHandler:
    """aiosmtpd hooks: 550 for recipients on `reject_domains`, store everything else."""

    def __init__(self, store: MessageStore, reject_domains: Collection[str]) -> None:
        self._store = store
        self._reject = {d.lower() for d in reject_domains}

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.rpartition("@")[2].lower() in self._reject:
            return f"550 5.1.1 <{address}>: recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self._store.add(received(str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        return "250 Message accepted for delivery"


def accept_any_login(*_: Any) -> AuthResult:
    """Any user name and password will do: the sink only checks that clients can log in."""
    return AuthResult(success=True)


def smtp_protocol(handler: SinkHandler) -> SMTP:
    """One SMTP session; offers AUTH without TLS so clients configured with credentials work."""
    return SMTP(
        handler,
        hostname="mail-sink.local",
        authenticator=accept_any_login,
        auth_require_tls=False,
    )
