"""A concurrency limit shared by every process of a run (xdist workers included).

``--unisafe-concurrency C`` bounds the calls in flight across all workers: a call holds one
of C slot files under an exclusive ``flock``; the kernel releases a dead process's locks,
so a killed worker never leaks a slot. A 429 halves the effective limit for every process
(written to a shared file), and each success run of the current limit's length adds one slot
back, up to C (additive increase, multiplicative decrease).

The per-call cost stays small at any C: a process keeps its slot files open (no ``open`` per
call), starts looking at the slot it freed last (one ``flock`` when one is free), skips the
slots its own threads hold without asking the kernel, and reads the shared limit file at most
every ``REFRESH_S`` (its own changes at once). A thread that finds no free slot waits on a
condition variable, woken by the next release in its process; a slot freed by *another*
process is noticed by one waiting thread per process, which looks again every ``poll_s``, and
only while other processes use the folder (each holds a locked ``member-*`` file, which the
kernel releases with the process). Alone, nothing polls.

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
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import IO

REFRESH_S = 0.25
"""How often a process re-reads the shared limit and counts the processes using the folder."""


class _Slot:
    """One slot file this process holds, of the folder as it was when it was opened."""

    __slots__ = ("folder_id", "handle", "index")

    def __init__(self, handle: IO[bytes], index: int, folder_id: tuple[int, int]) -> None:
        self.handle = handle
        self.index = index
        self.folder_id = folder_id


class _Open:
    """The files a limiter keeps open; closed with it (``weakref.finalize``), or at exit."""

    def __init__(self) -> None:
        self.files: dict[int, IO[bytes]] = {}
        self.member: IO[bytes] | None = None
        self.held: set[IO[bytes]] = set()  # slot files of a removed folder still in use

    def close_all(self) -> None:
        for handle in [*self.files.values(), *self.held]:
            handle.close()
        if self.member is not None:
            self.member.close()


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
        self._local = threading.Lock()  # AIMD bookkeeping
        self._successes = 0
        self.peak_local = 0
        self._held = 0
        self._thread = threading.local()  # how deep this thread is inside slot()
        self._cond = threading.Condition()
        # slot bookkeeping, under ``_cond``: the folder's identity, its open slot files
        # (index -> file, not held), the indices held here, where to look first
        self._folder_id: tuple[int, int] | None = None
        self._open = _Open()
        weakref.finalize(self, self._open.close_all)
        self._mine: set[int] = set()
        self._hint: list[int] = []
        self._poller = False  # a waiting thread looks for slots freed by other processes
        self._others = 0  # other processes using the folder, as last counted
        self._refreshed = -REFRESH_S
        self._effective = limit

    # ------------------------------------------------------------------ the shared limit
    def effective(self) -> int:
        """The limit in force now, as the shared file says."""
        try:
            value = int(self._effective_file.read_text(encoding="ascii"))
        except (OSError, ValueError):
            return self.limit
        return max(1, min(self.limit, value))

    def _set_effective(self, value: int) -> None:
        tmp = self._effective_file.with_name(f".effective.{os.getpid()}.{threading.get_ident()}")
        value = max(1, min(self.limit, value))
        text = str(value)
        try:
            tmp.write_text(text, encoding="ascii")
            os.replace(tmp, self._effective_file)
        except FileNotFoundError:  # the folder was removed under us: make it again
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="ascii")
            os.replace(tmp, self._effective_file)
        with self._cond:
            self._effective = value
            self._cond.notify_all()  # a raised limit lets waiters in

    def rate_limited(self) -> None:
        """A 429 was seen: halve the limit for every process."""
        with self._local:
            self._successes = 0
            self._set_effective(self.effective() // 2)

    def succeeded(self) -> None:
        """A call succeeded: after a full run of successes, allow one more slot."""
        if self._effective >= self.limit:  # the common case: nothing to grow back
            return
        with self._local:
            self._successes += 1
            current = self.effective()
            if current < self.limit and self._successes >= current:
                self._successes = 0
                self._set_effective(current + 1)

    # ------------------------------------------------------------------ slots
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
        held = self._acquire(deadline_s)
        self._thread.depth = 1
        try:
            yield
        finally:
            self._thread.depth = 0
            self._release(held)

    def _acquire(self, deadline_s: float | None) -> _Slot:
        started = time.monotonic()
        with self._cond:
            polling = False
            try:
                while True:
                    held = self._try_slot()
                    if held is not None:
                        self._held += 1
                        self.peak_local = max(self.peak_local, self._held)
                        return held
                    now = time.monotonic()
                    if deadline_s is not None and now - started > deadline_s:
                        raise TimeoutError(
                            f"no free concurrency slot within {deadline_s:g} s")
                    if not polling and self._others and not self._poller:
                        polling = self._poller = True  # this thread watches other processes
                    wait = self.poll_s if polling else REFRESH_S
                    if deadline_s is not None:
                        wait = min(wait, max(0.0, started + deadline_s - now) + 1e-3)
                    self._cond.wait(wait)
            finally:
                if polling:
                    self._poller = False
                    self._cond.notify()  # another waiter takes over watching

    def _release(self, held: _Slot) -> None:
        with self._cond:
            self._held -= 1
            fcntl.flock(held.handle, fcntl.LOCK_UN)
            current = self._open.files.get(held.index) is held.handle
            if current and held.folder_id == self._folder_id:
                self._mine.discard(held.index)
                self._hint.append(held.index)
            else:  # a slot of a removed folder: let it go
                self._open.held.discard(held.handle)
                held.handle.close()
            self._cond.notify()

    def _try_slot(self) -> _Slot | None:
        """A slot of this folder that no one holds, locked for the caller (under ``_cond``)."""
        now = time.monotonic()
        if now - self._refreshed >= REFRESH_S:
            self._refresh(now)
        folder_id = self._check_folder()
        effective = self._effective
        if len(self._mine) >= effective:
            return None  # this process's own threads hold every slot
        while self._hint:
            index = self._hint.pop()
            if index < effective and index not in self._mine:
                held = self._lock(index, folder_id)
                if held is not None:
                    return held
        for index in range(effective):
            if index not in self._mine:
                held = self._lock(index, folder_id)
                if held is not None:
                    return held
        return None

    def _lock(self, index: int, folder_id: tuple[int, int]) -> _Slot | None:
        handle = self._open.files.get(index)
        if handle is None:
            handle = self._open.files[index] = self._open_slot(index)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None
        self._mine.add(index)
        return _Slot(handle, index, folder_id)

    def _open_slot(self, index: int) -> IO[bytes]:
        path = self.folder / f"slot-{index}"
        try:
            return open(path, "ab")  # kept open by the limiter
        except FileNotFoundError:  # the folder was removed under us: make it again
            self.folder.mkdir(parents=True, exist_ok=True)
            return open(path, "ab")  # kept open by the limiter

    def _check_folder(self) -> tuple[int, int]:
        """The folder's identity; when it changed (removed, made again), the open slot files
        of the old one are let go (the ones held are closed when they are released)."""
        try:
            stat = os.stat(self.folder)
        except FileNotFoundError:
            self.folder.mkdir(parents=True, exist_ok=True)
            stat = os.stat(self.folder)
        folder_id = (stat.st_dev, stat.st_ino)
        if folder_id != self._folder_id:
            for index, handle in self._open.files.items():
                if index in self._mine:
                    self._open.held.add(handle)  # closed when its call releases it
                else:
                    handle.close()
            self._open.files, self._mine, self._hint = {}, set(), []
            if self._open.member is not None:
                self._open.member.close()
                self._open.member = None
            self._folder_id = folder_id
            self._join()
        return folder_id

    # ------------------------------------------------------------------ other processes
    def _join(self) -> None:
        """Say this process uses the folder: a ``member-*`` file it holds locked."""
        path = os.path.join(self.folder, f"member-{os.getpid()}-{id(self):x}")
        try:
            handle = open(path, "ab")  # noqa: SIM115 (kept open, locked, while the process lives)
        except OSError:
            return  # not counted: others only poll less for this process's releases
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return
        self._open.member = handle

    def _refresh(self, now: float) -> None:
        """Re-read the shared limit; count the other live processes using the folder (a
        member file no one holds locked is a dead process's, and is removed)."""
        self._refreshed = now
        value = self.effective()
        if value > self._effective:
            self._cond.notify_all()
        self._effective = value
        mine = self._open.member.name if self._open.member is not None else None
        if mine is not None and not os.path.exists(mine):  # taken for a dead one's: again
            self._open.member.close()  # type: ignore[union-attr]
            self._join()
            mine = self._open.member.name if self._open.member is not None else None
        others = 0
        try:
            names = [n for n in os.listdir(self.folder) if n.startswith("member-")]
        except OSError:
            names = []
        for name in names:
            path = os.path.join(self.folder, name)
            if path == mine:
                continue
            try:
                with open(path, "rb") as handle:  # never made here: "rb"
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                with contextlib.suppress(OSError):
                    os.unlink(path)  # unlocked: its process is gone
            except OSError:
                others += 1  # locked: a live process
        self._others = others

    def close(self) -> None:
        """Close the slot files no call holds and leave the folder (optional: the process's
        end does the same)."""
        with self._cond:
            for index, handle in self._open.files.items():
                if index not in self._mine:
                    handle.close()
            self._open.files = {k: v for k, v in self._open.files.items() if k in self._mine}
            self._hint = []
            if self._open.member is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._open.member.name)
                self._open.member.close()
                self._open.member = None
            self._folder_id = None
