"""The HTTP side: the JSON API under `/api/messages` (newest first, search, delete) and the
pages: the list at `/` (`?q=` searches), one message at `/messages/{id}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException

from mail_sink import pages
from mail_sink.store import MessageStore, StoredMessage

PAGE_SIZE = 100
"""Messages the page shows (a long test run leaves thousands)."""


CODES = {404: "not_found", 405: "method_not_allowed"}


class MessageNotFound(Exception):
    """No stored message has this id."""


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code, headers={"Content-Security-Policy": pages.CSP})


def _error(status_code: int, code: str, message: str) -> JSONResponse:
    """Tollgate's error body (`{"error": {"code", "message"}}`), for the API's clients."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status_code)


def _install_error_pages(app: FastAPI) -> None:
    """Unknown messages and addresses: the error body under /api, an HTML page elsewhere."""

    def answer(request: Request, status_code: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return _error(status_code, CODES.get(status_code, "error"), message)
        return _html(pages.not_found_page(message), status_code)

    @app.exception_handler(MessageNotFound)
    async def _no_message(request: Request, _: MessageNotFound) -> Response:
        return answer(request, 404, "There is no such message (it may have been deleted).")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return answer(request, exc.status_code, str(exc.detail))


def create_app(store: MessageStore) -> FastAPI:
    """The sink's HTTP API and pages over `store`."""
    app = FastAPI(title="Tollgate mail sink")
    _install_error_pages(app)

    def found(message_id: str) -> StoredMessage:
        message = store.get(message_id)
        if message is None:
            raise MessageNotFound(message_id)
        return message

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The sink is up."""
        return {"status": "ok"}

    @app.get("/api/messages")
    def list_messages(to: str | None = None, q: str | None = None) -> list[dict[str, Any]]:
        """Stored messages, newest first; `?to=` keeps those for one recipient, `?q=` those
        with the text in the subject, a recipient, the sender or a body."""
        return [m.as_json() for m in store.newest_first(to=to, query=q)]

    @app.get("/api/messages/{message_id}")
    def get_message(message_id: str) -> dict[str, Any]:
        """One stored message, with its headers and raw source."""
        return found(message_id).as_json(full=True)

    @app.delete("/api/messages/{message_id}", status_code=204)
    def delete_message(message_id: str) -> Response:
        """Forget one message: 204, or 404 if there is none with that id."""
        if not store.delete(message_id):
            raise MessageNotFound(message_id)
        return Response(status_code=204)

    @app.delete("/api/messages")
    def clear_messages() -> dict[str, int]:
        """Forget every stored message."""
        return {"deleted": store.clear()}

    @app.get("/", response_class=HTMLResponse)
    def list_page(q: str = "") -> HTMLResponse:
        """The newest messages (those `q` is found in, if given): subject, to, from, time."""
        if q:
            matched = store.newest_first(query=q)
            messages, count = matched[:PAGE_SIZE], len(matched)
        else:
            messages, count = store.newest_first(limit=PAGE_SIZE), len(store)
        return _html(pages.list_page(messages, total=len(store), matched=count, query=q))

    @app.get("/messages/{message_id}", response_class=HTMLResponse)
    def message_page(message_id: str) -> HTMLResponse:
        """One message: envelope, headers, HTML body (sandboxed), text body, raw source."""
        return _html(pages.message_page(found(message_id)))

    @app.post("/messages/{message_id}/delete")
    def delete_from_page(message_id: str) -> RedirectResponse:
        """The message page's delete button: forget it and go back to the list."""
        if not store.delete(message_id):
            raise MessageNotFound(message_id)
        return RedirectResponse("/", status_code=303)

    return app
