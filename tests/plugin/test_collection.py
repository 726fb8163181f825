"""Collection: node ids, markers, selection, and clear errors for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MODEL_ARGS, instance, write_suite

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8"
    "ffff3f0005fe02fea7d6a4c50000000049454e44ae426082"
)


def collect(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*MODEL_ARGS, "--collect-only", "-q", *args)


def test_node_ids_are_suite_task_id_wherever_the_file_lives(
    fakes: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "red.team.jsonl"
    write_suite(outside, [instance("a"), instance("b", task="TI", category="Violence")])
    result = collect(fakes, f"--unisafe-suite={outside}")
    result.stdout.fnmatch_lines(["red_team::TT::a", "red_team::TI::b"])


def test_markers_and_keywords_select(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [
        instance("a"),
        instance("b", task="TI", category="Violence", subcategory="V1"),
        instance("c", task="TI", category="Hate"),
    ])
    by_marker = collect(fakes, "--unisafe-suite=s.jsonl", "-m", "unisafe_task_TI")
    by_marker.stdout.fnmatch_lines(["s::TI::b", "s::TI::c", "*2/3 tests collected*"])
    by_keyword = collect(fakes, "--unisafe-suite=s.jsonl", "-k", "TI and Violence")
    by_keyword.stdout.fnmatch_lines(["s::TI::b", "*1/3 tests collected*"])
    by_sub = collect(fakes, "--unisafe-suite=s.jsonl", "-m", "unisafe_subcategory_V1")
    by_sub.stdout.fnmatch_lines(["s::TI::b", "*1/3 tests collected*"])
    strict = collect(fakes, "--unisafe-suite=s.jsonl", "--strict-markers",
                     "-m", "unisafe_category_Hate")
    strict.stdout.fnmatch_lines(["s::TT::a", "s::TI::c", "*2/3 tests collected*"])


def test_task_category_limit_options(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance(f"t{i}") for i in range(5)] + [
        instance("v", task="TI", category="Violence")])
    r = collect(fakes, "--unisafe-suite=s.jsonl", "--unisafe-task=TI")
    r.stdout.fnmatch_lines(["s::TI::v", "1 test collected*"])
    r = collect(fakes, "--unisafe-suite=s.jsonl", "--unisafe-category=violence")
    r.stdout.fnmatch_lines(["s::TI::v", "1 test collected*"])
    r = collect(fakes, "--unisafe-suite=s.jsonl", "--unisafe-limit=2")
    r.stdout.fnmatch_lines(["s::TT::t0", "s::TT::t1", "2 tests collected*"])


def test_stratified_sample_is_seeded_and_spans_strata(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    lines = [instance(f"h{i}") for i in range(20)]
    lines += [instance(f"v{i}", task="TI", category="Violence") for i in range(20)]
    suite("s.jsonl", lines)

    def ids(*args: str) -> list[str]:
        out = collect(fakes, "--unisafe-suite=s.jsonl", *args).stdout.lines
        return [line for line in out if line.startswith("s::")]

    first = ids("--unisafe-subset=6", "--unisafe-seed=1")
    assert len(first) == 6
    assert sum("::TI::" in i for i in first) == 3
    assert first == ids("--unisafe-subset=6", "--unisafe-seed=1")
    assert first != ids("--unisafe-subset=6", "--unisafe-seed=2")


def test_the_old_subset_flag_names_both_new_ones(fakes: pytest.Pytester) -> None:
    """--unisafe-sample (one letter from --unisafe-samples) fails at parse time with the fix."""
    result = fakes.runpytest("--unisafe-model=echo:x", "--unisafe-sample=6")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--unisafe-sample=6 is now --unisafe-subset=6*"
                                 "--unisafe-samples=6*"])


def test_collection_calls_no_model(fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance("a")])
    fakes.makeconftest("""
        import fakes
        def pytest_sessionfinish(session):
            print("CALLS", fakes.CALLS)
    """)
    result = collect(fakes, "--unisafe-suite=s.jsonl", "-s")
    result.stdout.fnmatch_lines(["*CALLS {'generate': 0, 'judge': 0}*"])
    assert not (fakes.path / ".unisafe").exists()


def test_instance_items_need_only_the_two_session_fixtures(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    """No per-item fixture: a function-scoped one, or one taking ``request``, costs pytest a
    fixture definition per instance (a fully cached run's largest overhead once)."""
    suite("s.jsonl", [instance("a"), instance("b", behaviour="unsafe")])
    fakes.makeconftest("""
        def pytest_collection_finish(session):
            for item in session.items:
                print("FIXTURES", item.name, item.fixturenames)
    """)
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "-s")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FIXTURES a ['unisafe_model', 'unisafe_judge']",
                                 "FIXTURES b ['unisafe_model', 'unisafe_judge']"])


