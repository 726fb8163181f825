"""Property tests of every answer and label parser: a label, or a clear error; never a guess.

- ``judges/labels.parse_label`` (replay judge and report readers);
- the replay judge's rows (``judges/replay.ReplayJudge``);
- the report readers (``report/upstream``: ``detect_format``, ``read_judgment_rows``,
  ``read_unijudger_numeric``);
- the LLM judges' answer parsers (``judges/parsing``: ``parse_rubric``, ``parse_result``).

The invariant everywhere: any input gives a value of the protocol or a clear error
(``ParseFailure`` / ``SuiteError`` / ``ConfigError`` / an error row); never another exception,
and never a label read from a digit in prose.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from unisafe_pytest.errors import ConfigError, SuiteError
from unisafe_pytest.judges.labels import CTX_KEYS, INTR_KEYS, parse_label
from unisafe_pytest.judges.parsing import ParseFailure, parse_result, parse_rubric
from unisafe_pytest.judges.replay import ReplayJudge
from unisafe_pytest.report.upstream import (
    detect_format,
    read_judgment_rows,
    read_unijudger_numeric,
)

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
label_values = st.one_of(json_values, st.sampled_from(
    ["0", "1", "2", "3", " 1 ", "NA", "na", "", "01", "1.0", "one", "²", "١", "1 (unsafe)",
     "label 0", "0 or 1", True, False, 1.0, 0.0, -1, 2, 3, None]))
prose_with_digits = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60)


# -- labels.parse_label --------------------------------------------------------------------


@SETTINGS
@given(value=label_values, allowed=st.sampled_from([(0, 1), (0, 1, 2), (0, 1, 2, 3)]))
def test_parse_label_gives_an_allowed_label_or_a_reason(value: Any,
                                                        allowed: tuple[int, ...]) -> None:
    label, reason = parse_label(value, allowed)
    if label is None:
        assert reason and repr(value) in reason
        return
    assert reason is None and label in allowed
    assert not isinstance(value, bool)
    if isinstance(value, str):
        assert re.fullmatch(r"\s*\d+\s*", value), value


def test_parse_label_superscript_digit_is_an_error_not_a_crash() -> None:
    assert parse_label("²", (0, 1)) == (None, "label '²' is not one of [0, 1]")


@pytest.mark.parametrize("text", ["1 (unsafe)", "label 0", "0 or 1", "Result: 1", "1.0", "NA",
                                  "", " ", "1,", "-0", "+1", "0x1", "True"])
def test_prose_around_a_digit_is_never_a_label(text: str) -> None:
    assert parse_label(text, (0, 1, 2))[0] is None


# -- the LLM judges' answers ---------------------------------------------------------------


def _rubric(judgment: Any, rating: Any, reasoning: Any = "why") -> str:
    return json.dumps({"Reasoning": reasoning, "Judgment Result": judgment,
                       "Risk Rating": rating})


@SETTINGS
@given(text=st.text(max_size=300))
@example(text="The output is harmful: 1. Risk 3.")
@example(text="Judgment Result: 1, Risk Rating: 3")
@example(text="```json\n{\"Judgment Result\": 1}\n```")
@example(text=_rubric(True, 1))
@example(text=_rubric(1, 0))
@example(text=_rubric("1 ", "3"))
@example(text="{" + _rubric(1, 3) + "}")
def test_parse_rubric_gives_a_protocol_answer_or_a_parse_failure(text: str) -> None:
    try:
        answer = parse_rubric(text)
    except ParseFailure as exc:
        assert str(exc)
        return
    assert answer.judgment in (0, 1) and answer.risk_rating in (1, 2, 3)
    assert isinstance(answer.reasoning, str)
    assert "{" in text and "}" in text


@SETTINGS
@given(judgment=label_values, rating=label_values)
def test_parse_rubric_keys_take_only_protocol_values(judgment: Any, rating: Any) -> None:
    text = _rubric(judgment, rating)
    try:
        answer = parse_rubric(text)
    except ParseFailure:
        return
    for raw, parsed in ((judgment, answer.judgment), (rating, answer.risk_rating)):
        assert not isinstance(raw, bool)
        assert raw == parsed or (isinstance(raw, str) and int(raw.strip()) == parsed)


def test_parse_rubric_superscript_is_a_parse_failure() -> None:
    with pytest.raises(ParseFailure):
        parse_rubric(_rubric("²", 1))


def test_parse_rubric_deep_nesting_is_a_parse_failure() -> None:
    with pytest.raises(ParseFailure):
        parse_rubric('{"Reasoning": ' + "[" * 100_000 + "]" * 100_000 + "}")


@SETTINGS
@given(text=prose_with_digits, allowed=st.sampled_from([(0, 1), (0, 1, 2)]))
@example(text="Reason: 1 of 2 steps are harmful; 0 refusals", allowed=(0, 1, 2))
@example(text="Result 1", allowed=(0, 1))
@example(text="result: 1", allowed=(0, 1))
@example(text="Result: 1 Result: 0", allowed=(0, 1))
@example(text="Result: 12", allowed=(0, 1))
@example(text="Result: 2", allowed=(0, 1))
def test_parse_result_reads_only_the_result_field(text: str, allowed: tuple[int, ...]) -> None:
    try:
        answer = parse_result(text, allowed)
    except ParseFailure as exc:
        assert str(exc)
        return
    found = re.findall(r"(?i)result[\s*_]*:[\s*_]*(\S)", unicodedata.normalize("NFKC", text))
    assert found and set(found) == {str(answer.label)}
    assert answer.label in allowed


@SETTINGS
@given(prefix=prose_with_digits, label=st.sampled_from([0, 1, 2]))
def test_a_digit_in_the_reason_never_overrides_the_result(prefix: str, label: int) -> None:
    if "result" in unicodedata.normalize("NFKC", prefix).casefold():
        return
    answer = parse_result(f"Reason: {prefix}; Result: {label}", (0, 1, 2))
    assert answer.label == label


# -- issue 11, class 4: conflicts and unclean digits never parse ------------------------------

judgment_keys = st.sampled_from([
    "Judgment Result", "judgment result", "Judgement Result", "judgment_result",
    "JUDGMENT-RESULT", " Judgment Result ", "JudgmentResult", "Judgment\u00a0Result",
    "\uff2audgment Result"])


@SETTINGS
@given(first=judgment_keys, second=judgment_keys, where=st.sampled_from(["top", "nested"]),
       values=st.sampled_from([(0, 1), (1, 0), ("0", 1), (1, "0")]))
def test_rubric_judgments_that_disagree_never_parse(first: str, second: str, where: str,
                                                    values: tuple[Any, Any]) -> None:
    a, b = (json.dumps(v) for v in values)
    other = f'{json.dumps(second)}: {b}'
    if where == "nested":
        other = f'"Judgment": {{{other}, "Risk Rating": 2}}'
    text = f'{{"Reasoning": "x", {json.dumps(first)}: {a}, "Risk Rating": 2, {other}}}'
    with pytest.raises(ParseFailure):
        parse_rubric(text)


@SETTINGS
@given(label=st.sampled_from("012"), case=st.sampled_from(["Result", "result", "RESULT"]),
       junk=st.characters(exclude_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]).filter(
           lambda c: c not in ";)]}\"'*_.,!?"))
def test_a_result_digit_with_anything_attached_never_parses(label: str, case: str,
                                                             junk: str) -> None:
    with pytest.raises(ParseFailure):
        parse_result(f"Reason: x; {case}: {label}{junk}", (0, 1, 2))


@SETTINGS
@given(a=st.sampled_from("012"), b=st.sampled_from("012"),
       case=st.sampled_from(["Result", "result", "RESULT", "**Result:**"]),
       sep=st.sampled_from(["\n", "\n\n", "; ", ". "]))
def test_result_lines_that_disagree_never_parse(a: str, b: str, case: str, sep: str) -> None:
    field = case if case.endswith(":**") else case + ":"
    text = f"Reason: x; Result: {a}{sep}{field} {b}"
    if a == b:
        assert parse_result(text, (0, 1, 2)).label == int(a)
    else:
        with pytest.raises(ParseFailure):
            parse_result(text, (0, 1, 2))


# -- replay judge rows ---------------------------------------------------------------------

row_keys = st.sampled_from(["id", "scenario_type", "task", "model", "judge", "judgment",
                            "risk_rating", "refusal", "reasoning", "error", "raw_response",
                            *CTX_KEYS, *INTR_KEYS])
rows = st.dictionaries(row_keys, label_values, max_size=8)


def _write(lines: list[Any], name: str = "judgments.jsonl") -> Path:
    folder = Path(tempfile.mkdtemp(prefix="unisafe-prop-"))
    path = folder / name
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else json.dumps(x).encode()
                                for x in lines) + b"\n")
    return path


@SETTINGS
@given(lines=st.lists(st.one_of(rows, st.binary(max_size=20)), min_size=1, max_size=6))
def test_replay_rows_are_labels_of_the_protocol_or_errors(lines: list[Any]) -> None:
    path = _write(lines)
    try:
        judge = ReplayJudge(path)
    except ConfigError as exc:
        assert "no usable judgment rows" in str(exc)
        return
    for by_judge in judge.rows.values():
        for row in by_judge.values():
            if row.error is not None:
                assert row.judgment is None and row.ctx is None
                continue
            if row.ctx is not None:
                assert row.ctx in (0, 1, 2) and row.intr in (0, 1)
            else:
                assert row.judgment in (0, 1) and row.risk_rating in (0, 1, 2, 3)
    for error in judge.bad_lines:
        assert error.path is not None and error.line is not None


def test_a_refusal_field_of_false_text_is_not_a_refusal() -> None:
    path = _write([{"id": "a", "scenario_type": "TT", "model": "m", "judge": "J",
                    "judgment": 1, "risk_rating": 3, "refusal": "false"}])
    row = ReplayJudge(path).rows[("m", "a", "TT")]["J"]
    assert row.error is not None or (row.judgment == 1 and not row.refusal)


# -- report readers ------------------------------------------------------------------------


@SETTINGS
@given(lines=st.lists(st.one_of(rows, st.binary(max_size=20)), min_size=1, max_size=5),
       name=st.sampled_from(["judge_bagel_numeric.jsonl", "judgments.jsonl",
                             "T2I_results.jsonl"]))
def test_report_readers_give_rows_or_a_located_error(lines: list[Any], name: str) -> None:
    path = _write(lines, name)
    with contextlib.suppress(SuiteError):
        assert detect_format(path) in ("records", "unisafe", "unijudger")
    with contextlib.suppress(SuiteError):
        for judgment in read_judgment_rows(path):
            assert judgment.judgment in (None, 0, 1)
            assert judgment.risk_rating in (None, 0, 1, 2, 3)
    try:
        labels = read_unijudger_numeric(path)
    except SuiteError as exc:
        assert exc.path is not None and exc.line is not None, exc
        return
    for row in labels:
        if row.error is None:
            assert row.ctx in (0, 1, 2) and row.intr in (0, 1)


# -- replay predictions (the replay model) ---------------------------------------------------

prediction_rows = st.fixed_dictionaries(
    {"id": st.sampled_from(["a", "b"]), "scenario_type": st.sampled_from(["TT", "TI", "XX"])},
    optional={"model": st.sampled_from(["m", ""]), "output_text": label_values,
              "output_image": label_values, "output_images": st.lists(label_values, max_size=5),
              "refusal": st.one_of(st.booleans(), st.none()), "error": label_values,
              "metadata": label_values})


@SETTINGS
@given(lines=st.lists(st.one_of(prediction_rows, st.binary(max_size=16)), min_size=1,
                      max_size=4), task=st.sampled_from(["TT", "TI", "MT"]))
def test_replay_predictions_give_an_output_or_a_model_error(lines: list[Any],
                                                            task: str) -> None:
    from unisafe_pytest.adapters.base import GenerateContext
    from unisafe_pytest.adapters.replay import make_adapter
    from unisafe_pytest.errors import ModelError
    from unisafe_pytest.schema import Instance
    from unisafe_pytest.schema.tasks import TaskRegistry

    path = _write(lines, "predictions.jsonl")
    try:
        adapter = make_adapter(path.name, base_dir=path.parent, settings={})
    except (ConfigError, SuiteError) as exc:
        assert str(exc)
        return
    instance = Instance(suite="s", id="a", task=task, category="Hate", instruction="x",
                        turns=["1", "2", "3", "4"] if task == "MT" else [])
    try:
        output = adapter.generate(instance, TaskRegistry()[task],
                                  GenerateContext(path.parent / "out"))
    except ModelError as exc:
        assert str(exc)
        return
    rows = [x for x in lines if isinstance(x, dict) and x.get("id") == "a"]
    if output.refusal and output.refusal_reason == "refusal flag in predictions":
        assert any(r.get("refusal") is True for r in rows), (rows, output)


def _predictions(row: dict[str, Any]) -> Any:
    from unisafe_pytest.adapters.base import GenerateContext
    from unisafe_pytest.adapters.replay import make_adapter
    from unisafe_pytest.schema import Instance
    from unisafe_pytest.schema.tasks import TaskRegistry

    path = _write([{"id": "a", "model": "m", **row}], "predictions.jsonl")
    adapter = make_adapter(path.name, base_dir=path.parent, settings={})
    task = row["scenario_type"]
    instance = Instance(suite="s", id="a", task=task, category="Hate", instruction="x")
    return adapter.generate(instance, TaskRegistry()[task], GenerateContext(path.parent / "o"))


def test_a_prediction_refusal_of_false_text_is_not_a_refusal() -> None:
    from unisafe_pytest.errors import ModelError

    try:
        output = _predictions({"scenario_type": "TT", "output_text": "Step 1: ...",
                               "refusal": "false"})
    except ModelError:
        return
    assert not output.refusal


def test_a_prediction_image_that_is_not_an_image_is_a_model_error() -> None:
    from unisafe_pytest.errors import ModelError

    not_an_image = _write([{"text": "not an image"}], "notes.txt")
    with pytest.raises(ModelError):
        _predictions({"scenario_type": "TI", "output_image": str(not_an_image)})
