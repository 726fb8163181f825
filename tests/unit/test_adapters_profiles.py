"""Every shipped profile in adapters/ resolves, records its generation settings, hides keys."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from unisafe_pytest.adapters import local
from unisafe_pytest.adapters.http import MIB, Deadline
from unisafe_pytest.adapters.remote import RemoteAdapter
from unisafe_pytest.errors import ConfigError, MissingDependency
from unisafe_pytest.registry.builtin import ADAPTER_FACTORIES, make_adapter
from unisafe_pytest.schema.tasks import BUILTIN_TASKS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted(p.stem for p in (ROOT / "adapters").glob("*.toml"))
BUILTIN = {task.code: task for task in BUILTIN_TASKS}
FAKE_KEYS = {
    "OPENAI_API_KEY": "sk-profile-canary-0123456789",
    "GEMINI_API_KEY": "AIzaProfileCanary0123456789abcdefgh",
}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in FAKE_KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("UNISAFE_VLLM_BASE_URL", "http://127.0.0.1:9/v1")
    gguf = tmp_path / "fake.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(local, "find_gguf", lambda: gguf)


def test_the_required_profiles_ship() -> None:
    assert {"gpt-image-1", "gpt-4o", "gemini-2.5-flash-image", "bagel-vllm", "smollm2",
            "refuse", "echo"} <= set(PROFILES)


@pytest.mark.parametrize("name", PROFILES)
def test_profile_resolves_and_describes(name: str) -> None:
    data = tomllib.loads((ROOT / "adapters" / f"{name}.toml").read_text(encoding="utf-8"))
    assert data["kind"] in ADAPTER_FACTORIES
    if data["kind"] == "local" and importlib.util.find_spec("llama_cpp") is None:
        with pytest.raises(MissingDependency, match=r"unisafe-pytest\[local\]"):
            make_adapter(name, base_dir=ROOT)
        return
    adapter = make_adapter(name, base_dir=ROOT)
    try:
        described = adapter.describe()
        text = json.dumps(described)
        assert described["kind"] == data["kind"]
        assert described["name"] == name
        assert isinstance(described["settings"], dict)
        for value in FAKE_KEYS.values():
            assert value not in text and value not in repr(adapter)
        if data["kind"] not in ("refuse", "echo", "openai-images"):
            for key in ("temperature", "max_tokens", "seed"):
                assert key in described["settings"], (name, key)
        if data["kind"] == "openai-images":
            assert "size" in described["settings"]
        if "model" in data:
            assert described["model"] == data["model"]
    finally:
        adapter.close()


def test_kind_spec_without_profile() -> None:
    adapter = make_adapter("openai-images:gpt-image-1", base_dir=ROOT)
    assert adapter.describe()["model"] == "gpt-image-1"
    assert adapter.describe()["api_key_env"] == "OPENAI_API_KEY"
    adapter.close()


def test_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigError, match=r"\$OPENAI_API_KEY"):
        make_adapter("gpt-4o", base_dir=ROOT)


def test_missing_vllm_address_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNISAFE_VLLM_BASE_URL")
    with pytest.raises(ConfigError, match="UNISAFE_VLLM_BASE_URL"):
        make_adapter("bagel-vllm", base_dir=ROOT)


def test_user_profile_with_a_typo(tmp_path: Path) -> None:
    (tmp_path / "adapters").mkdir()
    (tmp_path / "adapters" / "mine.toml").write_text(
        'kind = "openai-chat"\nmodel = "x"\napi_key_env = ""\nmax_token = 5\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="did you mean 'max_tokens'"):
        make_adapter("mine", base_dir=tmp_path)


def write_profile(folder: Path, timeout: str) -> None:
    (folder / "adapters").mkdir(exist_ok=True)
    (folder / "adapters" / "mine.toml").write_text(
        f'kind = "openai-chat"\nmodel = "x"\napi_key_env = ""\nimage_output = true\n{timeout}\n',
        encoding="utf-8")


@pytest.mark.parametrize(("timeout", "text", "image"), [
    ("timeout_s = { text = 0.5, image = 300 }",
     Deadline(0.5, "timeout_s.text"), Deadline(300.0, "timeout_s.image")),
    ("timeout_s = { image = 300 }", Deadline(120.0, "timeout_s.text"),
     Deadline(300.0, "timeout_s.image")),
    ("timeout_s = 45", Deadline(45.0), Deadline(45.0)),
    ("", Deadline(120.0), Deadline(120.0)),
])
def test_a_call_gets_the_timeout_of_its_output_modality(
    tmp_path: Path, timeout: str, text: Deadline, image: Deadline
) -> None:
    write_profile(tmp_path, timeout)
    adapter = make_adapter("mine", base_dir=tmp_path)
    assert isinstance(adapter, RemoteAdapter)
    for task, expected in (("TT", text), ("TI", image)):
        got = adapter.deadline(BUILTIN[task])
        assert (got.seconds, got.key) == (expected.seconds, expected.key)
    adapter.close()


@pytest.mark.parametrize(("setting", "text", "image"), [
    ("", (16 * MIB, "max_reply_mb.text"), (64 * MIB, "max_reply_mb.image")),
    ("max_reply_mb = 2", (2 * MIB, "max_reply_mb"), (2 * MIB, "max_reply_mb")),
    ("max_reply_mb = { image = 0.5 }", (16 * MIB, "max_reply_mb.text"),
     (MIB // 2, "max_reply_mb.image")),
])
def test_a_call_gets_the_reply_size_limit_of_its_output_modality(
    tmp_path: Path, setting: str, text: tuple[int, str], image: tuple[int, str]
) -> None:
    write_profile(tmp_path, setting)
    adapter = make_adapter("mine", base_dir=tmp_path)
    assert isinstance(adapter, RemoteAdapter)
    for task, expected in (("TT", text), ("TI", image)):
        got = adapter.deadline(BUILTIN[task])
        assert (got.max_bytes, got.size_key) == expected
    adapter.close()


@pytest.mark.parametrize("setting", ["max_reply_mb = 0", "max_reply_mb = true",
                                     "max_reply_mb = { pixels = 3 }", 'max_reply_mb = "big"'])
def test_a_bad_reply_size_limit_is_a_config_error(tmp_path: Path, setting: str) -> None:
    write_profile(tmp_path, setting)
    with pytest.raises(ConfigError, match="max_reply_mb"):
        make_adapter("mine", base_dir=tmp_path)


def test_the_shipped_gemini_profile_waits_longer_for_images() -> None:
    adapter = make_adapter("gemini-2.5-flash-image", base_dir=ROOT)
    assert isinstance(adapter, RemoteAdapter)
    assert adapter.deadline(BUILTIN["IT"]).seconds < adapter.deadline(BUILTIN["TI"]).seconds
    assert adapter.describe()["timeout_s"] == {"text": 90.0, "image": 180.0, "audio": 120.0,
                                              "video": 120.0}
    adapter.close()


@pytest.mark.parametrize(("timeout", "message"), [
    ("timeout_s = { pixels = 600 }", "timeout_s.pixels names no output modality; a timeout "
     "table has the keys text, image, audio, video"),
    ("timeout_s = { text = 60, image = -1 }",
     "timeout_s.image = -1 is not a positive number of seconds"),
    ('timeout_s = "slow"', "timeout_s = 'slow' is not a positive number of seconds"),
    ("timeout_s = 0", "timeout_s = 0 is not a positive number of seconds"),
])
def test_a_bad_timeout_names_the_profile_file_and_key(
    tmp_path: Path, timeout: str, message: str
) -> None:
    write_profile(tmp_path, timeout)
    with pytest.raises(ConfigError) as info:
        make_adapter("mine", base_dir=tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'adapters' / 'mine.toml'}: model profile "
                                      "'mine': ")
    assert message in str(info.value)


def test_audio_and_video_outputs_have_their_own_budgets(tmp_path: Path) -> None:
    """Issue 16: ``timeout_s.audio`` / ``max_reply_mb.audio`` are read (they were config errors,
    and a spoken answer took the image budget); a registered modality uses the image one."""
    from unisafe_pytest.schema.tasks import Task

    write_profile(tmp_path, "timeout_s = { text = 30, image = 60, audio = 200, video = 400 }\n"
                  "max_reply_mb = { audio = 5, video = 300 }")
    adapter = make_adapter("mine", base_dir=tmp_path)
    assert isinstance(adapter, RemoteAdapter)

    def task(output: str) -> Task:
        return Task(code="X", name="x", protocol="unisafe", inputs=frozenset({"text"}),
                    output=output)

    audio, video, other = (adapter.deadline(task(m)) for m in ("audio", "video", "smell"))
    assert (audio.seconds, audio.key, audio.max_bytes) == (200.0, "timeout_s.audio", 5 * MIB)
    assert (video.seconds, video.max_bytes) == (400.0, 300 * MIB)
    assert (other.seconds, other.key) == (60.0, "timeout_s.image")
    adapter.close()
