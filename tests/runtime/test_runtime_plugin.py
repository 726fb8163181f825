"""Cache, resume, the cross-worker limit, 429 storms and hung servers, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import instance, run_records, write_suite
from tests.servers.fault_server import FaultServer
from tests.servers.latency_server import LatencyServer

pytestmark = pytest.mark.slow


def profile(pytester: pytest.Pytester, base_url: str, **extra: object) -> list[str]:
    """A model profile aimed at a loopback server; returns the pytest arguments using it."""
    folder = pytester.path / "profiles"
    folder.mkdir(exist_ok=True)
    lines = ['kind = "openai-chat"', 'model = "fake-chat"', f'base_url = "{base_url}"',
             'api_key_env = ""', "vision = false"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    (folder / "loop.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["--unisafe-profiles=profiles", "--unisafe-model=loop",
            "--unisafe-judge=python:fakes:make_judge"]


def suite_of(pytester: pytest.Pytester, n: int) -> str:
    write_suite(pytester.path / "s.jsonl", [instance(f"i{k:03d}") for k in range(n)])
    return "--unisafe-suite=s.jsonl"


def test_rerun_calls_no_model_and_no_judge(fakes: pytest.Pytester,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    log = fakes.path / "judge.log"
    monkeypatch.setenv("FAKE_JUDGE_LOG", str(log))
    with LatencyServer(latency=0.01) as server:
        args = [*profile(fakes, server.base_url), suite_of(fakes, 12)]
        first = fakes.runpytest_subprocess(*args, "-p", "no:cacheprovider")
        first.assert_outcomes(passed=12)
        first.stdout.fnmatch_lines(["*pre-flight: 12 instances; 12 model calls needed*"])
        assert server.state.total == 12
        assert len(log.read_text().splitlines()) == 12
        second = fakes.runpytest_subprocess(*args, "-n", "2", "-p", "no:cacheprovider")
        second.assert_outcomes(passed=12)
        assert server.state.total == 12  # nothing asked again, whatever the worker count
        assert len(log.read_text().splitlines()) == 12
    second.stdout.fnmatch_lines(["*pre-flight: 12 instances; 0 model calls needed "
                                 "(12 outputs cached)*"])


def test_a_miss_says_what_changed(fakes: pytest.Pytester) -> None:
    with LatencyServer() as server:
        suite = suite_of(fakes, 2)
        fakes.runpytest_subprocess(*profile(fakes, server.base_url), suite,
                                   "--unisafe-report-dir=first").assert_outcomes(passed=2)
        hotter = profile(fakes, server.base_url, temperature=0.7)
        fakes.runpytest_subprocess(*hotter, suite, "--unisafe-report-dir=second")
        assert server.state.total == 4
    first = [json.loads(x) for x in (fakes.path / "first" / "records.jsonl").read_text()
             .splitlines()]
    second = [json.loads(x) for x in (fakes.path / "second" / "records.jsonl").read_text()
              .splitlines()]
    assert [r["cache"]["output"] for r in first] == ["miss", "miss"]
    assert first[0]["cache"]["why"] == "this instance was never stored"
    assert second[0]["cache"]["output"] == "miss"
    assert "temperature: 0.0 -> 0.7" in second[0]["cache"]["why"]


def test_replay_only_cache_makes_a_miss_an_error(fakes: pytest.Pytester) -> None:
    with LatencyServer() as server:
        args = [*profile(fakes, server.base_url), suite_of(fakes, 2)]
        result = fakes.runpytest_subprocess(*args, "--unisafe-cache=replay-only")
        result.assert_outcomes(errors=2)
        result.stdout.fnmatch_lines(["*MODEL ERROR TT i000: CacheMiss: replay-only cache*"])
        assert server.state.total == 0


def test_max_calls_refuses_to_start(fakes: pytest.Pytester) -> None:
    with LatencyServer() as server:
        args = [*profile(fakes, server.base_url), suite_of(fakes, 5)]
        result = fakes.runpytest_subprocess(*args, "--unisafe-max-calls=6")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*needs up to 10 model + judge calls*"
                                     "--unisafe-max-calls=6*"])
        assert server.state.total == 0


def test_in_flight_never_above_the_limit_under_two_workers(fakes: pytest.Pytester) -> None:
    with LatencyServer(latency=0.05) as server:
        args = [*profile(fakes, server.base_url), suite_of(fakes, 40)]
        result = fakes.runpytest_subprocess(*args, "-n", "2", "--unisafe-concurrency=3",
                                            "--unisafe-cache=off")
        result.assert_outcomes(passed=40)
        assert server.state.total == 40
        assert server.state.peak <= 3
        assert server.state.peak >= 2  # the pipeline did overlap calls


def test_work_stealing_asks_no_instance_twice(fakes: pytest.Pytester) -> None:
    """Under -n 2 the plugin's default --dist worksteal moves the tail of a busy worker's
    queue to an idle one; a worker prefetches only the half of its queue a steal leaves it,
    so no stolen instance's model call is made by both workers (every prompt asked once),
    and the look-ahead still overlaps calls."""
    with LatencyServer(latency=0.03) as server:
        args = [*profile(fakes, server.base_url), suite_of(fakes, 120)]
        result = fakes.runpytest_subprocess(*args, "-n", "2", "--unisafe-concurrency=16",
                                            "--unisafe-cache=off", "-v")
        result.assert_outcomes(passed=120)
        result.stdout.fnmatch_lines(["*scheduling tests via WorkStealingScheduling*"])
        assert max(server.state.prompts.values()) == 1
        assert server.state.total == 120
        assert server.state.peak >= 4


def test_a_429_storm_completes_without_errors(fakes: pytest.Pytester) -> None:
    with LatencyServer(latency=0.005, error_rate=0.34) as server:
        args = [*profile(fakes, server.base_url), suite_of(fakes, 30)]
        result = fakes.runpytest_subprocess(*args, "--unisafe-concurrency=4",
                                            "--unisafe-cache=off")
        result.assert_outcomes(passed=30)
        assert server.state.limited >= 10


def test_a_hung_server_ends_in_an_error_within_the_timeout(fakes: pytest.Pytester) -> None:
    with FaultServer(endless_cap_s=60) as server:
        args = [*profile(fakes, server.base_url, timeout_s=1)]
        write_suite(fakes.path / "s.jsonl", [instance("h", instruction="FAULT=stall")])
        started = time.monotonic()
        result = fakes.runpytest_subprocess(*args, "--unisafe-suite=s.jsonl",
                                            "--unisafe-cache=off", timeout=50)
        elapsed = time.monotonic() - started
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*MODEL ERROR TT h:*"])
    assert elapsed < 40


def test_kill_9_then_rerun_repeats_no_finished_instance(
    fakes: pytest.Pytester, suite: Callable[..., Path]
) -> None:
    with LatencyServer(latency=0.05) as server:
        args = [*profile(fakes, server.base_url), suite_of(fakes, 60)]
        command = [sys.executable, "-m", "pytest", *args, "--unisafe-concurrency=2",
                   "--unisafe-report-dir=killed", "-p", "no:cacheprovider"]
        proc = subprocess.Popen(command, cwd=fakes.path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while server.state.total < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        calls_before = dict(server.state.prompts)
        finished = {json.loads(line)["id"]
                    for file in (fakes.path / "killed" / "records").glob("*.jsonl")
                    for line in file.read_text().splitlines() if line.endswith("}")}
        assert 10 <= len(finished) < 60
        rerun = fakes.runpytest_subprocess(*args, "-n", "2", "-p", "no:cacheprovider")
        rerun.assert_outcomes(passed=60)
        repeated = {p for p, n in server.state.prompts.items() if n > 1}
    assert not {f"request {i}" for i in finished} & repeated
    # only calls in flight at the kill (at most the limit, 2) may be asked twice
    assert len(repeated) <= 2, (repeated, calls_before)
    assert all(r["outcome"] == "passed" for r in run_records(fakes.path))
