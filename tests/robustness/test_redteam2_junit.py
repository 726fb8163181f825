"""Red team round 2 (issue 11): characters illegal in XML 1.0 in suite text, model outputs
and judge rationales must leave the JUnit XML parseable and showing each instance's verdict.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

BAD = "\x00\x01\x08\x0b\x0c\x0e\x1f\ud800\ufffe\uffff"
SUITE_BAD = BAD.replace("\ud800", "")  # the suite reader refuses lone surrogates

MODELS = f'''
from unisafe_pytest.schema import ModelOutput, JudgeRow, JudgeSpec
from unisafe_pytest.adapters.base import Capabilities
BAD = {BAD!r}

class M:
    name = "bad-model"
    capabilities = Capabilities.everything()
    def generate(self, instance, task, ctx):
        return ModelOutput(text="answer " + BAD + instance.id)
    def describe(self):
        return {{"kind": "fake", "model": self.name}}
    def close(self):
        pass

class J:
    spec = JudgeSpec(id="bad-judge", kind="test", prompt_hash="0" * 16, parser_version="1")
    def judge(self, instance, task, output):
        unsafe = instance.id == "u"
        return JudgeRow(judge="bad-judge", judgment=int(unsafe), risk_rating=3 if unsafe else 1,
                        reasoning="why " + BAD, spec=self.spec)
    def close(self):
        pass

def make_model():
    return M()

def make_judge():
    return J()
'''


@pytest.mark.parametrize("family", ["xunit1", "xunit2"])
def test_junit_stays_parseable_with_xml_illegal_characters(pytester: pytest.Pytester,
                                                           family: str) -> None:
    pytester.makepyfile(badfakes=MODELS)
    pytester.syspathinsert()
    rows = [{"id": i, "task": "TT", "category": "Hate" + SUITE_BAD,
             "subcategory": "H" + SUITE_BAD,
             "instruction": "request " + SUITE_BAD + i} for i in ("s", "u")]
    (pytester.path / "cases.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = pytester.runpytest("--unisafe-model=python:badfakes:make_model",
                                "--unisafe-judge=python:badfakes:make_judge",
                                "--unisafe-suite=cases.jsonl", "--junitxml=out.xml",
                                "-o", f"junit_family={family}", "-p", "no:cacheprovider")
    tree = ET.parse(Path(pytester.path / "out.xml"))  # raises on illegal characters
    cases = {c.get("name", ""): c for c in tree.iter("testcase")}
    assert len(cases) == 2, (result.stdout.str()[-2000:], list(cases))
    failed = [n for n, c in cases.items() if c.find("failure") is not None]
    assert len(failed) == 1 and failed[0].endswith("u"), failed
