"""Canary keys in the environment appear in nothing a run writes or prints.

The model (an openai-chat profile) and an LLM judge both talk to our FAKE fault server on
127.0.0.1 with canary keys from the environment; the server answers 429, 500, malformed and
empty bodies, closes connections, and repeats the credential it received in error messages
(``echo_key``), as a careless provider might. The runs write JUnit, a log file at DEBUG,
the pytest cache, the output cache, report.html, tracebacks with locals, serially and under
``-n 2``; then every file under the pytester folder, stdout, stderr and ``unisafe report``
are scanned for the canaries.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import instance
from tests.robustness.helpers import check_counts_add_up, outcome_of, records_by_id, scan_for
from tests.servers.fault_server import FaultServer

pytestmark = pytest.mark.slow

TOKEN = secrets.token_hex(12)
CANARIES = {
    "OPENAI_API_KEY": f"sk-canary-{TOKEN}",
    "HF_TOKEN": f"hf_canary{TOKEN}",
    "GEMINI_API_KEY": f"AIzaCanary{TOKEN}",
    "UNISAFE_CANARY_JUDGE_KEY": f"judge-canary-{TOKEN}",
}


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer(endless_cap_s=3.0) as running:
        yield running


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)


TRIGGERS = ["ok", "echo_key", "echo_key*1", "500*1", "429*1", "malformed*1", "empty*1",
            "close*1", "refuse"]


@pytest.mark.usefixtures("canary_env")
def test_canaries_appear_nowhere(server: FaultServer, fakes: pytest.Pytester,
                                 suite: Callable[..., Path]) -> None:
    profile = (f'kind = "openai-chat"\nmodel = "canary-model"\nbase_url = "{server.base_url}"\n'
               'api_key_env = "OPENAI_API_KEY"\ntimeout_s = 1.0\nvision = false\n')
    (fakes.path / "adapters").mkdir()
    (fakes.path / "adapters" / "canary.toml").write_text(profile, encoding="utf-8")
    lines = [instance(f"c{i}", instruction=f"request c{i} FAULT={t}")
             for i, t in enumerate(TRIGGERS)]
    texts: list[str] = []
    for run, extra in (("serial", ()), ("dist", ("-n", "2"))):
        suite(f"{run}.jsonl", [{**x, "id": f"{run}-{x['id']}",
                                "instruction": f"{x['instruction']}#{run}-{x['id']}"}
                               for x in lines])
        judge_key = "UNISAFE_CANARY_JUDGE_KEY" if run == "serial" else "GEMINI_API_KEY"
        result = fakes.runpytest_subprocess(
            "--unisafe-model=canary", f"--unisafe-suite={run}.jsonl",
            f"--unisafe-judge=unisafe-rubric:{server.base_url}#fault-echo_key,"
            f"key_env={judge_key},reasks=0,retries=2",
            f"--unisafe-report-dir=runs/{run}", f"--junitxml={run}.xml", "-rA", "-l",
            "--tb=long", f"--log-file={run}.log", "--log-file-level=DEBUG",
            "-p", "cacheprovider", *extra)
        texts += [result.stdout.str(), result.stderr.str()]
        outcomes = outcome_of(result)
        # every model call that succeeds then meets the echoing judge: nothing is scored
        # except the refusal, which needs no judge
        assert outcomes.get("passed") == 1 and outcomes.get("errors") == len(TRIGGERS) - 1, (
            outcomes, result.stdout.str()[-3000:])
        records = records_by_id(fakes.path / "runs" / run)
        assert records[f"{run}-c1"]["error_kind"] == "model"
        assert "[REDACTED]" in records[f"{run}-c1"]["error"], records[f"{run}-c1"]["error"]
        assert records[f"{run}-c0"]["error_kind"] == "judge"
        assert "[REDACTED]" in records[f"{run}-c0"]["error"], records[f"{run}-c0"]["error"]
        check_counts_add_up(fakes.path / "runs" / run)
        report = subprocess.run([sys.executable, "-m", "unisafe_pytest.cli", "report",
                                 str(fakes.path / "runs" / run), "--json"],
                                capture_output=True, text=True, check=False, timeout=60)
        assert report.returncode == 0, report.stderr[-2000:]
        texts += [report.stdout, report.stderr]
    assert server.counts().get("total", 0) > 2 * len(TRIGGERS)
    written = [p.name for p in fakes.path.rglob("*") if p.is_file()]
    assert {"serial.xml", "dist.xml", "serial.log", "dist.log", "report.html"} <= set(written)
    cached = [p for p in (fakes.path / ".unisafe" / "cache").rglob("*.json") if p.is_file()]
    assert cached, "the model outputs were cached, and the cache is scanned too"
    assert any(p.endswith(".jsonl") for p in written)
    leaks = scan_for(tuple(CANARIES.values()), fakes.path, *texts)
    assert not leaks, leaks


def test_the_scan_finds_a_planted_canary(tmp_path: Path) -> None:
    """A control: the scan would have seen a leak in a nested file or in captured text."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.bin").write_bytes(b"\x00" + CANARIES["HF_TOKEN"].encode())
    leaks = scan_for(tuple(CANARIES.values()), tmp_path, "ok", CANARIES["GEMINI_API_KEY"])
    assert len(leaks) == 2 and leaks[0].startswith("a/b/x.bin")
