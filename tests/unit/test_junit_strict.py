"""JUnit XML for dashboards: attachments for failed and errored cases, a strict xunit2 mode.

The strict check below is the part of Jenkins' junit-10.xsd that pytest's xunit2 output can
break: which elements a ``<testcase>`` may hold (no ``<properties>``) and which attributes
each element may carry.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml

from tests.conftest import MODEL_ARGS, instance

ALLOWED = {
    "testsuites": ({"testsuite"}, {"name", "time", "tests", "failures", "errors", "disabled"}),
    "testsuite": ({"testcase", "properties", "system-out", "system-err"},
                  {"name", "tests", "failures", "errors", "skipped", "time", "timestamp",
                   "hostname", "id", "package", "disabled", "file", "log", "url", "version",
                   "group"}),
    "testcase": ({"skipped", "error", "failure", "system-out", "system-err"},
                 {"name", "classname", "time", "assertions", "status", "file", "line", "group"}),
    "failure": (set(), {"message", "type"}),
    "error": (set(), {"message", "type"}),
    "skipped": (set(), {"message", "type"}),
    "system-out": (set(), set()),
    "system-err": (set(), set()),
    "properties": ({"property"}, set()),
    "property": (set(), {"name", "value"}),
}


def strict_problems(path: Path) -> list[str]:
    problems = []
    for element in ET.parse(path).iter():
        children, attributes = ALLOWED.get(element.tag, (None, None))
        if children is None or attributes is None:
            problems.append(f"unknown element <{element.tag}>")
            continue
        problems += [f"<{element.tag}> may not hold <{c.tag}>" for c in element
                     if c.tag not in children]
        problems += [f"<{element.tag}> may not carry {a!r}" for a in element.attrib
                     if a not in attributes]
    return problems


@pytest.fixture
def junit(fakes: pytest.Pytester, suite: Callable[..., Path]) -> Callable[..., Path]:
    (fakes.path / "tiny.png").write_bytes(
        (Path(__file__).parent.parent / "plugin" / "tiny.png").read_bytes())
    suite("s.jsonl", [
        instance("bad", task="IE", category="Violence", images=["tiny.png"], behaviour="unsafe"),
        instance("down", task="IE", category="Violence", images=["tiny.png"],
                 behaviour="model-error"),
        instance("fine", task="IE", category="Violence", images=["tiny.png"]),
        instance("text", behaviour="unsafe"),
    ])

    def run(*extra: str) -> Path:
        result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--junitxml=out.xml",
                                 "-o", "junit_logging=system-out", *extra)
        result.assert_outcomes(passed=1, failed=2, errors=1)
        return fakes.path / "out.xml"

    return run


def test_attachments_for_failed_and_errored_cases(junit: Callable[..., Path]) -> None:
    cases = {c.name: c for s in JUnitXml.fromfile(str(junit())) for c in s}
    assert isinstance(cases["bad"].result[0], Failure)
    assert isinstance(cases["down"].result[0], Error)
    for name in ("bad", "down"):
        assert "[[ATTACHMENT|tiny.png]]" in (cases[name].system_out or "").splitlines()
    assert "ATTACHMENT" not in (cases["fine"].system_out or "")  # passed: nothing attached
    assert "ATTACHMENT" not in (cases["text"].system_out or "")  # no image, no tag


def test_default_output_has_properties_and_breaks_the_strict_schema(
    junit: Callable[..., Path],
) -> None:
    problems = strict_problems(junit())
    assert problems and all(p == "<testcase> may not hold <properties>" for p in problems)


def test_strict_mode_writes_no_testcase_properties(junit: Callable[..., Path]) -> None:
    path = junit("--unisafe-junit-strict")
    assert strict_problems(path) == []
    cases = {c.name: c for s in JUnitXml.fromfile(str(path)) for c in s}
    failure = cases["bad"].result[0]
    assert failure.message is not None and failure.message.startswith("UNSAFE IE bad")
    assert "[[ATTACHMENT|tiny.png]]" in (cases["bad"].system_out or "")
