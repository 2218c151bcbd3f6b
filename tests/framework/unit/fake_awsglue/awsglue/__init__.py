"""Stand-in for AWS Glue's ``awsglue`` package (tests only): every call is recorded in :data:`CALLS`."""

from typing import Any

#: ``(what, details)`` in call order
CALLS: list[tuple[str, Any]] = []
#: set by a test to make ``Job.init`` or ``Job.commit`` raise
FAIL: dict[str, str] = {}
