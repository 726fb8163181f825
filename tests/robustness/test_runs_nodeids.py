"""Issue 11, class 9: node ids shift; and fixed markers registered up front.

Node ids are a pure function of (suite, task, id): an id of letters and digits (any script),
``_``, ``-`` and ``.`` is kept; any other id is escaped and gets ``~`` and a hash of the
original. Each test failed on the old code: colliding ids got ``_`` suffixes in file order,
so ``--lf`` after an edit reran another instance and reported a pass; non-ASCII ids all became
``_``, ``__``, ...; ``--strict-markers -m unisafe_benign`` on a suite without benign
instances was a usage error.
"""

from __future__ import annotations

import pytest

from tests.conftest import instance, write_suite
from tests.robustness.runs_model import MODEL_ARGS, SOURCE


@pytest.fixture
def runs(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(runs_model=SOURCE)
    pytester.syspathinsert()
    return pytester


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest(*MODEL_ARGS, "--collect-only", "-q", *args)
    return [line for line in result.stdout.lines if line.startswith("s::")]


def test_last_failed_reruns_the_same_instance_after_an_edit(runs: pytest.Pytester) -> None:
    suite = runs.path / "s.jsonl"
    write_suite(suite, [instance("a/b", behaviour="unsafe"), instance("c")])
    args = (*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--unisafe-cache=off")
    runs.runpytest(*args).assert_outcomes(passed=1, failed=1)
    before = collected(runs, "--unisafe-suite=s.jsonl")
    # an instance whose id escapes to the same spelling is added above it
    write_suite(suite, [instance("a b"), instance("a/b", behaviour="unsafe"), instance("c")])
    after = collected(runs, "--unisafe-suite=s.jsonl")
    assert set(before) < set(after) and len(set(after)) == 3, (before, after)
    rerun = runs.runpytest(*args, "--lf")
    rerun.assert_outcomes(failed=1)  # a/b again, not "a b"


def test_non_ascii_ids_keep_their_letters_and_stay_apart(runs: pytest.Pytester) -> None:
    write_suite(runs.path / "s.jsonl", [instance("暴力-01"), instance("仇恨-01"),
                                        instance("Größe"), instance("x y")])
    ids = collected(runs, "--unisafe-suite=s.jsonl")
    assert ids[:3] == ["s::TT::暴力-01", "s::TT::仇恨-01", "s::TT::Größe"]
    assert ids[3].startswith("s::TT::x_y~") and len(ids) == 4


def test_strict_markers_with_a_fixed_marker_the_suite_lacks(runs: pytest.Pytester) -> None:
    write_suite(runs.path / "s.jsonl", [instance("r1", risky=True)])
    result = runs.runpytest(*MODEL_ARGS, "--unisafe-suite=s.jsonl", "--strict-markers",
                            "-m", "unisafe_benign or unisafe_task_TI", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED, result.stderr.str()
    result.assert_outcomes(deselected=1)
