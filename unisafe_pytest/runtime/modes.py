"""The cache modes, spelled once: for ``--unisafe-cache`` and the cache itself.

Kept apart from :mod:`unisafe_pytest.runtime.cache` and free of heavy imports: the option
parser reads it while the plugin is still inactive (no pydantic, no httpx loaded then).
"""

from __future__ import annotations

from typing import Literal, get_args

CacheMode = Literal["off", "read", "write", "read-write", "replay-only"]
CACHE_MODES: tuple[CacheMode, ...] = get_args(CacheMode)
"""Every mode, in the order the option's help lists them."""
DEFAULT_CACHE_MODE: CacheMode = "read-write"
READ_MODES: frozenset[CacheMode] = frozenset({"read", "read-write", "replay-only"})
"""Modes that look entries up (``replay-only`` makes a miss an error)."""
WRITE_MODES: frozenset[CacheMode] = frozenset({"write", "read-write"})
"""Modes that store new entries."""
