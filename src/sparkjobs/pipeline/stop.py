"""The stop request a run checks between steps and while it waits (set by a signal handler or a test)."""

from __future__ import annotations

import threading


class StopToken:
    """Set by a signal handler (or a test); the runner checks it between steps and while waiting."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        self.reason = self.reason or reason
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as a stop is requested."""
        return self._event.wait(max(0.0, seconds))
