"""Every JSON request body of every service's API carries an example in its OpenAPI document,
and each example is a request the route accepts (validated by the route's own body model)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import TypeAdapter

SERVICES = ("webhook_gateway", "checkout", "membership", "ledger", "notifications")


def app_of(service: str) -> FastAPI:
    settings = import_module(f"{service}.config").Settings(database_url="postgresql://x@h/x")
    app: FastAPI = import_module(f"{service}.main").create_app(settings)
    return app


def examples(spec: dict[str, Any], content: dict[str, Any]) -> list[Any]:
    """The examples of a request body: on the media type, or on the schema it refers to."""
    found = [content["example"]] if "example" in content else []
    found += [e["value"] for e in content.get("examples", {}).values()]
    schema = content.get("schema", {})
    for option in [schema, *schema.get("anyOf", [])]:
        if "$ref" in option:
            named = spec["components"]["schemas"][option["$ref"].rsplit("/", 1)[1]]
            found += named.get("examples", [])
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_body_has_an_example_the_route_accepts(service: str) -> None:
    app = app_of(service)
    spec = app.openapi()
    bodies = {
        (method, route.path_format): route.body_field
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            shown = examples(spec, content)
            if not shown:
                missing.append(f"{method.upper()} {path}")
                continue
            field = bodies.get((method.upper(), path))
            if field is not None:  # a raw body (the webhook) is checked by its own tests
                for example in shown:
                    TypeAdapter(field.field_info.annotation).validate_python(example)
    assert missing == []
