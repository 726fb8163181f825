"""Pausing Python's garbage collector around the plugin's own bulk work.

Loading a suite and finishing a run build many objects that all stay alive (the instances;
the merged records, summary and report): the collector's passes over them, several full ones
for a large run, find nothing to free and cost a noticeable share of a cached run. Inside
:func:`paused` the collector is off; it comes back however the block ends, unless it was
already off (the caller's choice is kept). Only the plugin's bulk work runs inside (and
the suite loaders it calls), never a test.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
