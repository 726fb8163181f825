"""The public API: what `import unisafe_pytest` offers, pinned."""

from __future__ import annotations

import unisafe_pytest


def test_exported_members() -> None:
    assert unisafe_pytest.__all__ == sorted(unisafe_pytest.__all__)
    assert unisafe_pytest.__all__ == [
        "Adapter", "Capabilities", "GenerateContext", "Instance", "Judge", "JudgeRow",
        "JudgeSpec", "Media", "ModelOutput", "Record", "Task", "Verdict", "__version__",
    ]
    for name in unisafe_pytest.__all__:
        assert hasattr(unisafe_pytest, name), name
