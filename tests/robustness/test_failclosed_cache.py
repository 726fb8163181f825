"""Issue 11, class 6: stale or edited cache entries are never trusted.

- Every setting of every adapter kind is in the output key: changing any one key of a
  profile (each key of each adapter's ``KEYS``) changes it. On the old code ``extra_body``
  values (only their names were keyed), Gemini's ``generation_config``, ``base_url_env``'s
  value and others gave the same key: a guardrail switched off in ``extra_body`` or
  ``generation_config`` was a cache hit with the old, guarded output, and the run passed.
- A verdict entry whose label was flipped by hand (with or without its digest made to
  match), an output entry whose text was edited, and a verdict entry with no rows are
  misses: the model or judge is asked again and the instance fails as it should. On the old
  code the flipped label and the edited text passed, and the rowless entry was an error.
- A judge profile whose URL differs only in its query (another deployment) is another
  judge for the verdict key; the old code keyed the URL without its query.

Each end-to-end test here failed on the old code (dd7bba9), checked in an old worktree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import instance
from tests.robustness.helpers import outcome_of
from tests.robustness.provider_echo import EchoProvider
from unisafe_pytest.adapters import gemini, openai_chat, openai_images
from unisafe_pytest.adapters.profiles import META_KEYS
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.runtime.instance import RunContext
from unisafe_pytest.schema import Instance

ENV = {"KEY_A": "key-aaaaaaaaaaaa", "KEY_B": "key-bbbbbbbbbbbb",
       "URL_A": "http://a.example/v1", "URL_B": "http://a.example/v1?api-version=2",
       "OPENAI_API_KEY": "sk-test-0000000000", "GEMINI_API_KEY": "AIza-test-00000000000000"}
PAIRS: dict[str, tuple[Any, Any]] = {
    "model": ("m1", "m2"),
    "base_url": ("http://a.example/v1", "http://a.example/v1?guard=off"),
    "base_url_env": ("URL_A", "URL_B"),
    "api_key_env": ("KEY_A", "KEY_B"),
    "timeout_s": (30, 60),
    "max_reply_mb": (16, 32),
    "temperature": (0.0, 0.7),
    "max_tokens": (100, 200),
    "seed": (0, 1),
    "top_p": (0.5, 0.9),
    "system_prompt": ("Be safe.", "Be helpful."),
    "vision": (True, False),
    "image_output": (False, True),
    "max_input_images": (1, 2),
    "extra_body": ({"guardrail": "on"}, {"guardrail": "off"}),
    "aspect_ratio": ("1:1", "16:9"),
    "safety_settings": ([{"category": "HARM_CATEGORY_X", "threshold": "BLOCK_LOW_AND_ABOVE"}],
                        [{"category": "HARM_CATEGORY_X", "threshold": "BLOCK_NONE"}]),
    "generation_config": ({"guard": "on"}, {"guard": "off"}),
    "size": ("256x256", "512x512"),
    "quality": ("low", "high"),
    "output_format": ("png", "jpeg"),
    "background": ("auto", "transparent"),
    "moderation": ("auto", "low"),
    "response_format": ("b64_json", "url"),
    "input_fidelity": ("low", "high"),
    "edits": (True, False),
    "profile": ("p1", "p2"),
    "mt_protocol": ("chain", "session"),
    "it_prompt": ("Do what the image says.", "Describe the image."),
    "audio_input": (False, True),
    "audio_output": (False, True),
    "video_input": (False, True),
    "voice": ("alloy", "verse"),
}
NOT_SHAPING = {"max_connections", "spec", "description"}
"""Keys that change how calls are made or only label the profile, never the request."""
ADAPTERS: dict[str, Any] = {"openai-chat": openai_chat.OpenAIChatAdapter,
            "openai-images": openai_images.OpenAIImagesAdapter,
            "gemini": gemini.GeminiAdapter}
ONLY = {("openai-images", "mt_protocol")}  # one choice only: nothing to change
CASES = [(kind, key) for kind, cls in ADAPTERS.items()
         for key in sorted(set(cls.KEYS) | META_KEYS)
         if key not in NOT_SHAPING and (kind, key) not in ONLY]


def output_key(kind: str, settings: dict[str, Any], tmp_path: Path) -> str:
    adapter = ADAPTERS[kind]("", {"model": "m1", **settings}, env=ENV)
    run = RunContext(adapter=adapter, panel=JudgePanel([]), output_dir=tmp_path,
                     model="m")
    item = Instance(suite="s", id="i1", task="TT", category="Hate", instruction="request")
    return run.output_keys().key(item, 0)


def test_every_key_has_a_pair_of_values() -> None:
    missing = sorted({key for _, key in CASES} - set(PAIRS))
    assert not missing, f"add a pair of values for {missing} to PAIRS"


@pytest.mark.parametrize(("kind", "key"), CASES)
def test_changing_any_setting_changes_the_output_key(kind: str, key: str,
                                                     tmp_path: Path) -> None:
    before, after = PAIRS[key]
    first, second = {key: before}, {key: after}
    assert output_key(kind, first, tmp_path) != output_key(kind, second, tmp_path), (
        f"{kind}: {key} = {before!r} and {key} = {after!r} share a cache entry")


def test_a_nested_value_change_changes_the_output_key(tmp_path: Path) -> None:
    deep = {"guardrails": {"input": ["pii", "jailbreak"], "output": ["toxicity"]}}
    deeper = {"guardrails": {"input": ["pii"], "output": ["toxicity"]}}
    assert output_key("openai-chat", {"extra_body": deep}, tmp_path) != output_key(
        "openai-chat", {"extra_body": deeper}, tmp_path)
    assert output_key("gemini", {"generation_config": {"thinkingConfig": {"budget": 0}}},
                      tmp_path) != output_key(
        "gemini", {"generation_config": {"thinkingConfig": {"budget": 64}}}, tmp_path)


def test_a_changed_key_value_alone_is_no_miss(tmp_path: Path) -> None:
    """The API key is no setting: the same request with another key is the same entry, and
    neither the key nor its variable's value is in the key material."""
    env_a = {**ENV, "OPENAI_API_KEY": "sk-first-111111111"}
    env_b = {**ENV, "OPENAI_API_KEY": "sk-second-22222222"}
    keys = []
    for env in (env_a, env_b):
        adapter = openai_chat.OpenAIChatAdapter("", {"model": "m1"}, env=env)
        run = RunContext(adapter=adapter, panel=JudgePanel([]), output_dir=tmp_path,
                     model="m")
        item = Instance(suite="s", id="i1", task="TT", category="Hate", instruction="x")
        keys.append(run.output_keys().key(item, 0))
        material = json.dumps(run.output_keys().material(item, 0))
        assert env["OPENAI_API_KEY"] not in material
    assert keys[0] == keys[1]


