"""The run lock's heartbeat: a daemon thread refreshes the lock and notices when it was taken over."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from sparkjobs.errors import SparkJobsError
from sparkjobs.pipeline.ledger import RunLedger


class LockKeeper:
    """Refreshes the run lock every ``interval_s`` in a daemon thread; notices when it was lost."""

    def __init__(
        self, ledger: RunLedger, pipeline: str, logical_date: date, run_id: str, interval_s: float, log: Any
    ) -> None:
        self.ledger = ledger
        self.key = (pipeline, logical_date, run_id)
        self.interval_s = interval_s
        self.log = log
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"sparkjobs-lock-{pipeline}", daemon=True)

    def start(self) -> LockKeeper:
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if not self.ledger.heartbeat(*self.key):
                    self.lost = True
                    self.log.error(
                        "lost the run lock of %s for %s: another process took it over; "
                        "stopping after this step",
                        self.key[0],
                        self.key[1],
                    )
                    return
            except SparkJobsError as exc:  # a missed heartbeat is not fatal; staleness takes minutes
                self.log.warning("could not refresh the run lock: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
