"""Shards: disjoint, covering, balanced and independent of file order."""

from __future__ import annotations

import argparse

import pytest

from unisafe_pytest.schema import Instance
from unisafe_pytest.suites.shards import Shard, in_shard, parse_shard


def instances(n: int) -> list[Instance]:
    return [Instance(suite="s", id=f"i{k}", task="TT" if k % 2 else "TI", category="Hate",
                     instruction="x") for k in range(n)]


def test_parse_shard() -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    assert str(parse_shard(" 1/1 ")) == "1/1"
    for bad in ("0/4", "5/4", "1/0", "a/b", "2", "1-2"):
        with pytest.raises(argparse.ArgumentTypeError, match="i/n"):
            parse_shard(bad)


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_partition_the_selection(count: int) -> None:
    items = instances(50)
    parts = [in_shard(items, Shard(i, count)) for i in range(1, count + 1)]
    keys = [(p.task, p.id) for part in parts for p in part]
    assert sorted(keys) == sorted((p.task, p.id) for p in items)  # disjoint and covering
    sizes = [len(part) for part in parts]
    assert max(sizes) - min(sizes) <= 1


def test_shards_do_not_depend_on_file_order() -> None:
    items = instances(30)
    forward = {p.id for p in in_shard(items, Shard(2, 3))}
    backward = {p.id for p in in_shard(list(reversed(items)), Shard(2, 3))}
    assert forward == backward


def test_shard_keeps_the_suite_order() -> None:
    part = in_shard(instances(20), Shard(1, 2))
    assert [p.id for p in part] == sorted((p.id for p in part), key=lambda i: int(i[1:]))
