"""The OpenAPI 3.1 description, generated from the pydantic models that validate and shape the API.

Each operation is declared once, next to its view, with its request and response models; the JSON
schemas come from pydantic, so the description cannot drift from the validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from casework.api.models import ErrorOut
from casework.version import __version__

REF = "#/components/schemas/{model}"
REF_PARAM = [{"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    responses: dict[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    parameters: list[dict[str, Any]] = field(default_factory=list)
    security: bool = False


OPERATIONS: list[Operation] = []


def operation(op: Operation) -> None:
    OPERATIONS.append(op)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def build_spec() -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorOut}
    for op in OPERATIONS:
        models.update(m for m in op.responses.values() if m is not None)
        if op.request is not None:
            models.add(op.request)
    _, schemas = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        for status, model in sorted(op.responses.items()):
            entry: dict[str, Any] = {"description": _describe(status)}
            target = model or (ErrorOut if status >= 400 else None)
            if target is not None:
                entry["content"] = {"application/json": {"schema": _ref(target)}}
            responses[str(status)] = entry
        spec: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(op), "responses": responses}
        if op.parameters:
            spec["parameters"] = op.parameters
        if op.request is not None:
            spec["requestBody"] = {"required": True,
                                   "content": {"application/json": {"schema": _ref(op.request)}}}
        if op.security:
            spec["security"] = [{"bearer": []}]
        paths.setdefault(op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {"title": "casework API", "version": __version__,
                 "description": "Formal subscription-cancellation cases: catalog, assessments and cases."},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation_id(op: Operation) -> str:
    words = [w for w in op.path.replace("{", "").replace("}", "").split("/") if w and w not in ("api", "v1")]
    return op.method.lower() + "_" + "_".join(w.replace("-", "_") for w in words)


def _describe(status: int) -> str:
    return {200: "OK", 201: "Created", 304: "Not modified", 400: "Malformed request",
            401: "Unauthorized", 404: "Not found", 409: "Conflict", 413: "Body over 64 KiB",
            422: "Validation failed", 429: "Rate limited", 503: "Database unreachable"}.get(status, "Response")
