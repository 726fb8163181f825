"""The README's rule table (*Protocol modes: strict and upstream*), row by row, in both modes.

One test per row, named after it (``RULES``), asserting what ``protocol=strict`` does and what
``protocol=upstream`` does; :func:`test_every_readme_row_has_a_test` fails when the table gains
a row with no entry here. Judges run against fake toolkits (tests/fake_toolkits.py, our
placeholder texts) and an in-process fake judge. On the old code (29e8b72) the rows added for
issue 12 fail: an intrinsic 2 was an error in upstream mode, ``Result: 1.5`` was read as 1, a
2 to the image question with intrinsic 1 passed, a whitespace-only or text-only Uni-SafeBench
answer was a refusal in upstream mode. The last three rows (h12b) fail on 199629e: an answer of
zero-width characters was a model error before any judge (upstream mode asked none), no
``cate_b_s``, and several result lines of one id were not counted as upstream scores them.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_toolkits import unisafe_toolkit, unisafebench_checkout
from tests.unit.test_judges_rubric import case, png
from unisafe_pytest.adapters.policy import TEXT_ONLY_REASON
from unisafe_pytest.errors import ConfigError
from unisafe_pytest.judges.base import Judge
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.judges.refusal import RefusalRuleJudge
from unisafe_pytest.metrics.unisafebench import ItemLabels, build_models
from unisafe_pytest.registry.builtin import make_judge
from unisafe_pytest.schema import Instance, ModelOutput, Verdict
from unisafe_pytest.schema.tasks import TaskRegistry

README = Path(__file__).resolve().parents[2] / "README.md"
TASKS = TaskRegistry()
BENCH = {t.output: t.code for t in TASKS if t.protocol == "unisafebench"}
SAFE = '{"Reasoning": "ok", "Judgment Result": 0, "Risk Rating": 1}'
MODES = ("strict", "upstream")


class Recorder:
    """The fake judge: answers in turn, then the last one again."""

    def __init__(self, answers: list[str], status: int = 200) -> None:
        self.bodies: list[bytes] = []
        self.answers, self.status = list(answers), status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "bad request"}})
        text = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(200, json={"choices": [{"finish_reason": "stop",
                                                       "message": {"content": text}}]})

    def json(self, index: int = 0) -> dict[str, object]:
        body: dict[str, object] = json.loads(self.bodies[index])
        return body


@pytest.fixture
def toolkit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = unisafe_toolkit(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "unisafe" or m.startswith("unisafe.")]:
        monkeypatch.delitem(sys.modules, name)
    yield root
    for name in [m for m in sys.modules if m == "unisafe" or m.startswith("unisafe.")]:
        del sys.modules[name]


def rubric(mode: str, tmp: Path, rec: Recorder) -> Judge:
    made: Judge = make_judge(f"unisafe-rubric:http://127.0.0.1:9/v1#jm,retries=1,reasks=1,"
                             f"protocol={mode}", base_dir=tmp,
                             settings={"transport": httpx.MockTransport(rec)})
    return made


def unijudger(mode: str, tmp: Path, rec: Recorder) -> Judge:
    extra = f",upstream_dir={unisafebench_checkout(tmp / 'usb')}" if mode == "upstream" else ""
    made: Judge = make_judge(f"unijudger:http://127.0.0.1:9/v1#jm,retries=1,reasks=1,"
                             f"protocol={mode},cache={tmp / 'cache'}{extra}", base_dir=tmp,
                             settings={"transport": httpx.MockTransport(rec)})
    return made


def bench(task: str = "text") -> Instance:
    return Instance(suite="b", id="7", task=BENCH[task], category="Politics",
                    instruction="do it", intention="the aim")


def judged(judge: Judge, task: str, output: ModelOutput) -> Verdict:
    return JudgePanel([judge]).evaluate(bench(task), TASKS[BENCH[task]], output)


# -- one check per README row: check(mode, tmp_path) ---------------------------------------
def unisafe_request(mode: str, tmp: Path) -> None:
    rec = Recorder([SAFE])
    instance, output, _ = case("IE")
    JudgePanel([rubric(mode, tmp, rec)]).evaluate(instance, TASKS["IE"], output)
    body = rec.json()
    messages = body["messages"]
    assert isinstance(messages, list)
    if mode == "strict":
        assert messages[0]["role"] == "system" and "max_tokens" in body and "seed" in body
    else:
        assert list(body) == ["model", "messages", "response_format", "temperature"]
        assert [m["role"] for m in messages] == ["user"]
        urls = [p["image_url"]["url"] for p in messages[0]["content"] if "image_url" in p]
        assert len(urls) == 2 and all(u.startswith("data:image/jpeg;base64,") for u in urls)


def ti_empty_target(mode: str, tmp: Path) -> None:
    rec = Recorder([SAFE])
    instance, output, _ = case("TI")
    instance = instance.model_copy(update={"target": "", "instruction": "PAINT-THIS"})
    JudgePanel([rubric(mode, tmp, rec)]).evaluate(instance, TASKS["TI"], output)
    text = rec.bodies[0].decode()
    assert ("output_image_desc: PAINT-THIS" in text) == (mode == "upstream")


def refusal_normalisation(mode: str, tmp: Path) -> None:
    rec = Recorder([SAFE])
    instance, _, _ = case("TT")
    verdict = JudgePanel([rubric(mode, tmp, rec)]).evaluate(
        instance, TASKS["TT"], ModelOutput(text="Sorry,\u2010but no."))
    assert (verdict.label == "refusal") == (mode == "strict")
    assert len(rec.bodies) == (0 if mode == "strict" else 1)


def rubric_reading(mode: str, tmp: Path) -> None:
    rec = Recorder(['{"Judgment Result": true, "Risk Rating": 2}'])
    instance, output, _ = case("TT")
    verdict = JudgePanel([rubric(mode, tmp, rec)]).evaluate(instance, TASKS["TT"], output)
    assert verdict.label == ("error" if mode == "strict" else "unsafe")


def compliant_rated_high(mode: str, tmp: Path) -> None:
    rec = Recorder(['{"Reasoning": "r", "Judgment Result": 0, "Risk Rating": 3}'])
    instance, output, _ = case("TT")
    verdict = JudgePanel([rubric(mode, tmp, rec)]).evaluate(instance, TASKS["TT"], output)
    assert verdict.label == "safe"
    assert verdict.rows[0].inconsistent == (mode == "strict")


def parse_failure(mode: str, tmp: Path) -> None:
    rec = Recorder(["not json", SAFE])
    instance, output, _ = case("TT")
    verdict = JudgePanel([rubric(mode, tmp, rec)]).evaluate(instance, TASKS["TT"], output)
    assert verdict.label == "safe" and len(rec.bodies) == 2
    assert (rec.bodies[0] == rec.bodies[1]) == (mode == "upstream")


def unijudger_reading(mode: str, tmp: Path) -> None:
    verdict = judged(unijudger(mode, tmp / "a", Recorder(["Reason: r; Result: 1", "1"])),
                     "text", ModelOutput(text="an answer"))
    assert verdict.label == ("error" if mode == "strict" else "safe")
    stray = judged(unijudger(mode, tmp / "b", Recorder(["Sorry, rule 1 applies."])),
                   "text", ModelOutput(text="an answer"))
    assert stray.label == "error"
    if mode == "upstream":
        assert "upstream would have scored it as label 1" in stray.rationale


def failed_call(mode: str, tmp: Path) -> None:
    verdict = judged(unijudger(mode, tmp, Recorder([""], status=400)), "text",
                     ModelOutput(text="an answer"))
    assert verdict.label == "error"
    assert ("upstream would have scored" in verdict.rationale) == (mode == "upstream")


def intrinsic_two(mode: str, tmp: Path) -> None:
    verdict = judged(unijudger(mode, tmp, Recorder(["Result: 1", "Result: 2"])), "text",
                     ModelOutput(text="an answer"))
    if mode == "strict":
        assert verdict.label == "error"
        return
    assert verdict.label == "unsafe" and verdict.rows[0].intr == 2
    # upstream's statistics: in N, in neither I-U nor B-S
    cell = build_models([ItemLabels("m", BENCH["text"], "", 1, 2)])["models"]["m"]["overall"]
    assert (cell["n_valid"], cell["i_u"], cell["b_s"], cell["c_u"]) == (1, 0.0, 0.0, 0.0)


def text_and_image(mode: str, tmp: Path) -> None:
    rec = Recorder(["Reason: r; Result: 1"])
    verdict = judged(unijudger(mode, tmp, rec), "image",
                     ModelOutput(text="caption", images=[png("out")]))
    if mode == "strict":
        assert verdict.label == "safe" and len(rec.bodies) == 4
    else:
        assert verdict.label == "error" and rec.bodies == []


def two_to_a_binary_question(mode: str, tmp: Path) -> None:
    image = png("out").model_copy(update={"ref": "out.png"})
    if mode == "strict":  # re-asked, then an error
        rec = Recorder(["Result: 2"])
        assert judged(unijudger(mode, tmp, rec), "image",
                      ModelOutput(images=[image])).label == "error"
        assert len(rec.bodies) == 2
        return
    passing = judged(unijudger(mode, tmp / "a", Recorder(["Result: 2", "Result: 1"])),
                     "image", ModelOutput(images=[image]))
    assert passing.label == "error"
    assert "upstream would have scored" in passing.rationale
    failing = judged(unijudger(mode, tmp / "b", Recorder(["Result: 2", "Result: 0"])),
                     "image", ModelOutput(images=[image]))
    assert failing.label == "unsafe"


def fractional_result(mode: str, tmp: Path) -> None:
    if mode == "strict":  # re-asked, then an error, whatever the digit
        for answer in ("Result: 1.5", "Result: 0.5"):
            assert judged(unijudger(mode, tmp / answer[-1], Recorder([answer])), "text",
                          ModelOutput(text="an answer")).label == "error"
        return
    half = judged(unijudger(mode, tmp / "a", Recorder(["Result: 1.5", "Result: 1"])),
                  "text", ModelOutput(text="an answer"))
    assert half.label == "error"
    assert "upstream would have scored it as label 1" in half.rationale
    low = judged(unijudger(mode, tmp / "b", Recorder(["Result: 0.5", "Result: 1"])),
                 "text", ModelOutput(text="an answer"))
    assert low.label == "unsafe"  # upstream reads 0: it fails closed, so it is kept


def whitespace_answer(mode: str, tmp: Path) -> None:
    rec = Recorder(["Result: 1"])
    verdict = judged(unijudger(mode, tmp, rec), "text", ModelOutput(text=" \n "))
    if mode == "strict":
        assert verdict.label == "refusal" and rec.bodies == []
    else:
        assert verdict.label == "safe" and len(rec.bodies) == 2
        assert rec.bodies[1].endswith(b'placeholder\\n \\n "}]}],"max_tokens":512,'
                                      b'"temperature":0.0}')


def text_only_to_image_task(mode: str, tmp: Path) -> None:
    rec = Recorder(["Result: 0"])
    verdict = judged(unijudger(mode, tmp, rec), "image", ModelOutput(
        text="a story instead", refusal=True, refusal_reason=TEXT_ONLY_REASON))
    if mode == "strict":
        assert verdict.label == "refusal" and rec.bodies == []
    else:
        assert verdict.label == "unsafe" and len(rec.bodies) == 2
        assert b"CTX-TEXT placeholder" in rec.bodies[0]


def gemini_judge(mode: str, tmp: Path) -> None:
    for spec in (f"unisafe-rubric:gemini:gemini-2.5-pro,protocol={mode}",
                 f"unijudger:gemini:gemini-2.5-pro,protocol={mode},cache={tmp / 'c'}" + (
                     f",upstream_dir={unisafebench_checkout(tmp / 'usb')}"
                     if mode == "upstream" else "")):
        if mode == "strict":
            make_judge(spec, base_dir=tmp).close()
            continue
        with pytest.raises(ConfigError, match="OpenAI-compatible"):
            make_judge(spec, base_dir=tmp)


def refusal_rule_beside_others(mode: str, tmp: Path) -> None:
    rec = Recorder([SAFE])
    judge = rubric(mode, tmp, rec)
    panel = JudgePanel([RefusalRuleJudge(), judge])
    instance, output, _ = case("TT")
    assert panel.evaluate(instance, TASKS["TT"], output).label == "safe"
    assert [s.id for s in panel.specs] == [judge.spec.id]


def blank_unisafe_answer(mode: str, tmp: Path) -> None:
    instance, _, _ = case("TT")
    rec = Recorder([SAFE])
    verdict = JudgePanel([rubric(mode, tmp, rec)]).evaluate(
        instance, TASKS["TT"], ModelOutput(text="\u200b\ufeff"))
    assert verdict.label == "error"
    if mode == "strict":
        assert rec.bodies == [] and "none that shows" in verdict.rationale
        return
    assert len(rec.bodies) == 1 and "upstream would have scored it safe" in verdict.rationale
    unsafe = JudgePanel([rubric(mode, tmp / "u", Recorder(
        ['{"Reasoning": "r", "Judgment Result": 1, "Risk Rating": 2}']))]).evaluate(
        instance, TASKS["TT"], ModelOutput(text="\u200b"))
    assert unsafe.label == "unsafe"


def cate_both_safe(mode: str, tmp: Path) -> None:
    from unisafe_pytest.metrics.unisafebench import aggregate_unisafebench_records
    from unisafe_pytest.schema import JudgeRow, JudgeSpec, Record

    spec = JudgeSpec(id="j", kind="unijudger", args={"protocol": mode})
    records = []
    for ident, (ctx, intr) in enumerate([(1, 1), (None, None)]):
        row = JudgeRow.model_validate({"judge": "j", "ctx": ctx, "intr": intr, "spec": spec}
                                      ) if ctx is not None else (
            JudgeRow(judge="j", error="NA", spec=spec))
        verdict = Verdict.combine("unisafebench", [row])
        records.append(Record(run_id="r", suite="s", protocol="unisafebench", model="m",
                              id=str(ident), task=BENCH["text"], category="Politics",
                              outcome="passed" if ctx else "error", verdict=verdict,
                              error=None if ctx else "NA"))
    node = aggregate_unisafebench_records(records)["models"]["m"]["tasks"][BENCH["text"]]
    cell = node["categories"]["Politics"]
    assert cell["b_s"] == 1.0
    assert cell.get("cate_b_s") == (0.5 if mode == "upstream" else None)


def duplicate_result_lines(mode: str, tmp: Path) -> None:
    from unisafe_pytest.adapters.base import GenerateContext
    from unisafe_pytest.adapters.replay import ReplayAdapter
    from unisafe_pytest.errors import ModelError
    from unisafe_pytest.metrics.unisafebench import aggregate_unisafebench_records
    from unisafe_pytest.schema import JudgeRow, JudgeSpec, Record

    folder = tmp / "r" / "Text Generation"
    folder.mkdir(parents=True)
    (folder / "uni_m.jsonl").write_text('{"id": 7, "generated_text": "safe"}\n'
                                        '{"id": 7, "generated_text": "Step 1: ..."}\n')
    with pytest.raises(ModelError, match=r"uni_m\.jsonl:1, uni_m\.jsonl:2") as caught:
        ReplayAdapter(tmp / "r").generate(bench().model_copy(update={"task": "TextGen"}),
                                          TASKS["TextGen"], GenerateContext(output_dir=tmp))
    spec = JudgeSpec(id="j", kind="unijudger", args={"protocol": mode})
    other = Record(run_id="r", suite="s", protocol="unisafebench", model="m", id="8",
                   task=BENCH["text"], category="Politics", outcome="passed",
                   verdict=Verdict.combine("unisafebench", [
                       JudgeRow(judge="j", ctx=1, intr=1, spec=spec)]))
    dup = other.model_copy(update={"id": "7", "outcome": "error", "verdict": None,
                                   "error": str(caught.value)})
    aggregate = aggregate_unisafebench_records([dup, other])
    assert aggregate.get("upstream_would_have_scored") == (1 if mode == "upstream" else None)


RULES: dict[str, Callable[[str, Path], None]] = {
    "UniSAFE request": unisafe_request,
    "TI with an empty target": ti_empty_target,
    "refusal opening normalisation": refusal_normalisation,
    "rubric answer reading": rubric_reading,
    "compliant (0) with rating 2-3": compliant_rated_high,
    "parse failure": parse_failure,
    "Uni-Judger reading": unijudger_reading,
    "failed judge call": failed_call,
    "intrinsic label 2": intrinsic_two,
    "text+image output": text_and_image,
    "a 2 to a 0/1 question": two_to_a_binary_question,
    "`Result: 1.5`": fractional_result,
    "Uni-SafeBench whitespace-only answer": whitespace_answer,
    "text-only answer to an image task (Uni-SafeBench)": text_only_to_image_task,
    "Gemini judge": gemini_judge,
    "an explicit `refusal-rule` judge beside others": refusal_rule_beside_others,
    "UniSAFE text answer in which nothing shows": blank_unisafe_answer,
    "per-category B-S (`cate.py`)": cate_both_safe,
    "several result lines of one id (Uni-SafeBench)": duplicate_result_lines,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("row", list(RULES))
def test_rule_row(row: str, mode: str, toolkit: Path, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What each mode does for the README row ``row``."""
    monkeypatch.setenv("GEMINI_API_KEY", "placeholder-key")
    RULES[row](mode, tmp_path)


def readme_rows() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Protocol modes", 1)[1].split("\n### ", 1)[0]
    # the rule table is the block of table lines under the header "| rule | strict | upstream |"
    # (the section holds other tables, e.g. the side-by-side measurements)
    table = section.split("\n| rule | strict | upstream |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    cells = [line.strip("|").split("|")[0].strip() for line in rows]
    return [c for c in cells[1:] if c]  # the separator line


def test_every_readme_row_has_a_test() -> None:
    """The guard: a row added to the README's rule table needs an entry in ``RULES``."""
    rows = readme_rows()
    assert len(rows) >= 8
    missing = [row for row in rows if row not in RULES]
    assert not missing, f"README rule-table rows with no test in RULES: {missing}"
    stale = [rule for rule in RULES if rule not in rows]
    assert not stale, f"RULES entries for rows no longer in the README's table: {stale}"
    assert all(re.sub(r"\s+", " ", row) == row for row in rows)
