"""A FAKE Hugging Face ``datasets`` module for the hf: loader tests (no network, no hub)."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest


class FakeImage:
    def __init__(self, decode: bool = True) -> None:
        self.decode = decode


class FakeDataset:
    """The few Dataset features the loader uses; image columns stay opaque until cast."""

    def __init__(self, rows: list[dict[str, Any]], undecoded: frozenset[str] = frozenset()):
        self.rows = rows
        self.undecoded = undecoded

    @property
    def column_names(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []

    def cast_column(self, column: str, feature: Any) -> FakeDataset:
        assert isinstance(feature, FakeImage) and feature.decode is False
        return FakeDataset(self.rows, self.undecoded | {column})

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            yield {
                k: (v if k in self.undecoded or not isinstance(v, dict) else object())
                for k, v in row.items()
            }


def install(monkeypatch: pytest.MonkeyPatch, load_dataset: Callable[..., Any]) -> None:
    """Put a fake ``datasets`` module in sys.modules and a token in HF_TOKEN."""
    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    module.Image = FakeImage  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
