"""The messages the sink has accepted, newest first, optionally kept in a JSON-lines file.

A message is kept as it arrived and read (parsed) the first time someone asks for it, so the
sink keeps up with a busy sender: parsing took about half of its time per message.
"""

from __future__ import annotations

import email.policy
import itertools
import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
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
    headers: list[tuple[str, str]] = field(default_factory=list)
    """Every header as it arrived, in order (decoded)."""
    source: str = ""
    """The raw message (RFC 5322, undecodable bytes replaced), lines ending in newlines."""

    def as_json(self, *, full: bool = False) -> dict[str, Any]:
        """The API shape: `sender` is called `from` there; `headers` and `source` only when
        `full` (one message, or the file store), so listing thousands stays light."""
        data = asdict(self)
        data["from"] = data.pop("sender")
        data["headers"] = [list(h) for h in self.headers]
        if not full:
            del data["headers"], data["source"]
        return data

    def matches(self, query: str) -> bool:
        """Whether `query` (already case-folded) is in the subject, a recipient, the sender or
        a body."""
        fields = (self.subject, self.sender, *self.to, self.text or "", self.html or "")
        return any(query in value.casefold() for value in fields)


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    # On the wire lines end in CRLF; readers (and tests) expect plain newlines.
    return content.replace("\r\n", "\n") if isinstance(content, str) else None


@dataclass(frozen=True)
class RawMessage:
    """One accepted message, not read yet."""

    id: str
    sender: str
    to: list[str]
    raw: bytes
    received_at: str


def received(mail_from: str, rcpt_tos: list[str], raw: bytes) -> RawMessage:
    """A message as it arrived over SMTP (envelope sender and recipients, raw RFC 5322)."""
    return RawMessage(
        uuid.uuid4().hex, mail_from, list(rcpt_tos), raw, datetime.now(UTC).isoformat()
    )


def parse(message: RawMessage) -> StoredMessage:
    """Read subject, bodies and Message-ID out of the raw message."""
    parsed = message_from_bytes(message.raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return StoredMessage(
        id=message.id,
        sender=str(parsed.get("From") or message.sender),
        to=message.to,
        subject=str(parsed.get("Subject") or ""),
        text=_body(parsed, "plain"),
        html=_body(parsed, "html"),
        message_id=str(parsed["Message-ID"]).strip() if parsed["Message-ID"] else None,
        received_at=message.received_at,
        headers=[(name, str(value)) for name, value in parsed.items()],
        source=message.raw.decode("utf-8", errors="replace").replace("\r\n", "\n"),
    )


class MessageStore:
    """In memory; appended to `path` (one JSON object a line, read at once) when one is given.
    Safe to use from the SMTP server's loop and the HTTP API's threads at once."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._messages: list[StoredMessage | RawMessage] = []
        self._parsed: dict[str, StoredMessage] = {}
        """In-memory messages already read, by id."""
        if path is not None and path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    data = json.loads(line)
                    data["sender"] = data.pop("from")
                    # lines written before headers were kept have none (nor a source)
                    data["headers"] = [tuple(h) for h in data.get("headers", [])]
                    self._messages.append(StoredMessage(**data))

    def add(self, message: RawMessage) -> None:
        """Keep `message` (read and persisted at once if the store has a file)."""
        with self._lock:
            if self._path is None:
                self._messages.append(message)
                return
            stored = parse(message)
            self._messages.append(stored)
            with self._path.open("a") as f:
                f.write(json.dumps(stored.as_json(full=True)) + "\n")

    def newest_first(
        self, *, to: str | None = None, query: str | None = None, limit: int | None = None
    ) -> list[StoredMessage]:
        """All messages, newest first; only those for recipient `to` if given; only those
        `query` is found in if given (see `StoredMessage.matches`); the newest `limit` if given.
        Without a query each is read only if it is returned. Messages are read outside the
        lock: a long list never holds up the SMTP side."""
        wanted = to.lower() if to else None
        needle = query.casefold() if query else None
        with self._lock:
            candidates = [
                m
                for m in reversed(self._messages)
                if wanted is None or wanted in (r.lower() for r in m.to)
            ]
        found = (self._read(m) for m in candidates)
        if needle is not None:
            found = (m for m in found if m.matches(needle))
        return list(itertools.islice(found, limit))

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def get(self, message_id: str) -> StoredMessage | None:
        """One message by the sink's id."""
        with self._lock:
            found = next((m for m in self._messages if m.id == message_id), None)
        return None if found is None else self._read(found)

    def _read(self, message: StoredMessage | RawMessage) -> StoredMessage:
        """The message read (parsed once; kept while the message is)."""
        if isinstance(message, StoredMessage):
            return message
        read = self._parsed.get(message.id)
        if read is None:  # a race reads it twice, alike; a deleted one's entry is never asked
            read = self._parsed[message.id] = parse(message)
        return read

    def delete(self, message_id: str) -> bool:
        """Forget one message; False if there is none with that id."""
        with self._lock:
            index = next((i for i, m in enumerate(self._messages) if m.id == message_id), None)
            if index is None:
                return False
            del self._messages[index]
            self._parsed.pop(message_id, None)
            if self._path is not None:  # a file store holds read messages only
                messages = (self._read(m).as_json(full=True) for m in self._messages)
                self._path.write_text("".join(json.dumps(m) + "\n" for m in messages))
            return True

    def clear(self) -> int:
        """Forget every message; returns how many there were."""
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
            if self._path is not None:
                self._path.write_text("")
            return count