# ------------------------------------------------------------------ end to end
MODEL_KEY = "model-key-0123456789abcdef"
JUDGE_KEY = "judge-key-fedcba9876543210"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[EchoProvider]:
    monkeypatch.setenv("ECHO_MODEL_KEY", MODEL_KEY)
    monkeypatch.setenv("ECHO_JUDGE_KEY", JUDGE_KEY)
    with EchoProvider() as server:
        yield server


def profile(root: Path, base_url: str, **settings: str) -> None:
    """``adapters/echo.toml``; each extra setting is TOML text (``extra_body='{...}'``)."""
    lines = ['kind = "openai-chat"', 'model = "echo-model"', f'base_url = "{base_url}/v1"',
             'api_key_env = "ECHO_MODEL_KEY"', "vision = false", "timeout_s = 5",
             *[f"{k} = {v}" for k, v in settings.items()]]
    (root / "adapters").mkdir(exist_ok=True)
    (root / "adapters" / "echo.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(fakes: pytest.Pytester, server: EchoProvider, model: str = "echo"
        ) -> tuple[pytest.RunResult, dict[str, int]]:
    result = fakes.runpytest_subprocess(
        f"--unisafe-model={model}", "--unisafe-suite=s.jsonl", "-p", "no:cacheprovider",
        f"--unisafe-judge=unisafe-rubric:{server.base_url}/v1#quote-judge,"
        "key_env=ECHO_JUDGE_KEY,reasks=0,retries=1")
    outcome = outcome_of(result)
    outcome.pop("warnings", None)
    return result, outcome


def entries(root: Path, space: str) -> list[Path]:
    return sorted((root / ".unisafe" / "cache" / space).rglob("*.json"))


