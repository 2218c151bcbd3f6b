"""Framework-wide settings: the sections of the merged configuration tree that are not job params.

The tree read from ``conf/`` has these top-level keys::

    engine:         EngineSettings (spark | duckdb | auto, and DuckDB's own settings)
    spark:          SparkSettings
    observability:  ObservabilitySettings
    jobs:           {job_name: {...params validated by the job's own model...}}
    pipelines:      {pipeline_name: {...}}   (validated by sparkjobs.pipeline)
    state:          {...}                    (the pipeline run ledger; validated by sparkjobs.pipeline)
    catalog:        {dataset_name: {...}}    (named datasets; validated by sparkjobs.catalog)
    services:       {service_name: {...}}    (long-running services such as an HTTP API)

Any other top-level key is an error that names it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sparkjobs.engines.settings import EngineSettings
from sparkjobs.observability.settings import ObservabilitySettings
from sparkjobs.spark.settings import SparkSettings


class Settings(BaseModel):
    """The validated framework part of the configuration tree."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineSettings = Field(default_factory=EngineSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    jobs: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-job parameters")
    pipelines: dict[str, dict[str, Any]] = Field(default_factory=dict, description="pipeline definitions")
    state: dict[str, Any] = Field(default_factory=dict, description="pipeline run ledger store (url, locks)")
    services: dict[str, dict[str, Any]] = Field(default_factory=dict, description="service settings")
    catalog: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named datasets: path, format, partitioning, schema, options"
    )
