"""The sink's HTML pages: the list (with search), one message, and not found. Everything a
message brings is escaped; its HTML body is shown only inside a sandboxed frame."""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote

from mail_sink.store import StoredMessage

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'"
)
"""No script runs on these pages, not even one a message smuggles past the escaping."""

LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:64rem;margin:auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #ddd;vertical-align:top}}.scroll{{overflow-x:auto}}
pre{{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:.5rem}}
iframe{{width:100%;height:24rem;border:1px solid #ddd}}form.inline{{display:inline}}</style>
</head><body>{body}</body></html>"""


def _page(title: str, body: str) -> str:
    return LAYOUT.format(title=escape(title), body=body)


def _time(received_at: str) -> str:
    """`received_at` (ISO 8601, UTC) to the second, in a <time> element."""
    try:
        shown = datetime.fromisoformat(received_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        shown = received_at
    return f'<time datetime="{escape(received_at)}">{escape(shown)}</time>'


def _link(message: StoredMessage) -> str:
    return f"/messages/{quote(message.id, safe='')}"


def list_page(messages: list[StoredMessage], *, total: int, matched: int, query: str) -> str:
    """The newest `messages` (of `matched` that `query` finds among `total`)."""
    if query:
        count = f"{matched} of {total} message(s) match, the newest {len(messages)} shown"
    else:
        count = f"{total} message(s), the newest {len(messages)} shown"
    rows = "".join(
        f'<tr><td><a href="{_link(m)}">{escape(m.subject) or "(no subject)"}</a></td>'
        f"<td>{escape(', '.join(m.to))}</td><td>{escape(m.sender)}</td>"
        f"<td>{_time(m.received_at)}</td></tr>"
        for m in messages
    )
    search = (
        '<form method="get" action="/" role="search"><input type="search" name="q" '
        f'value="{escape(query)}" placeholder="subject, recipient, sender or body" size="40">'
        ' <button type="submit">Search</button>'
        + (' <a href="/">clear</a>' if query else "")
        + "</form>"
    )
    table = (
        '<div class="scroll"><table><thead><tr><th>Subject</th><th>To</th><th>From</th>'
        f"<th>Received</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if messages
        else "<p>No messages.</p>"
    )
    return _page("Mail sink", f"<h1>Mail sink</h1>{search}<p>{count}</p>{table}")


def message_page(message: StoredMessage) -> str:
    """One message: its envelope, headers, bodies and raw source, and a delete button."""
    headers = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in message.headers
    )
    html = (
        f'<h2>HTML body</h2><iframe sandbox="" title="HTML body" '
        f'srcdoc="{escape(message.html)}"></iframe>'
        if message.html is not None
        else ""
    )
    text = f"<h2>Text body</h2><pre>{escape(message.text)}</pre>" if message.text else ""
    body = (
        '<p><a href="/">&larr; all messages</a></p>'
        f"<h1>{escape(message.subject) or '(no subject)'}</h1>"
        f"<p>To <b>{escape(', '.join(message.to))}</b> from {escape(message.sender)}, "
        f"received {_time(message.received_at)}</p>"
        f'<form class="inline" method="post" action="{_link(message)}/delete">'
        '<button type="submit">Delete this message</button></form>'
        f"{html}{text}"
        f'<h2>Headers</h2><div class="scroll"><table>{headers}</table></div>'
        f"<h2>Source</h2><pre>{escape(message.source)}</pre>"
    )
    return _page(f"{message.subject} - Mail sink", body)


def not_found_page(what: str) -> str:
    """The page of an unknown message or address."""
    return _page(
        "Not found - Mail sink",
        f'<h1>Not found</h1><p>{escape(what)}</p><p><a href="/">All messages</a></p>',
    )
