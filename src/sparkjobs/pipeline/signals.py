"""Signal handling for long runs (dlt ``common/runtime/signals.py``): SIGTERM/SIGINT become stop requests.

First SIGTERM/SIGINT: the run stops after its current step (``StopToken``). Second: abort now
(``KeyboardInterrupt``). The previous handlers come back when the block ends.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from sparkjobs.pipeline.stop import StopToken

log = logging.getLogger("sparkjobs.pipeline")


@dataclass
class ReceivedSignal:
    """The first stop signal received inside :func:`stop_on_signals`, if any."""

    signum: int | None = None

    def exit_code(self) -> int:
        """``128 + signal``, as shells report a process stopped by it (SIGTERM when none arrived)."""
        return 128 + (self.signum if self.signum is not None else signal.SIGTERM)


@contextmanager
def stop_on_signals(stop: StopToken) -> Iterator[ReceivedSignal]:
    """Route SIGTERM/SIGINT to ``stop`` for the duration of the block."""
    received = ReceivedSignal()

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.requested:
            log.warning("%s again: aborting now", name)
            raise KeyboardInterrupt
        received.signum = signum
        stop.request(name)
        log.warning("%s received: stopping after the current step (send it again to abort now)", name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
