"""The OpenAPI document, made to match what the API really answers.

FastAPI documents success responses and a 422 whose body it does not send. :func:`install`
replaces its generator with one that documents, on every operation, each error status the
route can return and the real error bodies (:class:`~app.schemas.ErrorBody`,
:class:`~app.schemas.ValidationErrorBody`), derived from the route itself:

* a request body: 400 (malformed JSON or Content-Length), 413 (too large), 422;
* parameters: 422 (their validation);
* a path parameter: 404 (unknown feed, entry or token);
* auth (``get_principal``): 401, and 403 (CSRF); ``require(Action)``: 403;
* any request: 414 and 431 (URL or headers over their limits, ``app/http_limits.py``);
* anything else a route can answer, in its own ``responses=`` (see :func:`errors`).

The other limits of every connection (408 too slow, 429/503 at accept) are described in the
document's description: they answer a connection, not an operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from app.deps import REQUIRES_ACTION, get_principal
from app.schemas import ErrorBody, ValidationErrorBody

DESCRIPTIONS = {
    400: "Malformed request: JSON, Content-Length, or a cursor that names no entry.",
    401: "Not signed in: no bearer token or session cookie, or an invalid, revoked or expired one.",
    403: "Signed in but not allowed: `detail` names the missing right (or the CSRF check "
    "that failed).",
    404: "Unknown feed, entry or token.",
    409: "Conflict: the slug exists, or the Idempotency-Key was used with another body.",
    413: "Request body or entry body over its limit.",
    414: "Request URL over LIVEFEED_MAX_URL_BYTES (answered before routing, then closed).",
    415: "Unsupported media type.",
    422: "Invalid fields: `detail` names each one.",
    431: "Request headers over LIVEFEED_MAX_HEADER_BYTES (answered before routing, then closed).",
    429: "Too many connections from this address.",
    501: "Not implemented.",
    503: "Not available right now (draining, storage down): retry later.",
}
LIMITS = (
    "\n\nEvery connection: a URL over `LIVEFEED_MAX_URL_BYTES` gets 414, headers over "
    "`LIVEFEED_MAX_HEADER_BYTES` 431, a head or body sent too slowly 408, and a process at "
    "its connection budget 503 at accept (429 past the per-address cap); see the README."
)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with its description and the error body."""
    return {
        status: {
            "model": ValidationErrorBody if status == 422 else ErrorBody,
            "description": DESCRIPTIONS[status],
        }
        for status in statuses
    }


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=(app.description or "") + LIMITS,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, ValidationErrorBody):
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
    for context in iter_route_contexts(app.routes):
        # A route as included (with its router's prefix and dependencies).
        route: Any = context
        if not isinstance(context.original_route, APIRoute) or not route.include_in_schema:
            continue
        calls = _calls(route.dependant)
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _document(operation, calls)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def _document(operation: dict[str, Any], calls: set[Any]) -> None:
    statuses: set[int] = {414, 431}  # any request can be too long (app/http_limits.py)
    parameters = operation.get("parameters", [])
    if "requestBody" in operation:
        statuses |= {400, 413, 422}
    if parameters:
        statuses.add(422)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if get_principal in calls:
        statuses |= {401, 403}  # 403: a session request without its CSRF token
    if any(hasattr(call, REQUIRES_ACTION) for call in calls):
        statuses.add(403)
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        responses[str(status)] = _response(status)
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            # Whatever the route declared, the body is the one the app sends.
            response["content"] = _response(int(status))["content"]
            response.setdefault("description", DESCRIPTIONS.get(int(status), "Error"))


def _response(status: int) -> dict[str, Any]:
    model = ValidationErrorBody if status == 422 else ErrorBody
    return {
        "description": DESCRIPTIONS[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
        },
    }


def _calls(dependant: Dependant) -> set[Any]:
    found: set[Any] = set()
    for dependency in dependant.dependencies:
        found.add(dependency.call)
        found |= _calls(dependency)
    return found
