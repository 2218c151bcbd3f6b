"""How the API answers failures: 422 with the problems, 503 when the store cannot serve, 500.

Every error body has the documented shape ``{"error", "detail"}`` (:class:`ErrorResponse`).
:func:`install_error_handlers` registers the handlers on an app.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from recommendations.api.models import ErrorResponse, ValidationErrorResponse, ValidationProblem
from sparkjobs.serving.stores import NoSnapshotError, StoreUnavailableError

log = logging.getLogger("recommendations.api")


def problems_of(exc: RequestValidationError) -> list[ValidationProblem]:
    """One :class:`ValidationProblem` per failed parameter (path, query or body)."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where, name = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("request", ".".join(loc))
        problems.append(
            ValidationProblem(
                parameter=name, location=where, message=err.get("msg", ""), input=err.get("input")
            )
        )
    return problems


async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = problems_of(exc)
    detail = "; ".join(f"{p.parameter} ({p.location}): {p.message}, got {p.input!r}" for p in problems)
    body = ValidationErrorResponse(error="invalid request", detail=detail, problems=problems)
    return JSONResponse(status_code=422, content=jsonable_encoder(body))


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
    app.add_exception_handler(StoreUnavailableError, store_cannot_serve)
    app.add_exception_handler(NoSnapshotError, store_cannot_serve)
    app.add_exception_handler(Exception, internal_error)
