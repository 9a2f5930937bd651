"""The mail sink as a real process: SMTP in, JSON and a page out, 550 for rejected domains."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from mail_sink.app import PAGE_SIZE, create_app
from mail_sink.store import MessageStore, received
from tollgate_shared.testing import MailSink, unique


def _message(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Tollgate <no-reply@tollgate.local>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject}@tollgate.local>"
    message.set_content("Amount paid: ¥1,500\n")
    message.add_alternative("<p>Amount paid: <b>¥1,500</b></p>", subtype="html")
    return message


async def _send(sink: MailSink, message: EmailMessage, *, login: bool = False) -> None:
    url = urlsplit(sink.smtp_url)

    def send() -> None:
        with smtplib.SMTP(url.hostname or "", url.port or 0, timeout=10) as client:
            if login:
                client.login("user", "secret")
            client.send_message(message)

    await asyncio.to_thread(send)


async def test_stores_messages_and_lists_them_newest_first(mail_sink: MailSink) -> None:
    to = f"{unique('member')}@example.com"
    await _send(mail_sink, _message(to, "first"))
    await _send(mail_sink, _message(to, "second"), login=True)
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as client:
        messages = (await client.get("/api/messages", params={"to": to})).json()
        page = (await client.get("/")).text
    assert [m["subject"] for m in messages] == ["second", "first"]
    first = messages[1]
    assert first["to"] == [to]
    assert first["from"] == "Tollgate <no-reply@tollgate.local>"
    assert first["text"] == "Amount paid: ¥1,500\n"
    assert "<b>¥1,500</b>" in first["html"]
    assert first["message_id"] == "<first@tollgate.local>"
    assert {"id", "received_at"} <= first.keys()
    assert to in page and "second" in page


async def test_rejects_recipients_at_rejected_domains(mail_sink: MailSink) -> None:
    to = f"{unique('nobody')}@reject.test"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await _send(mail_sink, _message(to, "bounced"))
    assert refused.value.recipients[to][0] == 550
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as client:
        assert (await client.get("/api/messages", params={"to": to})).json() == []


def test_delete_forgets_and_a_file_store_survives_restarts(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    raw = bytes(_message("a@example.com", "kept"))
    MessageStore(path).add(received("no-reply@tollgate.local", ["a@example.com"], raw))
    reopened = MessageStore(path)
    assert [m.subject for m in reopened.newest_first()] == ["kept"]
    client = TestClient(create_app(reopened))
    assert client.delete("/api/messages").json() == {"deleted": 1}
    assert client.get("/api/messages").json() == []
    assert MessageStore(path).newest_first() == []


async def test_health(mail_sink: MailSink) -> None:
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}


def test_messages_are_read_when_asked_for_and_keep_their_ids() -> None:
    store = MessageStore()
    first = received(
        "no-reply@tollgate.local", ["a@example.com"], bytes(_message("a@example.com", "one"))
    )
    second = received(
        "no-reply@tollgate.local", ["b@example.com"], bytes(_message("b@example.com", "two"))
    )
    store.add(first)
    store.add(second)
    assert [(m.id, m.subject) for m in store.newest_first()] == [
        (second.id, "two"),
        (first.id, "one"),
    ]
    assert [m.subject for m in store.newest_first(to="A@example.com")] == ["one"]
    found = store.get(first.id)
    assert found is not None
    assert (found.subject, found.to, found.received_at) == (
        "one",
        ["a@example.com"],
        first.received_at,
    )
    assert store.get("missing") is None


def test_the_page_shows_the_newest_hundred_of_a_long_run() -> None:
    store = MessageStore()
    for n in range(PAGE_SIZE + 5):
        to = f"member{n}@example.com"
        store.add(received("no-reply@tollgate.local", [to], bytes(_message(to, f"receipt {n}"))))
    page = TestClient(create_app(store)).get("/").text
    assert f"{PAGE_SIZE + 5} message(s), the newest {PAGE_SIZE} shown" in page
    assert f"receipt {PAGE_SIZE + 4}<" in page and "receipt 4<" not in page
    assert [m.subject for m in store.newest_first(limit=2)] == [
        f"receipt {PAGE_SIZE + 4}",
        f"receipt {PAGE_SIZE + 3}",
    ]
