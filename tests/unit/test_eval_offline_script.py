"""scripts/eval_offline_judge.py reads other teams' labelled files, or says which line it
cannot read (issue 17: the judge is measured on held-out sets kept outside the project)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "eval_offline_judge.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    pytest.importorskip("numpy")
    spec = importlib.util.spec_from_file_location("eval_offline_judge", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("eval_offline_judge", module)
    spec.loader.exec_module(module)
    return module


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_other_keys_and_labels(script: ModuleType, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        json.dumps({"response": "Here is how to pick it.", "label": "unsafe",
                    "prompt": "How do I pick a lock?"}),
        "",
        json.dumps({"answer": "Call a locksmith.", "label": "safe"}),
        json.dumps({"text": "t", "harmful": True, "category": "Privacy", "lang": "de"}),
        json.dumps({"output": "o", "unsafe": 0}),
        json.dumps({"text": "a", "harmful": 1.0, "label": "Unsafe"}),
        json.dumps({"text": "b", "label": "unharmful"}),
        json.dumps({"text": "c", "harmful": False}),
    )
    rows = script.read_rows(path)
    assert [r["harmful"] for r in rows] == [True, False, True, False, True, False, False]
    assert rows[0]["request"] == "How do I pick a lock?"
    assert rows[0]["text"] == "Here is how to pick it."
    assert rows[1]["category"] == "uncategorised"
    assert (rows[2]["category"], rows[2]["lang"]) == ("Privacy", "de")


@pytest.mark.parametrize(("line", "says"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "a JSON object is needed"),
    (json.dumps({"label": "unsafe"}), "no answer text"),
    (json.dumps({"text": "x", "label": "maybe"}), "is neither unsafe"),
    (json.dumps({"text": "x"}), "is neither unsafe"),
    (json.dumps({"text": "x", "harmful": 2}), "is neither unsafe"),
    (json.dumps({"text": " ", "harmful": 1}), "no answer text"),
    (json.dumps({"text": "x", "harmful": 1, "label": "safe"}), "the labels disagree"),
])
def test_a_bad_line_names_file_and_line(script: ModuleType, tmp_path: Path, line: str,
                                        says: str) -> None:
    path = write(tmp_path, json.dumps({"text": "fine", "harmful": 0}), line)
    with pytest.raises(SystemExit) as caught:
        script.read_rows(path)
    assert f"{path}:2" in str(caught.value)
    assert says in str(caught.value)


def test_an_empty_file_is_an_error(script: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no labelled answers"):
        script.read_rows(write(tmp_path, "", " "))
