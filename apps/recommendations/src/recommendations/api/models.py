"""The response bodies of the API (pydantic models, also its OpenAPI schema)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class RecommendedItem(BaseModel):
    item_id: int
    title: str | None
    score: float
    rank: int
    source: str = Field(
        description=(
            "who ranked the item: the model the build served (item_knn, ease or als: personal to the "
            "user) or popular (the popularity fallback, also every item of an unknown user)"
        )
    )


class RecommendationsResponse(BaseModel):
    user_id: int
    fallback: bool = Field(description="true when the user is unknown and popular items are returned")
    items: list[RecommendedItem]


class SimilarItem(BaseModel):
    item_id: int
    title: str | None
    score: float
    rank: int


class SimilarItemsResponse(BaseModel):
    item_id: int
    title: str | None
    items: list[SimilarItem]


class HealthOk(BaseModel):
    status: Literal["ok"] = "ok"
    snapshot_date: date
    snapshot_age_days: int
    loaded_at: datetime
    loaded_age_seconds: float
    load_seconds: float
    row_counts: dict[str, int]
    run_id: str


class HealthFailure(BaseModel):
    status: Literal["unavailable"] = "unavailable"
    reason: str
    snapshot_date: date | None = None


class ErrorResponse(BaseModel):
    error: str
    detail: str


class ValidationProblem(BaseModel):
    parameter: str
    location: str
    message: str
    input: Any = None


class ValidationErrorResponse(ErrorResponse):
    problems: list[ValidationProblem]