def rewrite(path: Path, edit: Callable[[dict[str, Any]], None], reseal: bool) -> None:
    """Edit a cache entry; with ``reseal`` make its digest match again (a careful editor)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    if reseal and "digest" in data:
        from unisafe_pytest.runtime.cache import digest

        data.pop("digest")
        data["digest"] = digest(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_switching_a_guardrail_off_in_extra_body_asks_the_model_again(
        provider: EchoProvider, fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance("c1")])
    profile(fakes.path, provider.base_url, extra_body='{ guardrail = "on" }')
    _, first = run(fakes, provider)
    assert first == {"passed": 1}, first  # a refusal
    profile(fakes.path, provider.base_url, extra_body='{ guardrail = "off" }')
    result, second = run(fakes, provider)
    assert provider.calls("echo-model") == 2, "the changed extra_body was a cache hit"
    assert second == {"failed": 1}, (second, result.stdout.str()[-2000:])


def test_switching_a_guard_off_in_gemini_generation_config_asks_the_model_again(
        provider: EchoProvider, fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance("c1")])
    lines = ['kind = "gemini"', 'model = "echo-gemini"', f'base_url = "{provider.base_url}/v1beta"',
             'api_key_env = "ECHO_MODEL_KEY"', "vision = false", "timeout_s = 5"]
    (fakes.path / "adapters").mkdir(exist_ok=True)
    for guard, expected in (("on", {"passed": 1}), ("off", {"failed": 1})):
        (fakes.path / "adapters" / "gem.toml").write_text(
            "\n".join([*lines, f'generation_config = {{ guard = "{guard}" }}']) + "\n",
            encoding="utf-8")
        result, outcome = run(fakes, provider, model="gem")
        assert outcome == expected, (guard, outcome, result.stdout.str()[-2000:])
    assert provider.calls("echo-gemini") == 2


@pytest.mark.parametrize("reseal", [False, True], ids=["edited", "edited-and-resealed"])
def test_a_hand_flipped_verdict_is_judged_again(
        provider: EchoProvider, fakes: pytest.Pytester, suite: Callable[..., Path],
        reseal: bool) -> None:
    suite("s.jsonl", [instance("c1")])
    profile(fakes.path, provider.base_url)
    _, first = run(fakes, provider)
    assert first == {"failed": 1}, first
    [verdict] = entries(fakes.path, "verdicts")

    def flip(data: dict[str, Any]) -> None:
        for row in data["rows"]:
            row.update({"judgment": 0, "risk_rating": 1, "reasoning": "harmless"})

    rewrite(verdict, flip, reseal)
    result, second = run(fakes, provider)
    assert second == {"failed": 1}, (second, result.stdout.str()[-2000:])
    assert provider.calls("quote-judge") == 2, "the flipped verdict was trusted"
    assert "untrusted cache entry" in result.stdout.str()
    if reseal:  # the digest matches: the raw answer read again is what tells
        assert "labels differ from its raw answer" in result.stdout.str()
    assert provider.calls("echo-model") == 1  # the output entry was fine


def test_an_edited_output_is_asked_again(
        provider: EchoProvider, fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance("c1")])
    profile(fakes.path, provider.base_url)
    _, first = run(fakes, provider)
    assert first == {"failed": 1}, first
    [output] = entries(fakes.path, "outputs")

    def soften(data: dict[str, Any]) -> None:
        data["output"]["text"] = "I'm sorry, but I can't help with that."

    rewrite(output, soften, reseal=False)
    result, second = run(fakes, provider)
    assert second == {"failed": 1}, (second, result.stdout.str()[-2000:])
    assert provider.calls("echo-model") == 2, "the edited output was trusted"
    assert "untrusted cache entry" in result.stdout.str()


def test_a_verdict_entry_without_rows_is_a_miss(
        provider: EchoProvider, fakes: pytest.Pytester, suite: Callable[..., Path]) -> None:
    suite("s.jsonl", [instance("c1")])
    profile(fakes.path, provider.base_url)
    run(fakes, provider)
    [verdict] = entries(fakes.path, "verdicts")
    rewrite(verdict, lambda data: data.update(rows=[]), reseal=True)
    result, second = run(fakes, provider)
    assert second == {"failed": 1}, (second, result.stdout.str()[-2000:])
    assert provider.calls("quote-judge") == 2
    assert "holds no rows" in result.stdout.str()


def test_a_judge_endpoint_change_changes_the_verdict_key(tmp_path: Path) -> None:
    """The judge's request settings are keyed in full too: a judge profile whose URL's query
    names another deployment is another judge (on the old code only the URL without its
    query was keyed, and the verdicts of one deployment were served for the other)."""
    from unisafe_pytest.judges.rubric import make_judge
    from unisafe_pytest.schema import ModelOutput

    item = Instance(suite="s", id="i1", task="TT", category="Hate", instruction="request")
    output = ModelOutput(text="an answer")
    (tmp_path / "adapters").mkdir()
    keys = []
    for deployment in ("guarded", "unguarded"):
        (tmp_path / "adapters" / "jp.toml").write_text(
            'kind = "openai-chat"\nmodel = "j"\napi_key_env = ""\n'
            f'base_url = "http://127.0.0.1:9/v1?deployment={deployment}"\n', encoding="utf-8")
        judge = make_judge("jp", base_dir=tmp_path, settings={})
        run = RunContext(adapter=openai_chat.OpenAIChatAdapter("m1", {}, env=ENV),
                         panel=JudgePanel([judge]), output_dir=tmp_path, model="m")
        keys.append(run.verdict_keys(judge).key("ab" * 32, output, item))
    assert keys[0] != keys[1]
