"""``getResolvedOptions`` as Glue's: argparse over ``sys.argv``'s shape, bookmark option defaulted."""

import argparse
from typing import Any

from awsglue import CALLS

BOOKMARK_CHOICES = ["job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"]


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, Any]:
    CALLS.append(("getResolvedOptions", (list(args), list(options))))
    parser = argparse.ArgumentParser()
    parser.add_argument("--job-bookmark-option", choices=BOOKMARK_CHOICES, required=False)
    for option in ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION"):
        parser.add_argument("--" + option, required=False)
    for option in options:
        parser.add_argument("--" + option, required=True)
    parsed, _extra = parser.parse_known_args(args[1:])
    resolved = vars(parsed)
    if resolved["job_bookmark_option"] is None:
        resolved["job_bookmark_option"] = "job-bookmark-disable"
    return resolved
