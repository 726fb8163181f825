"""Deterministic sharding: ``--unisafe-shard i/n`` runs one of n disjoint parts of a suite.

Each instance gets a stable hash of ``suite / task / id`` (sha256, independent of Python's
hash seed, the machine and the file order). Within a suite, instances are ranked by that hash
and dealt round-robin to the n shards, so the shards are disjoint, together cover the
selection, and differ in size by at most one instance per suite. Every CI machine must run
the same suites with the same selection options (filters, sample, seed, limit); the shard is
applied after them. ``unisafe merge`` joins the shards' run directories.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from unisafe_pytest.schema import Instance

T = TypeVar("T", bound=Instance)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(value: str) -> Shard:
    """``"2/4"`` -> ``Shard(2, 4)``; raises ``argparse.ArgumentTypeError`` otherwise."""
    index_text, sep, count_text = value.strip().partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        index = count = 0
    if not sep or count < 1 or not 1 <= index <= count:
        raise argparse.ArgumentTypeError(
            f"expected i/n with 1 <= i <= n (e.g. 1/4 on the first of four machines), "
            f"got {value!r}")
    return Shard(index, count)


def shard_hash(suite: str, task: str, item_id: str) -> str:
    """The stable hash that orders instances for sharding."""
    return hashlib.sha256(f"{suite}/{task}/{item_id}".encode()).hexdigest()


def in_shard(instances: Sequence[T], shard: Shard | None) -> list[T]:
    """The instances of one suite that belong to ``shard``, in their original order."""
    if shard is None or shard.count == 1:
        return list(instances)
    ranked = sorted(range(len(instances)), key=lambda i: (
        shard_hash(instances[i].suite, instances[i].task, instances[i].id), i))
    keep = {index for rank, index in enumerate(ranked) if rank % shard.count == shard.index - 1}
    return [inst for i, inst in enumerate(instances) if i in keep]
