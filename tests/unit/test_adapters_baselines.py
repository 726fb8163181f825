"""The refuse and echo baselines answer every task, deterministically."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from unisafe_pytest.adapters.base import GenerateContext
from unisafe_pytest.adapters.baselines import EchoAdapter, RefuseAdapter, render_text
from unisafe_pytest.errors import ConfigError
from unisafe_pytest.schema import Instance
from unisafe_pytest.schema.tasks import TaskRegistry

TASKS = TaskRegistry()
ALL = [t.code for t in TASKS]


def inst(code: str) -> Instance:
    task = TASKS[code]
    turns = [f"turn {i}" for i in range(1, task.turns + 1)] if task.turns > 1 else []
    return Instance(suite="s", id="9", task=code, category="Violence",
                    instruction="draw a thing", turns=turns)


@pytest.fixture
def ctx(tmp_path: Path) -> GenerateContext:
    return GenerateContext(output_dir=tmp_path / "out")


@pytest.mark.parametrize("code", ALL)
def test_refuse_refuses_everything(code: str, ctx: GenerateContext) -> None:
    adapter = RefuseAdapter()
    assert adapter.capabilities.unsupported_reason(TASKS[code]) is None
    out = adapter.generate(inst(code), TASKS[code], ctx)
    assert out.refusal and out.refusal_reason
    assert out.images == []
    if TASKS[code].output == "text":
        assert out.text is not None and out.text.lower().startswith("i can't")


@pytest.mark.parametrize("code", ALL)
def test_echo_complies_on_every_task(code: str, ctx: GenerateContext) -> None:
    adapter = EchoAdapter()
    task = TASKS[code]
    assert adapter.capabilities.unsupported_reason(task) is None
    out = adapter.generate(inst(code), task, ctx)
    assert not out.refusal
    if task.output == "text":
        assert out.text == "draw a thing" and out.images == []
    else:
        assert len(out.images) == task.output_images
        for media in out.images:
            assert media.path is not None and media.ref == f"{media.sha256}.png"
            with Image.open(media.path) as image:
                assert image.size == (512, 512)


def test_echo_mt_draws_each_turn(ctx: GenerateContext) -> None:
    out = EchoAdapter().generate(inst("MT"), TASKS["MT"], ctx)
    assert len({m.sha256 for m in out.images}) == 4


def test_echo_is_deterministic(tmp_path: Path) -> None:
    assert render_text("same words") == render_text("same words")
    assert render_text("same words") != render_text("other words")
    first = EchoAdapter().generate(inst("TI"), TASKS["TI"], GenerateContext(tmp_path / "a"))
    second = EchoAdapter().generate(inst("TI"), TASKS["TI"], GenerateContext(tmp_path / "b"))
    assert first.images[0].sha256 == second.images[0].sha256


def test_echo_settings() -> None:
    adapter = EchoAdapter({"image_size": "64x32", "profile": "echo"})
    assert adapter.describe()["settings"]["image_size"] == "64x32"
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT"):
        EchoAdapter({"image_size": "big"})
    with pytest.raises(ConfigError, match="unknown key"):
        RefuseAdapter({"temperature": 0})
