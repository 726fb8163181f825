"""Choosing which instances of a suite run: task and category filters, sample, limit."""

from __future__ import annotations

import random
from collections.abc import Sequence

from unisafe_pytest.schema import Instance


def filter_instances(
    instances: Sequence[Instance], tasks: Sequence[str], categories: Sequence[str]
) -> list[Instance]:
    """Keep instances of the given tasks and categories (category or subcategory, any case)."""
    wanted_tasks = set(tasks)
    wanted = {c.casefold() for c in categories}
    kept = []
    for inst in instances:
        if wanted_tasks and inst.task not in wanted_tasks:
            continue
        if wanted and inst.category.casefold() not in wanted and (
            inst.subcategory.casefold() not in wanted
        ):
            continue
        kept.append(inst)
    return kept


def stratified_sample(instances: Sequence[Instance], n: int, seed: int) -> list[Instance]:
    """``n`` instances, spread over (task, category) strata in proportion to their sizes.

    Largest-remainder allocation; every stratum gets at least one when ``n`` allows it.
    Deterministic for a seed, whatever the process; keeps the suite's order.
    """
    if n >= len(instances):
        return list(instances)
    strata: dict[tuple[str, str], list[int]] = {}
    for index, inst in enumerate(instances):
        strata.setdefault((inst.task, inst.category), []).append(index)
    keys = sorted(strata)
    total = len(instances)
    quotas = {k: n * len(strata[k]) / total for k in keys}
    alloc = {k: int(quotas[k]) for k in keys}
    if n >= len(keys):
        for k in keys:
            alloc[k] = max(alloc[k], 1)
    remaining = n - sum(alloc.values())
    by_remainder = sorted(keys, key=lambda k: (-(quotas[k] - int(quotas[k])), k))
    i = 0
    while remaining > 0:
        k = by_remainder[i % len(by_remainder)]
        if alloc[k] < len(strata[k]):
            alloc[k] += 1
            remaining -= 1
        i += 1
    while remaining < 0:  # the minimum of one per stratum overshot: take from the largest
        k = max(keys, key=lambda key: (alloc[key], key))
        alloc[k] -= 1
        remaining += 1
    rng = random.Random(seed)
    chosen: list[int] = []
    for k in keys:
        chosen += rng.sample(strata[k], alloc[k])
    return [instances[i] for i in sorted(chosen)]


def select(
    instances: Sequence[Instance],
    *,
    tasks: Sequence[str] = (),
    categories: Sequence[str] = (),
    sample: int | None = None,
    seed: int = 0,
    limit: int | None = None,
) -> list[Instance]:
    kept = filter_instances(instances, tasks, categories)
    if sample is not None:
        kept = stratified_sample(kept, sample, seed)
    if limit is not None:
        kept = kept[:limit]
    return kept
