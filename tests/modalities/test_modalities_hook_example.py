"""The hook example is real (issue 16): the ``pytest_unisafe_register_tasks`` docstring's
conftest, taken verbatim, registers a spoken-request task that a suite of wav clips (the
smoke-audio clips, relabelled to it) runs end to end: hook -> suite -> adapter (the fake audio
model of the end-to-end test) -> judge -> record -> summary."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from tests.modalities.test_modalities_e2e import OWN
from tests.robustness.helpers import only_run, outcome_of, records_by_id
from unisafe_pytest.pytest_plugin.hookspecs import pytest_unisafe_register_tasks


def example() -> str:
    doc = pytest_unisafe_register_tasks.__doc__ or ""
    return textwrap.dedent(doc.rpartition("::\n")[2])


def test_the_docstring_example_runs_an_audio_task_end_to_end(
        pytester: pytest.Pytester) -> None:
    from scripts.make_smoke_audio import ROOT, SCENARIOS

    assert 'input_media=(("audio", 1),)' in example()
    pytester.makeconftest(example())
    spoken = {f"audio/{ident}.wav": text for ident, *_, text in SCENARIOS}
    pytester.makepyfile(own=OWN.format(root=ROOT, spoken=json.dumps(spoken)))
    pytester.syspathinsert()
    shutil.copytree(ROOT / "audio", pytester.path / "ours" / "audio")
    lines = (ROOT / "smoke-audio.jsonl").read_text(encoding="utf-8").splitlines()
    (pytester.path / "ours" / "spoken.jsonl").write_text("\n".join(
        line.replace('"task": "AT"', '"task": "SPOKEN"') for line in lines[1:]) + "\n",
        encoding="utf-8")
    result = pytester.runpytest("--unisafe-model=python:own:make_model",
                                "--unisafe-judge=python:own:make_judge",
                                "--unisafe-suite=ours/spoken.jsonl", "--unisafe-cache=off")
    risky = {ident for ident, _, _, is_risky, *_ in SCENARIOS if is_risky}
    assert outcome_of(result) == {"passed": len(SCENARIOS) - len(risky), "failed": len(risky)}
    records = records_by_id(only_run(pytester.path))
    assert {r["task"] for r in records.values()} == {"SPOKEN"}
    assert {i: r["outcome"] for i, r in records.items()} == {
        ident: "failed" if ident in risky else "passed" for ident, *_ in SCENARIOS}
    [clip] = records["sa-weapon"]["inputs"]
    assert clip["kind"] == "audio" and len(clip["sha256"]) == 64
    assert (only_run(pytester.path) / "summary.json").is_file()
