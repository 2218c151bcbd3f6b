"""Spark session settings, validated by pydantic. No pyspark import here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: providers where the platform owns the SparkSession and the master URL
PLATFORM_PROVIDERS = frozenset({"databricks", "glue", "emr", "spark-submit", "yarn", "kubernetes"})


#: what SparkContext.setLogLevel accepts
SPARK_LOG_LEVELS = ("ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF")
#: Spark reads these settings as Java ints/longs; larger values pass --dry-run and fail in the JVM.
#: Partitions and salt buckets far below the Java limits are already typos (each is a task or a
#: copy of the small side of a join), so the bounds are set where no real job goes.
JAVA_LONG_MAX = 2**63 - 1
MAX_PARTITIONS = 1_000_000
MAX_SALT_BUCKETS = 10_000


class SparkSettings(BaseModel):
    """Everything the session factory needs; ``--partitions`` and ``--salt`` land here explicitly."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    app_name: str = Field("sparkjobs", description="spark.app.name (the job name is appended)")
    master: str | None = Field(
        None,
        description="master URL; None means local[*] when not on a cluster, and the platform's own on one",
    )
    shuffle_partitions: int = Field(
        13,
        ge=1,
        le=MAX_PARTITIONS,
        description="spark.sql.shuffle.partitions (--partitions); a prime spreads skewed keys",
    )
    broadcast_join_threshold: int = Field(
        -1,
        ge=-1,
        le=JAVA_LONG_MAX,
        description="spark.sql.autoBroadcastJoinThreshold in bytes; -1 disables broadcast joins",
    )
    adaptive_enabled: bool = Field(True, description="spark.sql.adaptive.enabled (AQE)")
    session_time_zone: str = Field("UTC", description="spark.sql.session.timeZone")
    parquet_timestamp_type: Literal["TIMESTAMP_MICROS", "TIMESTAMP_MILLIS", "INT96"] = Field(
        "TIMESTAMP_MICROS",
        description=(
            "spark.sql.parquet.outputTimestampType; TIMESTAMP_MICROS (Parquet's standard UTC-adjusted "
            "INT64, what the duckdb engine writes too) rather than Spark's legacy INT96"
        ),
    )
    driver_memory: str | None = Field(None, description="spark.driver.memory, e.g. '2g' (only for new JVMs)")
    ui_enabled: bool = Field(False, description="spark.ui.enabled")
    salt_buckets: int = Field(
        1, ge=1, le=MAX_SALT_BUCKETS, description="salt bucket count for salted joins (--salt); 1 = no salt"
    )
    partition_overwrite_mode: str = Field(
        "dynamic", description="spark.sql.sources.partitionOverwriteMode; dynamic replaces only touched dates"
    )
    log_level: str = Field("WARN", description=f"SparkContext log level: {', '.join(SPARK_LOG_LEVELS)}")
    conf: dict[str, str] = Field(default_factory=dict, description="any other spark.* settings")

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_level(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().upper() in SPARK_LOG_LEVELS:
            return value.strip().upper()
        raise ValueError(f"unknown Spark log level {value!r}: expected one of {', '.join(SPARK_LOG_LEVELS)}")

    @field_validator("conf", mode="before")
    @classmethod
    def _stringify_conf(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()}
        return value

    @field_validator("partition_overwrite_mode")
    @classmethod
    def _check_mode(cls, value: str) -> str:
        if value.lower() not in {"dynamic", "static"}:
            raise ValueError("must be 'dynamic' or 'static'")
        return value.lower()

    def resolved_master(self, service_provider: str) -> str | None:
        """The master to set: explicit wins; local[*] off-cluster; None (platform's) on a cluster."""
        if self.master:
            return self.master
        if service_provider in PLATFORM_PROVIDERS:
            return None
        return "local[*]"

    def spark_conf(self, app_suffix: str | None = None) -> dict[str, str]:
        """The spark.* key/values these settings stand for (extra ``conf`` wins)."""
        conf = {
            "spark.app.name": f"{self.app_name}:{app_suffix}" if app_suffix else self.app_name,
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.sql.autoBroadcastJoinThreshold": str(self.broadcast_join_threshold),
            "spark.sql.adaptive.enabled": str(self.adaptive_enabled).lower(),
            "spark.sql.session.timeZone": self.session_time_zone,
            "spark.sql.parquet.outputTimestampType": self.parquet_timestamp_type,
            "spark.ui.enabled": str(self.ui_enabled).lower(),
            "spark.sql.sources.partitionOverwriteMode": self.partition_overwrite_mode,
        }
        if self.driver_memory:
            conf["spark.driver.memory"] = self.driver_memory
        conf.update(self.conf)
        return conf
