"""The sink's pages and message API against a real sink process: one message with its headers
and source, search, delete (API and page button), 404s, and escaping of everything shown."""

from __future__ import annotations

import asyncio
import re
import smtplib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.testing import MailSink, unique
from tollgate_shared.testing.browser import BROWSER_ARGS, chromium, playwright

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def _message(to: str, subject: str, *, sender: str, body: str, html: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["X-Test-Header"] = f"{HOSTILE} header"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def _send(smtp_url: str, message: EmailMessage) -> None:
    url = urlsplit(smtp_url)

    def send() -> None:
        with smtplib.SMTP(url.hostname or "", url.port or 0, timeout=10) as client:
            client.send_message(message)

    await asyncio.to_thread(send)


async def _sent(sink: MailSink, client: httpx.AsyncClient, **fields: str | None) -> str:
    """Send a message built from `fields` and return the sink's id for it."""
    to = str(fields.pop("to"))
    html = fields.pop("html", None)
    await _send(sink.smtp_url, _message(to, html=html, **fields))  # type: ignore[arg-type]
    [stored] = (await client.get("/api/messages", params={"to": to})).json()
    return str(stored["id"])


def _cells(page: str) -> list[str]:
    """The list page's rows, as text."""
    return [unescape(re.sub(r"<[^>]+>", " ", row)) for row in re.findall(r"<tr>(.*?)</tr>", page)]


async def test_a_message_page_shows_envelope_headers_bodies_and_source(mail_sink: MailSink) -> None:
    to = f"{unique('page')}@example.com"
    subject = f"{HOSTILE} receipt"
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as client:
        message_id = await _sent(
            mail_sink,
            client,
            to=to,
            subject=subject,
            sender="Tollgate <no-reply@tollgate.local>",
            body=f"Amount paid: ¥1,500\n{HOSTILE}\n",
            html=f"<p>Amount paid: <b>¥1,500</b></p>{HOSTILE}",
        )
        listing = await client.get("/", params={"q": to})
        page = await client.get(f"/messages/{message_id}")
        api = (await client.get(f"/api/messages/{message_id}")).json()

    # the list: subject (a link to the page), to, from, time
    assert listing.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]  # no script at all
    assert f'href="/messages/{message_id}"' in listing.text
    [row] = [cells for cells in _cells(listing.text) if to in cells]
    assert subject in row and "no-reply@tollgate.local" in row and " UTC" in row
    # nothing the message brings is markup on the page: only its sandboxed frame renders HTML
    for html in (listing.text, page.text):
        assert "<script>" not in html and "<b>bold</b>" not in html
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    assert f"<h1>{escaped} receipt</h1>" in text
    [frame] = re.findall(r"<iframe [^>]*>", text)
    assert 'sandbox=""' in frame
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))  # type: ignore[union-attr]
    assert srcdoc == f"<p>Amount paid: <b>¥1,500</b></p>{HOSTILE}\n"
    assert "<pre>Amount paid: ¥1,500\n&lt;script&gt;" in text  # the text body
    assert "<th>X-Test-Header</th>" in text and "&lt;b&gt;bold&lt;/b&gt; header</td>" in text
    source = unescape(re.findall(r"<pre>(.*?)</pre>", text, re.S)[-1])
    assert f"To: {to}\n" in source and "Content-Type: multipart/alternative" in source
    assert f'action="/messages/{message_id}/delete"' in text and 'method="post"' in text
    # the API gives the same message with its headers and source
    assert api["subject"] == subject and api["to"] == [to] and api["source"] == source
    assert ["X-Test-Header", f"{HOSTILE} header"] in api["headers"]


async def test_search_finds_subject_recipient_sender_and_body(mail_sink: MailSink) -> None:
    token = unique("needle")
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as client:
        ids = {
            where: await _sent(mail_sink, client, **fields)
            for where, fields in {
                "subject": dict(to=f"{unique('a')}@example.com", subject=f"Receipt {token}"),
                "recipient": dict(to=f"{token}@example.com", subject="Receipt"),
                "sender": dict(to=f"{unique('c')}@x.test", subject="Hi", sender=f"{token}@x.test"),
                "text": dict(to=f"{unique('d')}@example.com", subject="Hi", body=f"ref {token}\n"),
                "html": dict(to=f"{unique('e')}@example.com", subject="Hi", html=f"<i>{token}</i>"),
                "none": dict(to=f"{unique('f')}@example.com", subject="Receipt"),
            }.items()
            for fields in [{"sender": "no-reply@tollgate.local", "body": "Thanks\n", **fields}]
        }
        found = (await client.get("/api/messages", params={"q": token.upper()})).json()
        page = (await client.get("/", params={"q": token})).text
        recipient_only = (
            await client.get("/api/messages", params={"q": token, "to": f"{token}@example.com"})
        ).json()
        nothing = (await client.get("/api/messages", params={"q": unique("absent")})).json()

    expected = [ids[w] for w in ("html", "text", "sender", "recipient", "subject")]  # newest first
    assert [m["id"] for m in found] == expected
    assert {"id", "from", "to", "subject", "text", "html", "received_at"} <= found[0].keys()
    assert "source" not in found[0], "the list stays light"
    assert [m for m in re.findall(r'href="/messages/([0-9a-f]+)"', page)] == expected
    assert "5 of " in page and f'value="{token}"' in page
    assert [m["id"] for m in recipient_only] == [ids["recipient"]]
    assert nothing == []


