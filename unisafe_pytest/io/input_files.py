"""Reading the files a user hands the plugin: regular files only, within a size limit.

Suite files (every format), replay prediction and judgment files and upstream result files
are read through :func:`read_input_file`; image references are checked against
:func:`max_image_bytes` (:mod:`~unisafe_pytest.suites.media`). A path that is not a regular
file (a FIFO, which would block the reader forever, a device such as ``/dev/zero``, a
socket, a directory) or that is larger than the limit raises
:class:`~unisafe_pytest.errors.SuiteError` naming the file, what it is, and the fix, before
a byte of it is read. The file is opened without blocking and checked on the open handle, so
it cannot be swapped for a FIFO between the check and the read.

Limits, raised with an environment variable (a number of megabytes, decimals allowed)::

    UNISAFE_MAX_FILE_MB   suite, replay and result files   default 256
    UNISAFE_MAX_IMAGE_MB  one input image                  default 20
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from unisafe_pytest.errors import SuiteError

MB = 1024 * 1024
FILE_ENV = "UNISAFE_MAX_FILE_MB"
IMAGE_ENV = "UNISAFE_MAX_IMAGE_MB"
DEFAULT_FILE_MB = 256
DEFAULT_IMAGE_MB = 20


def megabytes(n: int) -> str:
    """``n`` bytes for messages: megabytes from 1 MB on, else bytes."""
    return f"{n / MB:.1f} MB" if n >= MB else f"{n:,} bytes"


def _limit(env: str, default_mb: int) -> int:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default_mb * MB
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SuiteError(
            f"{env}={raw!r} is not a positive number of megabytes; set it to e.g. "
            f"{default_mb * 4} or unset it (default {default_mb})"
        )
    return int(value * MB)


def max_file_bytes() -> int:
    """Size limit of a suite, replay or result file (``UNISAFE_MAX_FILE_MB``, default 256)."""
    return _limit(FILE_ENV, DEFAULT_FILE_MB)


def max_image_bytes() -> int:
    """Size limit of one input image (``UNISAFE_MAX_IMAGE_MB``, default 20)."""
    return _limit(IMAGE_ENV, DEFAULT_IMAGE_MB)


def kind_of(mode: int) -> str | None:
    """What a file that is not a regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def not_regular(display: str, what: str, kind: str) -> SuiteError:
    return SuiteError(
        f"the {what} is {kind}, not a regular file; only regular files are read (a pipe or "
        "device could block or never end). Save the data to a file and point at that",
        display,
    )


def too_large(display: str, what: str, size: int, limit: int, env: str = FILE_ENV) -> SuiteError:
    return SuiteError(
        f"the {what} is {megabytes(size)}, over the {megabytes(limit)} limit (not read); "
        f"split it, or raise the limit with the environment variable {env}=<megabytes>",
        display,
    )


def _read_at_most(handle: BinaryIO, size: int, limit: int) -> bytes | None:
    """All bytes of ``handle``, or None once more than ``limit`` were read."""
    chunks: list[bytes] = []
    total, want = 0, size + 1
    while True:
        chunk = handle.read(min(want, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None
        want = MB


def read_input_file(path: Path, display: str, *, what: str = "suite file",
                    limit: int | None = None, env: str = FILE_ENV) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (default: the limit that the
    environment variable ``env`` sets, :func:`max_file_bytes` or :func:`max_image_bytes`).

    Problems (missing, unreadable, not a regular file, too large) raise SuiteError at
    ``display``, the file's name in messages.
    """
    if limit is None:
        limit = max_image_bytes() if env == IMAGE_ENV else max_file_bytes()
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_BINARY", 0))
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SuiteError(f"the {what} does not exist; check the path", display) from None
    except IsADirectoryError:
        raise not_regular(display, what, "a directory") from None
    except OSError as exc:
        raise SuiteError(f"the {what} cannot be read ({exc.strerror or exc}); check its "
                         "permissions", display) from None
    with os.fdopen(fd, "rb", buffering=0) as handle:  # raw reads: no read-ahead buffer
        mode = os.fstat(fd)
        kind = kind_of(mode.st_mode)
        if kind is not None:
            raise not_regular(display, what, kind)
        if mode.st_size > limit:
            raise too_large(display, what, mode.st_size, limit, env)
        try:
            data = _read_at_most(handle, mode.st_size, limit)
        except OSError as exc:
            raise SuiteError(f"the {what} cannot be read ({exc.strerror or exc})",
                             display) from None
        if data is None:  # it grew after the check
            raise too_large(display, what, limit + 1, limit, env)
    return data
