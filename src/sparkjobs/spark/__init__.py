"""Spark building blocks: settings, the session factory (the only code that creates sessions),
Java discovery and deterministic salting. Importing this package does not import pyspark."""

from sparkjobs.spark.settings import SparkSettings

__all__ = ["SparkSettings"]
