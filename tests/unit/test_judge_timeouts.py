"""A judge's timeout names the setting that applies (issue 15, part 4).

Class: a timeout's advice pointed at "timeout_s in the profile" even for a URL judge, which
has no profile and (on the old code, dd7bba9) no way to set its timeout. Now the judge option
``timeout_s=N`` sets it (over a judge profile's key) and the message names the option, the
profile's key, or the default with the option to add. Real HTTP to a slow fake server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.latency_server import LatencyServer
from unisafe_pytest.errors import ConfigError, JudgeError
from unisafe_pytest.judges.backends import Message, backend_options, make_backend, split_options


def ask(spec: str, base_dir: Path) -> str:
    target, options = split_options(spec, "unisafe-rubric")
    backend = make_backend(target, base_dir=base_dir,
                           options=backend_options(options, max_tokens=64), env={})
    try:
        with pytest.raises(JudgeError) as caught:
            backend.complete([Message.text("user", "hello")], json_mode=False)
    finally:
        backend.close()
    return str(caught.value)


def test_a_url_judge_takes_the_timeout_option_and_its_message_names_it(tmp_path: Path) -> None:
    with LatencyServer(latency=1.5) as server:
        message = ask(f"{server.base_url}#m,timeout_s=0.3,retries=1", tmp_path)
    assert "timed out after 0.3s (the judge option timeout_s=0.3)" in message
    assert "raise the judge option timeout_s" in message
    assert "in the profile" not in message
    assert server.base_url not in message


def test_a_url_judge_without_the_option_is_told_to_add_it(tmp_path: Path) -> None:
    target, options = split_options("http://127.0.0.1:9/v1#m", "unisafe-rubric")
    backend = make_backend(target, base_dir=tmp_path,
                           options=backend_options(options, max_tokens=64), env={})
    try:
        advice = backend.deadline.timeout_advice()  # type: ignore[attr-defined]
    finally:
        backend.close()
    assert "the judges' default, 120s" in advice and "timeout_s=N" in advice
    assert "in the profile" not in advice


def test_a_judge_profiles_timeout_names_the_profile_and_the_option_wins(
    tmp_path: Path,
) -> None:
    with LatencyServer(latency=1.5) as server:
        folder = tmp_path / "adapters"
        folder.mkdir()
        (folder / "slowjudge.toml").write_text(
            f'kind = "openai-chat"\nmodel = "m"\nbase_url = "{server.base_url}"\n'
            'api_key_env = ""\ntimeout_s = 0.3\n')
        message = ask("slowjudge,retries=1", tmp_path)
        assert "(timeout_s in the judge profile 'slowjudge')" in message
        assert "adapters/slowjudge.toml" in message
        overridden = ask("slowjudge,retries=1,timeout_s=0.4", tmp_path)
        assert "timed out after 0.4s (the judge option timeout_s=0.4)" in overridden


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "4000"])
def test_a_bad_timeout_option_is_a_config_error(value: str) -> None:
    _, options = split_options(f"http://127.0.0.1:9/v1#m,timeout_s={value}", "unisafe-rubric")
    with pytest.raises(ConfigError, match=f"timeout_s={value!r}"):
        backend_options(options, max_tokens=64)
