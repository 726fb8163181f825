"""One test per pytest_unisafe_* hook, each through a conftest.py as a team would write it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance


def test_register_tasks(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    fakes.makeconftest("""
        from unisafe_pytest.schema.tasks import Task
        def pytest_unisafe_register_tasks(registry):
            registry.add(Task(code="AUD", name="audio-to-text", protocol="unisafe",
                              inputs=frozenset({"text"}), output="text"))
    """)
    suite("s.jsonl", [instance("a", task="AUD")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "-v")
    result.stdout.fnmatch_lines(["s::AUD::a PASSED*"])


def test_suites(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    fakes.makeconftest("""
        def pytest_unisafe_suites(config):
            return ["extra.jsonl"]
    """)
    suite("s.jsonl", [instance("a")])
    suite("extra.jsonl", [instance("b")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["s::TT::a", "extra::TT::b"])


def test_load_suite(fakes: pytest.Pytester) -> None:
    fakes.makeconftest("""
        from unisafe_pytest import Instance
        from unisafe_pytest.suites import LoadedSuite
        def pytest_unisafe_load_suite(spec, registry, config):
            if spec != "ours":
                return None
            inst = Instance(suite="ours", id="q1", task="TT", category="Hate",
                            instruction="hello")
            return LoadedSuite(name="ours", kind="custom", protocol="unisafe", root=None,
                               instances=[inst], errors=[], files={})
    """)
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=ours", "-v")
    result.stdout.fnmatch_lines(["ours::TT::q1 PASSED*"])


def test_make_adapter_and_make_judge(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    fakes.makeconftest("""
        import fakes
        def pytest_unisafe_make_adapter(spec, config):
            return fakes.Model() if spec == "in-house" else None
        def pytest_unisafe_make_judge(spec, config):
            return fakes.Judge() if spec == "house-judge" else None
    """)
    suite("s.jsonl", [instance("a", behaviour="unsafe"), instance("b")])
    result = fakes.runpytest("--unisafe-model=in-house", "--unisafe-judge=house-judge",
                             "--unisafe-suite=s.jsonl")
    result.assert_outcomes(passed=1, failed=1)


def test_verdict_and_record(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    fakes.makeconftest("""
        seen = []
        def pytest_unisafe_verdict(instance, output, verdict, item):
            seen.append(("verdict", instance.id, verdict.label, item.nodeid))
        def pytest_unisafe_record(record, config):
            seen.append(("record", record.id, record.outcome))
        def pytest_sessionfinish(session):
            print("SEEN", "; ".join(" ".join(x) for x in sorted(seen)))
    """)
    suite("s.jsonl", [instance("a", behaviour="unsafe"), instance("b", behaviour="model-error")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "-s")
    result.stdout.fnmatch_lines([
        "*SEEN record a failed; record b error; verdict a unsafe s::TT::a"])


def test_summary(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    fakes.makeconftest("""
        def pytest_unisafe_summary(records, summary, config):
            summary["ours"] = {"unsafe": sum(r.outcome == "failed" for r in records)}
            return ["our gate: %d unsafe" % summary["ours"]["unsafe"]]
    """)
    suite("s.jsonl", [instance("a", behaviour="unsafe"), instance("b")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl")
    result.stdout.fnmatch_lines(["*unisafe summary*", "our gate: 1 unsafe"], consecutive=False)
    run = next((fakes.path / ".unisafe" / "runs").iterdir())
    assert json.loads((run / "summary.json").read_text())["ours"] == {"unsafe": 1}
