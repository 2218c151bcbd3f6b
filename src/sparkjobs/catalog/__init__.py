"""The data catalog: named datasets in configuration, declared by jobs, loaded and saved by name.

- :mod:`sparkjobs.catalog.model` — ``catalog:`` entries (:class:`DatasetSpec`), validated;
- :mod:`sparkjobs.catalog.declare` — a job's ``inputs`` / ``outputs`` (:class:`DatasetUse`);
- :mod:`sparkjobs.catalog.runtime` — ``context.catalog`` (:class:`DataCatalog`): load/save.

Importing this package never imports pyspark.
"""

from sparkjobs.catalog.declare import DatasetUse, declared_datasets
from sparkjobs.catalog.model import ColumnSpec, DatasetSpec, catalog_names, load_catalog
from sparkjobs.catalog.runtime import DataCatalog

__all__ = [
    "ColumnSpec",
    "DataCatalog",
    "DatasetSpec",
    "DatasetUse",
    "catalog_names",
    "declared_datasets",
    "load_catalog",
]
