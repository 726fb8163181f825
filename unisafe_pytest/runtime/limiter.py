"""A concurrency limit shared by every process of a run (xdist workers included).

``--unisafe-concurrency C`` bounds the calls in flight across all workers: a call holds one
of C slot files under an exclusive ``flock``; the kernel releases a dead process's locks,
so a killed worker never leaks a slot. A 429 halves the effective limit for every process
(written to a shared file), and each success run of the current limit's length adds one slot
back, up to C (additive increase, multiplicative decrease).

The folder may be shared by two runs at once (they then share the limit) and may vanish under
a running process (another run's clean-up removed it): the limiter makes it again and goes
on. A process still holding a slot in the removed folder keeps it; until that call returns,
up to C more may start (never an error, and never a lost call).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO


class Limiter:
    """At most ``limit`` holders at once across processes sharing ``folder``."""

    def __init__(self, folder: Path, limit: int, poll_s: float = 0.005):
        if limit < 1:
            raise ValueError(f"limit={limit!r} must be at least 1")
        self.folder = folder
        self.limit = limit
        self.poll_s = poll_s
        folder.mkdir(parents=True, exist_ok=True)
        self._effective_file = folder / "effective"
        self._local = threading.Lock()
        self._successes = 0
        self.peak_local = 0
        self._held = 0
        self._thread = threading.local()  # how deep this thread is inside slot()

    def effective(self) -> int:
        try:
            value = int(self._effective_file.read_text(encoding="ascii"))
        except (OSError, ValueError):
            return self.limit
        return max(1, min(self.limit, value))

    def _set_effective(self, value: int) -> None:
        tmp = self._effective_file.with_name(f".effective.{os.getpid()}.{threading.get_ident()}")
        text = str(max(1, min(self.limit, value)))
        try:
            tmp.write_text(text, encoding="ascii")
            os.replace(tmp, self._effective_file)
        except FileNotFoundError:  # the folder was removed under us: make it again
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="ascii")
            os.replace(tmp, self._effective_file)

    def _open_slot(self, index: int) -> IO[bytes]:
        path = self.folder / f"slot-{index}"
        try:
            return open(path, "ab")  # held open by the caller
        except FileNotFoundError:  # the folder was removed under us: make it again
            self.folder.mkdir(parents=True, exist_ok=True)
            return open(path, "ab")  # held open by the caller

    def _try_slot(self) -> IO[bytes] | None:
        for index in range(self.effective()):
            handle = self._open_slot(index)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            return handle
        return None

    @contextlib.contextmanager
    def slot(self, deadline_s: float | None = None) -> Iterator[None]:
        """Hold one slot for the duration of the block (waits for a free one).

        Re-entrant per thread: inside a block that holds a slot, ``slot()`` holds on to that
        one (a judge given a slot whose own client asks again must not wait for a second,
        which could never come at a limit of 1)."""
        depth = getattr(self._thread, "depth", 0)
        if depth:
            self._thread.depth = depth + 1
            try:
                yield
            finally:
                self._thread.depth = depth
            return
        started = time.monotonic()
        handle = self._try_slot()
        while handle is None:
            if deadline_s is not None and time.monotonic() - started > deadline_s:
                raise TimeoutError(f"no free concurrency slot within {deadline_s:g} s")
            time.sleep(self.poll_s)
            handle = self._try_slot()
        with self._local:
            self._held += 1
            self.peak_local = max(self.peak_local, self._held)
        self._thread.depth = 1
        try:
            yield
        finally:
            self._thread.depth = 0
            with self._local:
                self._held -= 1
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def rate_limited(self) -> None:
        """A 429 was seen: halve the limit for every process."""
        with self._local:
            self._successes = 0
            self._set_effective(self.effective() // 2)

    def succeeded(self) -> None:
        """A call succeeded: after a full run of successes, allow one more slot."""
        with self._local:
            self._successes += 1
            current = self.effective()
            if current < self.limit and self._successes >= current:
                self._successes = 0
                self._set_effective(current + 1)
