"""SIGTERM ends a run like Ctrl-C (what CI runners send on cancel).

While the plugin is active, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``) in
the main thread: pytest stops starting tests, the prefetch pipeline's queued calls are
cancelled, xdist tears its workers down, and the controller merges what was finished into a
summary marked incomplete. The previous handler is put back when the plugin is unconfigured.
A second SIGTERM, or one during the end-of-run merge, only marks the run stopped.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any


class Terminated(KeyboardInterrupt):
    """Raised by the SIGTERM handler."""


class SigtermHandler:
    """Installs itself for SIGTERM in the main thread; ``restore`` puts the previous back."""

    def __init__(self, on_signal: Callable[[], None]):
        self.on_signal = on_signal
        self.armed = True
        """Whether a SIGTERM raises (off once the run is being finished)."""
        self.fired = False
        self._previous: Any = None
        self._installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        self._installed = True

    def restore(self) -> None:
        if self._installed and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = not self.fired
        self.fired = True
        if first:
            self.on_signal()
        if first and self.armed:
            self.armed = False
            raise Terminated("SIGTERM: the run was stopped; finished instances are merged "
                             "into a summary marked incomplete")
