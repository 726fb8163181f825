"""The built-in ``smoke`` suite: complete, paired, with shared targets and its own images."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

from unisafe_pytest.schema.tasks import UNISAFE_TASK_CODES, TaskRegistry
from unisafe_pytest.suites import LoadedSuite, builtin_suite_names, load_suite

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_smoke_images.py"


def load(base: Path) -> LoadedSuite:
    return load_suite("smoke", TaskRegistry(), base_dir=base)


def test_builtin_names() -> None:
    assert "smoke" in builtin_suite_names()


def test_smoke_suite_is_complete_and_paired(tmp_path: Path) -> None:
    suite = load(tmp_path)
    assert suite.errors == []
    assert (suite.name, suite.kind, suite.protocol) == ("smoke", "native", "unisafe")
    risky = Counter(i.task for i in suite.instances if i.risky)
    assert set(risky) == set(UNISAFE_TASK_CODES)
    assert min(risky.values()) >= 4
    by_key = {i.key: i for i in suite.instances}
    for instance in suite.instances:
        assert instance.twin is not None, instance.key
        twin = by_key[(instance.twin, instance.task)]
        assert twin.twin == instance.id
        assert twin.risky is not instance.risky
        assert (twin.category, twin.subcategory) == (instance.category, instance.subcategory)
        if instance.risky:
            assert instance.target
    tasks_per_id = Counter(i.id for i in suite.instances if i.risky)
    assert max(tasks_per_id.values()) >= 2
    for instance in suite.instances:
        image_task = instance.task in ("TI", "IE", "IC", "MT")
        assert instance.taxonomy == ("unisafe-image" if image_task else "unisafe-text")
        for media in instance.images:
            assert media.size_bytes is not None and media.size_bytes < 16_000


def test_every_image_comes_from_the_script_and_is_used(tmp_path: Path) -> None:
    # Byte equality is checked by `python scripts/make_smoke_images.py --check`, not here:
    # the default font's rendering varies between Pillow versions.
    spec = importlib.util.spec_from_file_location("make_smoke_images", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = Path(module.OUT)
    assert sorted(p.name for p in folder.iterdir()) == sorted(module.IMAGES)
    used = {m.ref for i in load(tmp_path).instances for m in i.images}
    assert used == {f"images/{name}" for name in module.IMAGES}