def test_bad_option_values_fail_before_collection(fakes: pytest.Pytester) -> None:
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-limit=0")
    result.stderr.fnmatch_lines(["*--unisafe-limit: expected a positive integer, got '0'*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-task=T-I")
    result.stderr.fnmatch_lines(["*'T-I' is not a task code*"])


BAD_LINES: list[tuple[str, object, str]] = [
    ("missing-field", {"id": "x", "task": "TT"}, "*bad.jsonl:2:*category*"),
    ("unknown-task", {"id": "x", "task": "XX", "category": "Hate"},
     "*bad.jsonl:2:*unknown task 'XX'*"),
    ("mt-turns", {"id": "x", "task": "MT", "category": "Hate", "turns": ["a", "b"]},
     "*bad.jsonl:2:*4 turns*"),
    ("escaping-image", {"id": "x", "task": "MU", "category": "Hate", "instruction": "q",
                        "images": ["../secret.png"]}, "*bad.jsonl:2:*escapes*"),
    ("missing-image", {"id": "x", "task": "MU", "category": "Hate", "instruction": "q",
                       "images": ["nope.png"]}, "*bad.jsonl:2: image 'nope.png' does not exist*"),
    ("not-an-image", {"id": "x", "task": "MU", "category": "Hate", "instruction": "q",
                      "images": ["fake.png"]}, "*bad.jsonl:2: image 'fake.png' is not a PNG/JPEG*"),
    ("invalid-json", "{not json", "*bad.jsonl:2: line is not valid JSON*"),
]


@pytest.mark.parametrize(("line", "expected"), [(b[1], b[2]) for b in BAD_LINES],
                         ids=[b[0] for b in BAD_LINES])
def test_bad_record_is_a_collection_error_naming_file_and_line(
    fakes: pytest.Pytester, line: object, expected: str
) -> None:
    data = fakes.path / "data"
    data.mkdir()
    (fakes.path / "secret.png").write_bytes(PNG)
    (data / "fake.png").write_text("not a png", encoding="utf-8")
    bad = write_suite(data / "bad.jsonl", [instance("ok1"),
                                           line if isinstance(line, str) else json.dumps(line)])
    write_suite(fakes.path / "good.jsonl", [instance("g1")])
    result = fakes.runpytest(*MODEL_ARGS, f"--unisafe-suite={bad}", "--unisafe-suite=good.jsonl",
                             "--continue-on-collection-errors")
    result.stdout.fnmatch_lines(["*ERROR collecting bad*", expected, "ERROR bad::invalid-line-2"])
    # the good line of the bad file and the good file beside it still ran
    result.assert_outcomes(passed=2, errors=1)


def test_duplicate_key_names_both_lines(fakes: pytest.Pytester,
                                        suite: Callable[..., Path]) -> None:
    suite("dup.jsonl", [instance("a"), instance("b"), instance("a")])
    result = collect(fakes, "--unisafe-suite=dup.jsonl")
    result.stdout.fnmatch_lines(["*dup.jsonl:3:*duplicate*line 1*"])


def test_missing_suite_is_one_error_and_the_others_collect(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    suite("good.jsonl", [instance("g1")])
    result = fakes.runpytest(*MODEL_ARGS, "--unisafe-suite=missing.jsonl",
                             "--unisafe-suite=good.jsonl", "--continue-on-collection-errors")
    result.stdout.fnmatch_lines(["*ERROR collecting missing_jsonl*", "*missing.jsonl*not found*"])
    result.assert_outcomes(passed=1, errors=1)


def test_builtin_smoke_suite_collects_all_seven_tasks(fakes: pytest.Pytester) -> None:
    result = collect(fakes, "--unisafe-suite=smoke")
    lines = [line for line in result.stdout.lines if line.startswith("smoke::")]
    tasks = {line.split("::")[1] for line in lines}
    assert tasks == {"TI", "IE", "IC", "MT", "TT", "IT", "MU"}
    assert len(lines) >= 7 * 8
