"""The HTTP side: `GET /api/messages` (newest first), `DELETE /api/messages`, a page at `/`."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from mail_sink.store import MessageStore, StoredMessage


def _card(message: StoredMessage) -> str:
    body = (
        f'<iframe sandbox="" srcdoc="{escape(message.html)}"></iframe>'
        if message.html
        else f"<pre>{escape(message.text or '')}</pre>"
    )
    return (
        f"<article><h2>{escape(message.subject)}</h2>"
        f"<p>to <b>{escape(', '.join(message.to))}</b> from {escape(message.sender)}"
        f" · {escape(message.received_at)}</p>{body}</article>"
    )


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Mail sink</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:auto}}
article{{border:1px solid #ccc;margin:1rem 0;padding:0 1rem 1rem}}
iframe{{width:100%;height:22rem;border:1px solid #eee}}</style></head>
<body><h1>Mail sink: {count}</h1>{cards}</body></html>"""


PAGE_SIZE = 100
"""Messages the page shows (a long test run leaves thousands)."""


def create_app(store: MessageStore) -> FastAPI:
    """The sink's HTTP API and page over `store`."""
    app = FastAPI(title="Tollgate mail sink")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The sink is up."""
        return {"status": "ok"}

    @app.get("/api/messages")
    def list_messages(to: str | None = None) -> list[dict[str, Any]]:
        """Stored messages, newest first; `?to=` keeps those for one recipient."""
        return [m.as_json() for m in store.newest_first(to=to)]

    @app.get("/api/messages/{message_id}")
    def get_message(message_id: str) -> dict[str, Any]:
        """One stored message."""
        message = store.get(message_id)
        if message is None:
            raise HTTPException(404, "no such message")
        return message.as_json()

    @app.delete("/api/messages")
    def clear_messages() -> dict[str, int]:
        """Forget every stored message."""
        return {"deleted": store.clear()}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        """The newest messages: subject, recipient and rendered body."""
        messages = store.newest_first(limit=PAGE_SIZE)
        count = f"{len(store)} message(s), the newest {len(messages)} shown"
        return PAGE.format(count=count, cards="".join(_card(m) for m in messages))

    return app
