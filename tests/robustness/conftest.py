"""Fixtures of the robustness tests."""

from __future__ import annotations

import pytest

from tests.robustness.helpers import premake_unisafe_dir


@pytest.fixture(autouse=True)
def _premade_unisafe_dir(request: pytest.FixtureRequest) -> None:
    """Every pytester folder starts with ``.unisafe`` and its markers (see the helper)."""
    if "pytester" in request.fixturenames:
        premake_unisafe_dir(request.getfixturevalue("pytester").path)
