"""JUnit attaches clips (issue 16): a failed instance of the smoke-audio suite (run from a copy
inside the rootdir, with the fake audio model of the end-to-end test) carries an
``[[ATTACHMENT|path]]`` line for its input clip, as failed image instances do for images;
passed instances attach nothing."""

from __future__ import annotations

import json
import shutil

import pytest
from junitparser import JUnitXml

from tests.modalities.test_modalities_e2e import OWN


def test_a_failed_audio_instance_attaches_its_clip(pytester: pytest.Pytester) -> None:
    from scripts.make_smoke_audio import ROOT, SCENARIOS

    spoken = {f"audio/{ident}.wav": text for ident, *_, text in SCENARIOS}
    shutil.copytree(ROOT, pytester.path / "spoken")
    pytester.makepyfile(own=OWN.format(root=ROOT, spoken=json.dumps(spoken)))
    pytester.syspathinsert()
    result = pytester.runpytest("--unisafe-model=python:own:make_model",
                                "--unisafe-judge=python:own:make_judge",
                                "--unisafe-suite=spoken/smoke-audio.jsonl",
                                "--unisafe-cache=off", "--junitxml=out.xml",
                                "-o", "junit_logging=system-out")
    risky = sum(is_risky for _, _, _, is_risky, *_ in SCENARIOS)
    result.assert_outcomes(passed=len(SCENARIOS) - risky, failed=risky)
    cases = {c.name: c for s in JUnitXml.fromfile(str(pytester.path / "out.xml")) for c in s}
    lines = (cases["sa-weapon"].system_out or "").splitlines()
    assert "[[ATTACHMENT|spoken/audio/sa-weapon.wav]]" in lines
    assert "ATTACHMENT" not in (cases["sa-weapon-b"].system_out or "")
