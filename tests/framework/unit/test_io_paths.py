"""Lake paths and record schemas, without a JVM: partition names spelled as Spark spells them,
schema declarations refused when they cannot work."""

from __future__ import annotations

from datetime import date

import pytest

from sparkjobs.io import FieldSpec, RecordSchema, partition_dir, partition_value


def test_partition_values_are_escaped_like_spark() -> None:
    assert partition_value(date(2016, 10, 16)) == "2016-10-16"
    assert partition_value("a/b:c=d") == "a%2Fb%3Ac%3Dd"
    assert partition_value(True) == "true"
    assert partition_dir("/lake/t/", {"p": "2016-10", "q": 3}) == "/lake/t/p=2016-10/q=3"


def test_record_schema_refuses_bad_declarations() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        RecordSchema((FieldSpec("a"), FieldSpec("a")))
    with pytest.raises(ValueError, match="reserved"):
        RecordSchema((FieldSpec("reason"),))
    with pytest.raises(ValueError, match="numeric"):
        FieldSpec("name", "string", min=1)
