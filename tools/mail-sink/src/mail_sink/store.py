"""The messages the sink has accepted, newest first, optionally kept in a JSON-lines file."""

from __future__ import annotations

import email.policy
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StoredMessage:
    """One accepted message, as the JSON API shows it."""

    id: str
    sender: str
    to: list[str]
    subject: str
    text: str | None
    html: str | None
    message_id: str | None
    received_at: str

    def as_json(self) -> dict[str, Any]:
        """The API shape: `sender` is called `from` there."""
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    # On the wire lines end in CRLF; readers (and tests) expect plain newlines.
    return content.replace("\r\n", "\n") if isinstance(content, str) else None


def parse(mail_from: str, rcpt_tos: list[str], raw: bytes) -> StoredMessage:
    """Read subject, bodies and Message-ID out of a raw RFC 5322 message."""
    message = message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return StoredMessage(
        id=uuid.uuid4().hex,
        sender=str(message.get("From") or mail_from),
        to=list(rcpt_tos),
        subject=str(message.get("Subject") or ""),
        text=_body(message, "plain"),
        html=_body(message, "html"),
        message_id=str(message["Message-ID"]).strip() if message["Message-ID"] else None,
        received_at=datetime.now(UTC).isoformat(),
    )


class MessageStore:
    """In memory; appended to `path` (one JSON object a line) when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._messages: list[StoredMessage] = []
        if path is not None and path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    data = json.loads(line)
                    data["sender"] = data.pop("from")
                    self._messages.append(StoredMessage(**data))

    def add(self, message: StoredMessage) -> None:
        """Keep `message` (and persist it if the store has a file)."""
        self._messages.append(message)
        if self._path is not None:
            with self._path.open("a") as f:
                f.write(json.dumps(message.as_json()) + "\n")

    def newest_first(self, *, to: str | None = None) -> list[StoredMessage]:
        """All messages, newest first; only those for recipient `to` if given."""
        wanted = to.lower() if to else None
        return [
            m
            for m in reversed(self._messages)
            if wanted is None or wanted in (r.lower() for r in m.to)
        ]

    def get(self, message_id: str) -> StoredMessage | None:
        """One message by the sink's id."""
        return next((m for m in self._messages if m.id == message_id), None)

    def clear(self) -> int:
        """Forget every message; returns how many there were."""
        count = len(self._messages)
        self._messages.clear()
        if self._path is not None:
            self._path.write_text("")
        return count
