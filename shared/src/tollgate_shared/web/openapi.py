"""The errors of every operation in a service's OpenAPI document, with the one error body.

FastAPI documents a route's success and, where it has parameters, a 422 in its own validation
format. Every Tollgate route also answers 422 for the request checks every request passes
(`validation.control_characters_in`), 400 for a body it cannot parse, the statuses of its
dependencies (`errors.may_answer`: 401/403 where it authenticates, 503 where it needs the
database, 429 where it is rate limited) and its own (`errors.error_responses`); all of them
with `{"error": {"code", "message"}}`, and an example of each code it may carry (the service's
error map says which domain error answers which status and code). A route that authenticates
declares the bearer scheme (Swagger UI's Authorize button).
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from tollgate_shared.web.errors import DEFAULT_CODES, ErrorBody, StatusMap

_REF = "#/components/schemas/{model}"
BEARER = "bearer"
_BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A member's, organizer's or admin's token (`sub`, `roles`, `groups` claims).",
}


def _codes(error_status: StatusMap) -> dict[int, dict[str, str]]:
    """Per status, the error codes it may carry and what each says: the generic code of the
    status, then the service's domain errors mapped to it."""
    codes: dict[int, dict[str, str]] = {
        status: {code: HTTPStatus(status).phrase} for status, code in DEFAULT_CODES.items()
    }
    for error, answer in error_status.items():
        said = (error.__doc__ or HTTPStatus(answer.status).phrase).strip().splitlines()[0]
        codes.setdefault(answer.status, {})[answer.code] = said
    return codes


def _error_content(status: int, codes: dict[int, dict[str, str]]) -> dict[str, Any]:
    known = codes.get(status) or {"error": HTTPStatus(status).phrase}
    examples = {
        code: {"summary": code, "value": {"error": {"code": code, "message": said}}}
        for code, said in known.items()
    }
    schema = {"$ref": _REF.format(model="ErrorBody")}
    return {"application/json": {"schema": schema, "examples": examples}}


def _dependency_statuses(dependant: Dependant) -> Iterator[int]:
    for dependency in dependant.dependencies:
        yield from getattr(dependency.call, "error_statuses", ())
        yield from _dependency_statuses(dependency)


def document_errors(
    schema: dict[str, Any], routes: list[BaseRoute], error_status: StatusMap
) -> None:
    """Add the error answers of every route (with examples of their codes, `error_status`: the
    service's error map) and the bearer scheme of those that authenticate to `schema` (the
    app's OpenAPI document), in place."""
    body = ErrorBody.model_json_schema(ref_template=_REF)
    components = schema.setdefault("components", {})
    models = components.setdefault("schemas", {})
    models.update(body.pop("$defs", {}))
    models[ErrorBody.__name__] = body
    codes = _codes(error_status)
    authenticates = False
    for route in iter_route_contexts(routes):
        if not (isinstance(route.original_route, APIRoute) and route.include_in_schema):
            continue
        statuses = {422, *_dependency_statuses(route.dependant)}
        if route.body_field is not None:
            statuses.add(400)
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = _error_content(int(status), codes)
            operation["responses"] = dict(sorted(responses.items()))
            if 401 in statuses:
                operation["security"] = [{BEARER: []}]
                authenticates = True
    if authenticates:
        components.setdefault("securitySchemes", {})[BEARER] = _BEARER_SCHEME
    # FastAPI's own validation error format is answered nowhere.
    for unused in ("HTTPValidationError", "ValidationError"):
        models.pop(unused, None)
