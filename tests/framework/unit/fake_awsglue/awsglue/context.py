"""``GlueContext(spark_context)``: records the SparkContext it was built on."""

from typing import Any

from awsglue import CALLS


class GlueContext:
    def __init__(self, spark_context: Any) -> None:
        CALLS.append(("GlueContext", spark_context))
        self.spark_context = spark_context
