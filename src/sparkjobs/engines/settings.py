"""The ``engine:`` section of the configuration: which engine runs a job, and DuckDB's own settings.

::

    engine:
      use: auto                     # auto (default) | spark | duckdb
      in_process_max_input_mb: 4096 # auto: inputs larger than this go to Spark
      duckdb:
        memory_limit: 4GB
        threads: 2

``sparkjobs run --engine X`` and a pipeline's ``engine`` (per run and per step) override ``use``.
No duckdb import here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EngineName = Literal["spark", "duckdb"]
EngineChoiceName = Literal["spark", "duckdb", "auto"]
ENGINE_CHOICES: tuple[str, ...] = ("spark", "duckdb", "auto")


class DuckDBSettings(BaseModel):
    """Settings of the in-process DuckDB connection behind the SQLFrame session."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_limit: str | None = Field(None, description="DuckDB memory_limit, e.g. '4GB' (None: 80% of RAM)")
    threads: int | None = Field(None, ge=1, le=1024, description="DuckDB threads (None: one per core)")
    temp_directory: str | None = Field(None, description="where DuckDB spills (None: DuckDB's default)")
    database: str = Field(":memory:", description="DuckDB database file; ':memory:' keeps nothing")

    def connect_config(self) -> dict[str, Any]:
        """What ``duckdb.connect(config=...)`` receives (unset values left to DuckDB)."""
        config: dict[str, Any] = {}
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.threads:
            config["threads"] = self.threads
        if self.temp_directory:
            config["temp_directory"] = self.temp_directory
        return config


class EngineSettings(BaseModel):
    """Which engine runs the jobs; ``auto`` applies :meth:`EngineRegistry.select
    <sparkjobs.engines.registry.EngineRegistry.select>`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    use: EngineChoiceName = Field(
        "auto", description="auto (the cheapest engine that can run the job), spark or duckdb"
    )
    in_process_max_input_mb: float = Field(
        4096,
        ge=0,
        description="auto: a job whose input is larger than this (MiB) runs on Spark, not in-process",
    )
    duckdb: DuckDBSettings = Field(default_factory=DuckDBSettings)

    @property
    def in_process_max_input_bytes(self) -> int:
        return int(self.in_process_max_input_mb * 1024 * 1024)
