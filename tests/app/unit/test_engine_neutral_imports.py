"""The reference app's DataFrame code runs on both engines only if it takes its functions from
``sparkjobs.sql`` (resolved for the run's engine): a direct ``pyspark.sql.functions`` import builds
Spark columns, which fail on DuckDB (found in ``evaluation.holdout`` by the differential test)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[3] / "apps" / "recommendations" / "src" / "recommendations"
#: modules that run on Spark only (their job requires spark): MLlib
SPARK_ONLY = {"models/als.py"}
ENGINE_SPECIFIC = ("pyspark.sql.functions", "pyspark.sql.window", "pyspark.sql.types")


def engine_specific_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            found += [n for n in names if n.startswith(ENGINE_SPECIFIC)]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith(ENGINE_SPECIFIC)]
    return found


def test_the_check_finds_a_direct_functions_import() -> None:
    assert engine_specific_imports("def f():\n    from pyspark.sql import functions as F\n") == [
        "pyspark.sql.functions"
    ]
    assert engine_specific_imports("from sparkjobs.sql import F, Window\n") == []


def test_app_modules_take_dataframe_functions_from_sparkjobs_sql() -> None:
    offenders = {
        str(path.relative_to(APP)): found
        for path in sorted(APP.rglob("*.py"))
        if str(path.relative_to(APP)) not in SPARK_ONLY
        and (found := engine_specific_imports(path.read_text()))
    }
    assert not offenders, f"import F/Window/types from sparkjobs.sql instead: {offenders}"
