"""Text from suites, models and judges never reaches a terminal or report as raw controls.

Class covered: every string that came from data (suite categories, subcategories, prompts,
field names and file names, as ids must be printable already; model replies, model names
and error messages; judge rationales) is shown through one function,
``unisafe_pytest.io.printable.printable``, wherever it is printed: pytest's failure and error
reports and short summary, collection errors, the unisafe summary tables, the
``unisafe report`` / ``compare`` CLI (text and JSON) and the HTML report. ESC (ANSI
sequences), CR, BEL, NUL, C1 controls (``\\x9b`` CSI, ``\\x85`` NEL), bidi overrides and
isolates (U+202E, U+2066) and line separators (U+2028) show as their escapes instead.

These tests failed on the old code: the category's ``\\x1b[2J`` (clear screen), ``\\r``,
``\\x9b`` and U+202E reached pytest's stdout in the failure report and the summary table,
and the ``unisafe report`` / ``compare`` output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import instance, write_suite
from tests.robustness.helpers import only_run, outcome_of

EVIL = "\x1b[2J\r\x9b31m\u202e\u2066\x07\x85\u2028\x00<b>"
RAW = ("\x1b", "\r", "\x9b", "\u202e", "\u2066", "\x07", "\x85", "\u2028", "\x00")

HOSTILE = f'''
from unisafe_pytest import Capabilities, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.errors import JudgeError, ModelError

EVIL = {EVIL!r}


class Model:
    name = "evil-model" + EVIL
    capabilities = Capabilities.everything()

    def generate(self, instance, task, ctx):
        behaviour = instance.metadata.get("behaviour", "safe")
        if behaviour == "model-error":
            raise ModelError("upstream said " + EVIL)
        return ModelOutput(text=behaviour + " answer " + EVIL)

    def describe(self):
        return {{"kind": "hostile", "model": "evil" + EVIL}}

    def close(self):
        pass


class Judge:
    spec = JudgeSpec(id="evil-judge", kind="test", prompt_hash="0" * 16, parser_version="1")
    cacheable = True

    def judge(self, instance, task, output):
        behaviour = instance.metadata.get("behaviour", "safe")
        if behaviour == "judge-error":
            raise JudgeError("judge said " + EVIL)
        unsafe = behaviour == "unsafe"
        return JudgeRow(judge="evil-judge", judgment=int(unsafe), risk_rating=3 if unsafe else 0,
                        reasoning="rationale " + EVIL + "\\nsecond line " + EVIL, spec=self.spec)

    def close(self):
        pass


def make_model():
    return Model()


def make_judge():
    return Judge()
'''

ARGS = ("--unisafe-model=python:hostile:make_model", "--unisafe-judge=python:hostile:make_judge",
        "--color=no", "-rA", "-v", "--continue-on-collection-errors")


def _hostile(id: str, behaviour: str) -> dict[str, object]:
    return instance(id, category=f"Hate{EVIL}", subcategory=f"H1{EVIL}",
                    instruction=f"request {EVIL}", behaviour=behaviour)


def _assert_clean(text: str, where: str) -> None:
    found = [repr(c) for c in RAW if c in text]
    assert not found, f"{where} holds raw {', '.join(found)}"


def _strings(value: object) -> set[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {s for k, v in value.items() for s in {k} | _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return set()


@pytest.fixture
def hostile_run(pytester: pytest.Pytester) -> tuple[pytest.RunResult, Path]:
    pytester.makepyfile(hostile=HOSTILE)
    pytester.syspathinsert()
    write_suite(pytester.path / "cases.jsonl", [
        _hostile("safe", "safe"), _hostile("unsafe", "unsafe"),
        _hostile("model-error", "model-error"), _hostile("judge-error", "judge-error")])
    bad_name = pytester.path / "bad\x1b]0;owned\x07.jsonl"
    write_suite(bad_name, [instance("ok"), {**instance("x"), f"field{EVIL}": 1}])
    result = pytester.runpytest(*ARGS, "--unisafe-suite=cases.jsonl",
                                f"--unisafe-suite={bad_name.name}")
    return result, only_run(pytester.path)


def test_pytest_output_shows_hostile_text_escaped(
    hostile_run: tuple[pytest.RunResult, Path]
) -> None:
    result, _ = hostile_run
    out = result.stdout.str()
    assert outcome_of(result) == {"passed": 2, "failed": 1, "errors": 3}, out[-4000:]
    _assert_clean(out, "pytest's stdout")
    _assert_clean(result.stderr.str(), "pytest's stderr")
    # shown, not hidden: the escapes are there for a reader
    assert "evil-model\\x1b[2J" in out
    assert "Hate\\x1b[2J\\r\\x9b31m\\u202e\\u2066\\x07\\x85\\u2028\\x00<b>" in out
    assert "rationale \\x1b[2J" in out and "upstream said \\x1b[2J" in out
    assert "judge said \\x1b[2J" in out
    assert "bad\\x1b]0;owned\\x07.jsonl" in out


def test_cli_report_and_compare_show_hostile_text_escaped(
    hostile_run: tuple[pytest.RunResult, Path], capsys: pytest.CaptureFixture[str],
    tmp_path: Path
) -> None:
    from unisafe_pytest.cli import main

    _, run = hostile_run
    html = tmp_path / "report.html"
    for argv in (["report", str(run), "--shared-target", "--html", str(html)],
                 ["compare", str(run)], ["compare", str(run), "--format", "markdown"]):
        assert main(argv) == 0, argv
        captured = capsys.readouterr()
        _assert_clean(captured.out + captured.err, " ".join(argv[:1]))
        assert "evil-model\\x1b[2J" in captured.out, captured.out
        assert argv[0] == "compare" or "Hate\\x1b[2J" in captured.out, captured.out
    for argv in (["report", str(run), "--json"], ["compare", str(run), "--format", "json"]):
        assert main(argv) == 0, argv
        captured = capsys.readouterr()
        _assert_clean(captured.out + captured.err, " ".join(argv))
        assert f"evil-model{EVIL}" in _strings(json.loads(captured.out))  # the same values
    page = html.read_text(encoding="utf-8")
    _assert_clean(page, "report.html")
    assert "<b>" not in page.split("<script")[0]


def _unsafe_chars(text: str, multiline: bool) -> list[str]:
    import unicodedata

    kept = "\n\t" if multiline else ""
    return [c for c in text if c not in kept and c not in "\u200c\u200d"
            and unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"}]


@given(st.text(), st.booleans())
def test_printable_leaves_no_control_format_or_separator_character(text: str,
                                                                   multiline: bool) -> None:
    from unisafe_pytest.io.printable import printable

    shown = printable(text, multiline=multiline)
    assert not _unsafe_chars(shown, multiline)
    assert printable(shown, multiline=multiline) == shown  # idempotent
    if not _unsafe_chars(text, multiline) and "\r\n" not in text:
        assert shown == text  # plain text is left alone


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_printable_json_is_the_same_json_value(value: object) -> None:
    from unisafe_pytest.io.printable import printable_json

    for indent in (None, 2):
        text = json.dumps(value, indent=indent, ensure_ascii=False)
        shown = printable_json(text)
        assert not _unsafe_chars(shown, multiline=True)
        assert json.loads(shown) == value
