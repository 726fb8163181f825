"""Shared helpers of the robustness tests: run directories, summary counts, canary scans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

COUNT_KEYS = ("n_total", "n_scored", "n_error", "n_skipped")


def only_run(root: Path) -> Path:
    """The only run directory under ``root/.unisafe/runs``."""
    runs = sorted((root / ".unisafe" / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def records_by_id(run: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in read_jsonl(run / "records.jsonl")}


def count_cells(node: Any, where: str = "summary") -> Iterator[tuple[str, dict[str, int]]]:
    """Every dict in the summary that carries the four cell counts, with its path.

    Uni-SafeBench cells name their scored count ``n_valid``; it is returned as ``n_scored``.
    """
    if isinstance(node, dict):
        if "n_valid" in node and "n_scored" not in node:
            node = {**node, "n_scored": node["n_valid"]}
        if all(k in node for k in COUNT_KEYS):
            yield where, {k: int(node[k]) for k in COUNT_KEYS}
        for key, value in node.items():
            yield from count_cells(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from count_cells(value, f"{where}[{index}]")


def check_counts_add_up(run: Path) -> dict[str, int]:
    """Assert N_total = scored + error + skipped in every cell; return the model's overall."""
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    cells = list(count_cells(summary))
    assert cells, "summary.json has no cell counts"
    for where, c in cells:
        assert c["n_total"] == c["n_scored"] + c["n_error"] + c["n_skipped"], (where, c)
    overall = [c for where, c in cells if where.endswith(".overall")
               and ".tasks." not in where]
    assert overall, [w for w, _ in cells]
    return overall[0]


def premake_unisafe_dir(root: Path) -> None:
    """Make ``root/.unisafe`` with its markers before a run.

    Works around a race the fault tests exposed (``report/recorder.write_atomic`` names its
    temporary file after the pid only, so two prefetch threads creating the markers at once
    can fail: see ``test_two_writes_in_flight_in_one_process_do_not_collide``), which would
    make these tests flaky (``conftest.py`` calls this for every pytester folder). Remove once
    that test passes.
    """
    from unisafe_pytest.io.files import CACHEDIR_TAG, GITIGNORE

    folder = root / ".unisafe"
    folder.mkdir(exist_ok=True)
    (folder / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    (folder / "CACHEDIR.TAG").write_text(CACHEDIR_TAG, encoding="utf-8")


def write_profile(root: Path, name: str, base_url: str, **extra: Any) -> None:
    """``adapters/<name>.toml``: an openai-chat model at ``base_url``."""
    settings: dict[str, Any] = {"kind": "openai-chat", "model": "fault-model",
                                "base_url": base_url, "api_key_env": "", "vision": False,
                                "timeout_s": 1.0, **extra}
    lines = [f"{key} = {json.dumps(value)}" if not isinstance(value, bool)
             else f"{key} = {str(value).lower()}" for key, value in settings.items()]
    folder = root / "adapters"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def scan_for(secrets: tuple[str, ...], root: Path, *texts: str) -> list[str]:
    """Where any of ``secrets`` appears: file paths under ``root`` and indexes of ``texts``."""
    found: list[str] = []
    needles = [s.encode("utf-8") for s in secrets]
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {n!r}" for n in needles if n in data]
    for index, text in enumerate(texts):
        found += [f"text #{index}: {s!r}" for s in secrets if s in text]
    return found


def outcome_of(result: pytest.RunResult) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if v}
