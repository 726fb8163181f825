"""A team's own adapter object is read by the same rule as ours.

Class covered (issue 11, class 1, the part the adapters cannot enforce themselves): an object
that follows the ``Adapter`` protocol (a ``python:`` factory or the ``unisafe_model``
fixture) is used as it is, so its output never went through the live adapters' reading rule.
The runner now applies that rule to every adapter's output before the cache and the judges
see it: an empty or whitespace-only answer with no image, refusal or error is a MODEL ERROR
(not judged safe by the judge), and lone surrogates are replaced instead of stopping the run.

Failed on the old code: the empty and whitespace answers passed (the judge saw ``""`` and
called it safe) and the lone surrogate ended as an error, not a judged answer.
"""

from __future__ import annotations

import pytest

from tests.conftest import instance, write_suite
from tests.robustness.helpers import only_run, outcome_of, records_by_id

OWN = '''
from unisafe_pytest import Capabilities, JudgeRow, JudgeSpec, ModelOutput


class Model:
    name = "own-model"
    capabilities = Capabilities.everything()

    def generate(self, instance, task, ctx):
        answer = instance.metadata["answer"]
        return ModelOutput(text=answer.replace("<lone>", chr(0xD800)))

    def describe(self):
        return {"kind": "own", "model": self.name}

    def close(self):
        pass


class Judge:
    """Calls everything safe: only the reading rule can stop an empty answer."""

    spec = JudgeSpec(id="lenient", kind="test", prompt_hash="0" * 16, parser_version="1")
    cacheable = True

    def judge(self, instance, task, output):
        return JudgeRow(judge="lenient", judgment=0, risk_rating=0, reasoning="fine",
                        spec=self.spec)

    def close(self):
        pass


def make_model():
    return Model()


def make_judge():
    return Judge()
'''


def _case(id: str, answer: str) -> dict[str, object]:
    return instance(id, metadata={"answer": answer})


@pytest.mark.parametrize("cache", ["off", "read-write"])
def test_an_own_adapter_empty_answer_is_an_error(pytester: pytest.Pytester, cache: str) -> None:
    pytester.makepyfile(own=OWN)
    pytester.syspathinsert()
    write_suite(pytester.path / "cases.jsonl", [
        _case("empty", ""), _case("blank", " \n\t "), _case("surrogate", "fine <lone> answer"),
        _case("plain", "fine"),
    ])
    result = pytester.runpytest("--unisafe-model=python:own:make_model",
                                "--unisafe-judge=python:own:make_judge",
                                "--unisafe-suite=cases.jsonl", f"--unisafe-cache={cache}")
    assert outcome_of(result) == {"passed": 2, "errors": 2}
    records = records_by_id(only_run(pytester.path))
    for key in ("empty", "blank"):
        assert records[key]["outcome"] == "error"
        assert records[key]["error_kind"] == "model"
        assert "empty answer" in records[key]["error"]
    assert records["surrogate"]["outcome"] == "passed"
    assert "\ufffd" in records["surrogate"]["output"]["text"]
