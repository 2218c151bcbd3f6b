"""How the API answers failures: 404/405, 422 with the problems, 503 when the store cannot serve, 500.

Every error body has the documented shape ``{"error", "detail"}`` (:class:`ErrorResponse`), and
repeats at most :data:`ECHO_LIMIT` characters of what the client sent.
:func:`install_error_handlers` registers the handlers on an app.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from recommendations.api.models import ErrorResponse, ValidationErrorResponse, ValidationProblem
from sparkjobs.serving.stores import NoSnapshotError, StoreUnavailableError

log = logging.getLogger("recommendations.api")
STATUS_CODES = frozenset(s.value for s in HTTPStatus)


#: how much of a rejected input an error body repeats (a 60 KB id must not make a 120 KB answer)
ECHO_LIMIT = 64


def clip(value: Any, limit: int = ECHO_LIMIT) -> Any:
    """``value`` as it may appear in an error body: long text is cut and says how long it was."""
    text = value if isinstance(value, str) else None if value is None else repr(value)
    if text is None or len(text) <= limit:
        return value
    return f"{text[:limit]}… ({len(text)} characters)"


def problems_of(exc: RequestValidationError) -> list[ValidationProblem]:
    """One :class:`ValidationProblem` per failed parameter (path, query or body); inputs clipped."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where, name = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("request", ".".join(loc))
        problems.append(
            ValidationProblem(
                parameter=clip(name),
                location=where,
                message=clip(err.get("msg", ""), 200),
                input=clip(err.get("input")),
            )
        )
    return problems


async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = problems_of(exc)
    detail = "; ".join(f"{p.parameter} ({p.location}): {p.message}, got {p.input!r}" for p in problems)
    body = ValidationErrorResponse(error="invalid request", detail=detail, problems=problems)
    return JSONResponse(status_code=422, content=jsonable_encoder(body))


async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """404 (no such route), 405 (method not allowed) … in the documented error shape."""
    error = HTTPStatus(exc.status_code).phrase.lower() if exc.status_code in STATUS_CODES else "error"
    detail = exc.detail if isinstance(exc.detail, str) else repr(exc.detail)
    body = ErrorResponse(error=error, detail=clip(detail, 200))
    return JSONResponse(status_code=exc.status_code, content=body.model_dump(), headers=exc.headers)


async def store_cannot_serve(request: Request, exc: Exception) -> JSONResponse:
    request.app.state.metrics.unavailable.inc()
    body = ErrorResponse(error="service unavailable", detail=str(exc))
    return JSONResponse(status_code=503, content=body.model_dump(), headers={"Retry-After": "5"})


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = ErrorResponse(error="internal error", detail=f"{type(exc).__name__} (see the server log)")
    return JSONResponse(status_code=500, content=body.model_dump())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailableError, store_cannot_serve)
    app.add_exception_handler(NoSnapshotError, store_cannot_serve)
    app.add_exception_handler(Exception, internal_error)
