"""The API's documentation pages, `/docs` (Swagger UI) and `/redoc` (ReDoc), with their scripts
and styles served by the service itself (from the `fastapi-offline` package): they work offline
and load nothing from a CDN."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from tollgate_shared.web.errors import NotFound

ASSETS = "/docs-assets"
_FILES = Path(fastapi_offline.__file__).parent / "static"
_SERVED = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
"""The assets, by name: nothing else under the package's directory is served."""


def add_docs(app: FastAPI) -> None:
    """Serve `/docs` and `/redoc` for `app` (made with `docs_url=None, redoc_url=None`)."""
    router = APIRouter(include_in_schema=False)

    @router.get(ASSETS + "/{name}")
    async def asset(name: str) -> FileResponse:
        if name not in _SERVED:
            raise NotFound(f"no documentation asset {name}")
        headers = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(_FILES / name, media_type=_SERVED[name], headers=headers)

    @router.get("/docs", response_class=HTMLResponse)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @router.get("/redoc", response_class=HTMLResponse)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    app.include_router(router)