async def test_a_message_is_deleted_through_the_api_and_the_page(mail_sink: MailSink) -> None:
    fields = {"subject": "Receipt", "sender": "no-reply@tollgate.local", "body": "Thanks\n"}
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as client:
        by_api = await _sent(mail_sink, client, to=f"{unique('del')}@example.com", **fields)
        by_page = await _sent(mail_sink, client, to=f"{unique('del')}@example.com", **fields)
        kept = await _sent(mail_sink, client, to=f"{unique('keep')}@example.com", **fields)

        deleted = await client.delete(f"/api/messages/{by_api}")
        again = await client.delete(f"/api/messages/{by_api}")
        posted = await client.post(f"/messages/{by_page}/delete")
        followed = await client.post(f"/messages/{kept}/delete", follow_redirects=True)
        gone = [await client.get(f"/api/messages/{i}") for i in (by_api, by_page, kept)]
        page_gone = await client.get(f"/messages/{by_page}")
        unknown_page = await client.get("/nowhere/<script>")
        unknown_api = await client.get("/api/nowhere")
        ids = {m["id"] for m in (await client.get("/api/messages")).json()}

    assert deleted.status_code == 204 and deleted.content == b""
    assert again.status_code == 404
    assert again.json() == {
        "error": {"code": "not_found", "message": again.json()["error"]["message"]}
    }
    assert posted.status_code == 303 and posted.headers["location"] == "/"
    assert followed.status_code == 200 and "Mail sink" in followed.text
    assert [r.status_code for r in gone] == [404, 404, 404]
    assert all(r.json()["error"]["code"] == "not_found" for r in gone)
    assert page_gone.status_code == 404
    assert page_gone.headers["content-type"].startswith("text/html")
    assert "Not found" in page_gone.text and 'href="/"' in page_gone.text
    assert unknown_page.status_code == 404 and "<script>" not in unknown_page.text
    assert unknown_page.headers["content-type"].startswith("text/html")
    assert unknown_api.status_code == 404 and unknown_api.json()["error"]["code"] == "not_found"
    assert not {by_api, by_page, kept} & ids


@contextmanager
def _sink_process(store: Path, log: Path) -> Iterator[MailSink]:
    smtp_port, http_port = free_port(), free_port()
    ports = ["--smtp-port", str(smtp_port), "--http-port", str(http_port)]
    argv = [sys.executable, "-m", "mail_sink", *ports, "--store", str(store)]
    server = ServerProcess("mail-sink-file", argv, log_path=log)
    try:
        server.wait_for_port("127.0.0.1", smtp_port)  # as the shared fixture: both must be up
        server.wait_for_port("127.0.0.1", http_port)
        yield MailSink(f"smtp://127.0.0.1:{smtp_port}", f"http://127.0.0.1:{http_port}")
    finally:
        server.stop()


async def test_a_file_store_keeps_headers_and_source_and_forgets_deleted_ones(
    tmp_path: Path,
) -> None:
    store = tmp_path / "messages.jsonl"
    # a line written before headers and sources were kept still loads
    store.write_text(
        '{"id": "old1", "from": "a@x.test", "to": ["b@x.test"], "subject": "Old", "text": "hi",'
        ' "html": null, "message_id": null, "received_at": "2024-01-01T00:00:00+00:00"}\n'
    )
    fields = {"sender": "no-reply@tollgate.local", "body": "Thanks\n"}
    with _sink_process(store, tmp_path / "first.log") as sink:
        async with httpx.AsyncClient(base_url=sink.http_url) as client:
            kept = await _sent(sink, client, to="kept@example.com", subject="Kept", **fields)
            dropped = await _sent(sink, client, to="gone@example.com", subject="Gone", **fields)
            assert (await client.delete(f"/api/messages/{dropped}")).status_code == 204
    with _sink_process(store, tmp_path / "second.log") as sink:
        async with httpx.AsyncClient(base_url=sink.http_url) as client:
            listed = [m["id"] for m in (await client.get("/api/messages")).json()]
            message = (await client.get(f"/api/messages/{kept}")).json()
            old = await client.get("/messages/old1")
    assert listed == [kept, "old1"]
    assert ["Subject", "Kept"] in message["headers"] and "Subject: Kept\n" in message["source"]
    assert old.status_code == 200 and "<h1>Old</h1>" in old.text


async def test_a_person_reads_searches_and_deletes_a_mail_in_a_real_browser(
    mail_sink: MailSink,
) -> None:
    """As a developer would: the list, a search, one message with its headers and source, the
    delete button; the page's structure is checked (and shot into var/screenshots/)."""
    to = f"{unique('browser')}@example.com"
    subject = f"Receipt {unique('r')}"
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as client:
        await _sent(
            mail_sink,
            client,
            to=to,
            subject=subject,
            sender="tollgate@example.com",
            body="Thank you for your payment.",
            html=f"<p>Thank you {HOSTILE}</p>",
        )
    shots = SCREENSHOTS
    shots.mkdir(parents=True, exist_ok=True)
    executable, api = chromium(), playwright()
    async with api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(executable), args=BROWSER_ARGS)
        try:
            page = await browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            await page.goto(f"{mail_sink.http_url}/?q={to}")
            await page.screenshot(path=str(shots / "mail-sink-list.png"))
            assert await page.locator(f"a:has-text('{subject}')").count() == 1
            await page.click(f"a:has-text('{subject}')")
            await page.wait_for_load_state()
            await page.screenshot(path=str(shots / "mail-sink-message.png"), full_page=True)
            text = await page.text_content("body") or ""
            assert subject in text and "X-Test-Header" in text and to in text
            assert dialogs == [], "a script in the mail never ran"
            await page.click("button:has-text('Delete')")
            await page.wait_for_load_state()
            assert await page.locator(f"a:has-text('{subject}')").count() == 0
        finally:
            await browser.close()
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as client:
        assert (await client.get("/api/messages", params={"to": to})).json() == []
