"""Files the plugin writes: whole-file atomic writes and the ``.unisafe`` folder's markers.

Every writer (records, reports, cache entries, dataset images) goes through
:func:`write_atomic`: the data goes to a uniquely named temporary file beside the target,
then is renamed into place, so a reader never sees half a file and two writers (threads or
processes) never share a temporary file. The temporary file is created with mode ``0o666``
and the process's umask applied by the system (:func:`open_temp_beside`), so what is written
gets the permissions any other new file would (``0644`` under umask ``022``, ``0600`` under
``077``), not ``mkstemp``'s fixed ``0600``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

GITIGNORE = "# created by unisafe-pytest\n*\n"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by unisafe-pytest.\n"
)


_CREATE = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
           | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def open_temp_beside(path: Path) -> tuple[int, Path]:
    """A new, uniquely named temporary file beside ``path``: its descriptor and path.

    Like ``tempfile.mkstemp`` (exclusive creation, no symlink followed), but created with
    mode ``0o666`` so that the umask, read by the system itself, decides its permissions as
    for any other new file (no process-wide ``os.umask`` call, which would race threads).
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, _CREATE, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a whole file so that readers never see half of it."""
    fd, tmp = open_temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            # a lone surrogate (from a reply) is written as "?", never a crash
            fh.write(data.encode("utf-8", "replace") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def mark_cache_dir(path: Path) -> None:
    """A ``.gitignore`` and a ``CACHEDIR.TAG`` in ``path``: git and backups leave it alone."""
    for name, text in ((".gitignore", GITIGNORE), ("CACHEDIR.TAG", CACHEDIR_TAG)):
        marker = path / name
        if not marker.exists():
            write_atomic(marker, text)


def ensure_dir(path: Path) -> Path:
    """Make ``path`` (and the markers at the ``.unisafe`` root above it) on first use."""
    path.mkdir(parents=True, exist_ok=True)
    for parent in [path, *path.parents]:
        if parent.name == ".unisafe":
            mark_cache_dir(parent)
            break
    return path
