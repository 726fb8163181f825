"""Issue 11, class 10: a key that comes back in a *successful* answer leaks nowhere.

A FAKE provider (``provider_echo.py``) answers the model's requests with text that quotes the
API key the request carried, and the FAKE judge's reasoning quotes the judge's own key. The
run writes records, the cache, a JUnit file, a DEBUG log and prints with ``-rA -l
--tb=long``; it runs twice (the second from the cache). Neither key may appear in any file,
in stdout or stderr, in ``unisafe report``, nor in any request the judge received (the
model's key was forwarded to the judge inside its prompt). On the old code (dd7bba9), which
redacted error messages only, the keys were in the records, the cache, JUnit and the judge's
request bodies: ``test_keys_in_successful_answers_leak_nowhere`` failed there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import instance
from tests.robustness.helpers import outcome_of, records_by_id, scan_for
from tests.robustness.provider_echo import EchoProvider
from unisafe_pytest.adapters.http import Secret

MODEL_KEY = "model-secret-5f2a9c7e1b3d4a68"
JUDGE_KEY = "judge-secret-0e8b6d4c2a19f735"
HF_TOKEN = "hf_secret3c1d5e7f9a0b2c4d"


def test_keys_in_successful_answers_leak_nowhere(
        fakes: pytest.Pytester, suite: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_MODEL_KEY", MODEL_KEY)
    monkeypatch.setenv("ECHO_JUDGE_KEY", JUDGE_KEY)
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    suite("s.jsonl", [instance("c1", instruction="request c1 echo_key"),
                      instance("c2")])
    texts: list[str] = []
    with EchoProvider() as provider:
        (fakes.path / "adapters").mkdir()
        (fakes.path / "adapters" / "echo.toml").write_text(
            f'kind = "openai-chat"\nmodel = "echo-model"\nbase_url = "{provider.base_url}/v1"\n'
            'api_key_env = "ECHO_MODEL_KEY"\nvision = false\ntimeout_s = 5\n',
            encoding="utf-8")
        for attempt in ("first", "cached"):
            result = fakes.runpytest_subprocess(
                "--unisafe-model=echo", "--unisafe-suite=s.jsonl",
                f"--unisafe-judge=unisafe-rubric:{provider.base_url}/v1#quote-judge,"
                "key_env=ECHO_JUDGE_KEY,reasks=0,retries=1",
                f"--unisafe-report-dir=runs/{attempt}", f"--junitxml={attempt}.xml", "-rA",
                "-l", "--tb=long", f"--log-file={attempt}.log", "--log-file-level=DEBUG",
                "-p", "cacheprovider")
            texts += [result.stdout.str(), result.stderr.str()]
            outcomes = outcome_of(result)
            outcomes.pop("warnings", None)
            assert outcomes == {"failed": 2}, (outcomes, result.stdout.str()[-3000:])
            records = records_by_id(fakes.path / "runs" / attempt)
            assert "[REDACTED]" in records["c1"]["output"]["text"], records["c1"]["output"]
            report = subprocess.run(
                [sys.executable, "-m", "unisafe_pytest.cli", "report",
                 str(fakes.path / "runs" / attempt), "--json"],
                capture_output=True, text=True, check=False, timeout=60)
            texts += [report.stdout, report.stderr]
        judge_bodies = [json.dumps(r["body"]) for r in provider.requests
                        if r["body"].get("model") == "quote-judge"]
        model_bodies = [json.dumps(r["body"]) for r in provider.requests
                        if r["body"].get("model") == "echo-model"]
    assert len(model_bodies) == 2 and len(judge_bodies) == 2, "the second run is cached"
    forwarded = [b for b in judge_bodies if MODEL_KEY in b or HF_TOKEN in b]
    assert not forwarded, "the model's key reached the judge inside its prompt"
    assert not [b for b in model_bodies if JUDGE_KEY in b]
    assert "[REDACTED]" in "".join(judge_bodies)  # the judge saw the answer, key redacted
    written = {p.name for p in fakes.path.rglob("*") if p.is_file()}
    assert {"first.xml", "cached.xml", "first.log", "records.jsonl"} <= written
    assert list((fakes.path / ".unisafe" / "cache" / "verdicts").rglob("*.json"))
    leaks = scan_for((MODEL_KEY, JUDGE_KEY, HF_TOKEN), fakes.path, *texts)
    assert not leaks, leaks


def test_the_run_registry_holds_every_key_the_run_uses(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """The registry finds the adapter's and the judge backend's ``Secret`` objects (wherever
    they hold them) and the credentials of the environment, and redacts them from models."""
    from unisafe_pytest.adapters.openai_chat import OpenAIChatAdapter
    from unisafe_pytest.judges.panel import JudgePanel
    from unisafe_pytest.judges.rubric import make_judge
    from unisafe_pytest.runtime.secrets import SecretRegistry
    from unisafe_pytest.schema import JudgeRow, ModelOutput

    monkeypatch.setenv("JUDGE_ONLY_KEY", JUDGE_KEY)
    adapter = OpenAIChatAdapter("m", {"api_key_env": "MODEL_ONLY"},
                                env={"MODEL_ONLY": MODEL_KEY})
    judge = make_judge("http://127.0.0.1:9/v1#j,key_env=JUDGE_ONLY_KEY", base_dir=tmp_path,
                       settings={})
    registry = SecretRegistry()
    assert registry.collect(adapter, JudgePanel([judge])) == 2
    registry.add_env({"HF_TOKEN": HF_TOKEN, "PATH": "/usr/bin:/bin", "TOKENIZERS": "x" * 20})
    assert set(registry.values()) >= {MODEL_KEY, JUDGE_KEY, HF_TOKEN}
    assert "/usr/bin:/bin" not in registry.values() and "x" * 20 not in registry.values()
    output = ModelOutput(text=f"key {MODEL_KEY}", refusal_reason=f"said {HF_TOKEN}")
    row = JudgeRow(judge="j", judgment=0, reasoning=f"with {JUDGE_KEY}",
                   raw_response=json.dumps({"Reasoning": JUDGE_KEY}))
    clean = registry.scrub([output, row])
    assert not scan_for((MODEL_KEY, JUDGE_KEY, HF_TOKEN), tmp_path,
                        *(m.model_dump_json() for m in clean))
    same = ModelOutput(text="nothing secret")
    assert registry.scrub(same) is same
    registry.add(Secret("short"))  # under the minimum length: ordinary words stay
    assert registry.redact("a short answer") == "a short answer"


def test_judge_backend_answers_come_back_redacted() -> None:
    """What a judge's provider answers (intentions, raw answers) is redacted where it enters
    the run: in the backends' call, before any judge code reads it."""
    from unisafe_pytest.runtime.calls import retried
    from unisafe_pytest.runtime.secrets import RUN_SECRETS

    RUN_SECRETS.add(JUDGE_KEY)
    answer = retried(lambda: {"choices": [{"message": {"content": f"key {JUDGE_KEY}"}}]})
    assert JUDGE_KEY not in json.dumps(answer) and "[REDACTED]" in json.dumps(answer)
