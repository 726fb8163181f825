"""Files the plugin writes: whole-file atomic writes and the ``.unisafe`` folder's markers.

Every writer (records, reports, cache entries, dataset images) goes through
:func:`write_atomic`: the data goes to a uniquely named temporary file beside the target,
then is renamed into place, so a reader never sees half a file and two writers (threads or
processes) never share a temporary file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

GITIGNORE = "# created by unisafe-pytest\n*\n"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by unisafe-pytest.\n"
)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a whole file so that readers never see half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
