"""The errors of every operation in a service's OpenAPI document, with the one error body.

FastAPI documents a route's success and, where it has parameters, a 422 in its own validation
format. Every Tollgate route also answers 422 for the request checks every request passes
(`validation.control_characters_in`), 400 for a body it cannot parse, the statuses of its
dependencies (`errors.may_answer`: 401/403 where it authenticates, 503 where it needs the
database, 429 where it is rate limited) and its own (`errors.error_responses`); all of them
with `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from tollgate_shared.web.errors import ErrorBody

_REF = "#/components/schemas/{model}"


def _dependency_statuses(dependant: Dependant) -> Iterator[int]:
    for dependency in dependant.dependencies:
        yield from getattr(dependency.call, "error_statuses", ())
        yield from _dependency_statuses(dependency)


def document_errors(schema: dict[str, Any], routes: list[BaseRoute]) -> None:
    """Add the error answers of every route to `schema` (the app's OpenAPI document), in place."""
    body = ErrorBody.model_json_schema(ref_template=_REF)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(body.pop("$defs", {}))
    components[ErrorBody.__name__] = body
    error_content = {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}}
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
                    response["content"] = error_content
            operation["responses"] = dict(sorted(responses.items()))
    # FastAPI's own validation error format is answered nowhere.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
