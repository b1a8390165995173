"""Settings: defaults, env and `.env`, the generated API token, and errors that name the key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from secretgpt.config import ConfigError, Settings, TypingSpeed, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(_env_file=None, data_dir=tmp_path)
    assert (s.host, s.port) == ("127.0.0.1", 8080)
    assert s.streaming_enabled is True
    assert s.max_concurrent_streams == 5
    assert s.stream_timeout == 300
    assert s.stream_idle_timeout < s.stream_first_token_timeout <= s.stream_timeout
    assert s.streaming_chunk_size == 1
    assert s.typing_speed is TypingSpeed.FAST
    assert (s.think_color, s.think_emoji) == ("#00bcd4", "🧠")
    assert s.demo_mode, "no SECRET_AI_API_KEY: the offline demo model"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_STREAMS", "7")
    monkeypatch.setenv("STREAMING_ENABLED", "false")
    monkeypatch.setenv("SECRETGPT_PORT", "9000")
    monkeypatch.setenv("TYPING_SPEED", "natural")
    monkeypatch.setenv("SECRETGPT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_AI_API_KEY", "a-key")
    s = load_settings(_env_file=None)
    assert (s.max_concurrent_streams, s.streaming_enabled, s.port) == (7, False, 9000)
    assert s.typing_speed is TypingSpeed.NATURAL and s.data_dir == tmp_path
    assert not s.demo_mode


def test_dotenv_file_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("STREAM_TIMEOUT=42   # a comment\nMAX_CONCURRENT_STREAMS=3\n", encoding="utf-8")
    monkeypatch.setenv("MAX_CONCURRENT_STREAMS", "4")
    s = load_settings(_env_file=env_file)
    assert (s.stream_timeout, s.max_concurrent_streams) == (42, 4)


def test_env_example_documents_every_setting_and_is_valid() -> None:
    example = ROOT / ".env.example"
    documented = {line.lstrip("# ").split("=", 1)[0] for line in example.read_text(encoding="utf-8").splitlines()
                  if "=" in line}
    keys = {str(f.validation_alias.choices[0]) for f in Settings.model_fields.values()}  # type: ignore[union-attr]
    assert keys - documented == set()
    # Copied to .env as it is, it gives the documented defaults.
    s = load_settings(_env_file=example)
    assert (s.max_concurrent_streams, s.think_color, s.think_emoji) == (5, "#00bcd4", "🧠")


def test_blank_key_means_demo_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_AI_API_KEY", "   ")
    monkeypatch.setenv("SECRET_AI_URL", "")
    s = load_settings(_env_file=None, data_dir=tmp_path)
    assert s.demo_mode and s.secret_ai_url is None


@pytest.mark.parametrize(("key", "value"), [
    ("MAX_CONCURRENT_STREAMS", "0"),
    ("MAX_CONCURRENT_STREAMS", "many"),
    ("STREAM_TIMEOUT", "-1"),
    ("STREAM_IDLE_TIMEOUT", "0"),
    ("STREAM_FIRST_TOKEN_TIMEOUT", "soon"),
    ("STREAMING_CHUNK_SIZE", "0"),
    ("STREAMING_ENABLED", "maybe"),
    ("SECRETGPT_PORT", "70000"),
    ("TYPING_SPEED", "warp"),
    ("THINK_COLOR", "cyan"),
    ("MAX_MESSAGE_CHARS", "0"),
])
def test_invalid_values_name_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str, value: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, data_dir=tmp_path)
    message = str(caught.value)
    assert f"{key}:" in message and repr(value) in message


def test_invalid_overrides_name_the_env_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, data_dir=tmp_path, max_concurrent_streams=0, stream_timeout=0)
    message = str(caught.value)
    assert "MAX_CONCURRENT_STREAMS:" in message and "STREAM_TIMEOUT:" in message


def test_main_refuses_to_start_with_a_bad_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_AI_API_KEY", "PYTHONPATH")}
    env["MAX_CONCURRENT_STREAMS"] = "-3"
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "MAX_CONCURRENT_STREAMS" in result.stderr


def test_api_token_is_generated_once_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = load_settings(_env_file=None, data_dir=data).resolved_api_token()
    again = load_settings(_env_file=None, data_dir=data).resolved_api_token()
    assert first == again and len(first) >= 32
    path = data / "api_token"
    assert path.read_text(encoding="utf-8").strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = load_settings(_env_file=None, data_dir=tmp_path / "elsewhere").resolved_api_token()
    assert other != first


def test_api_token_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRETGPT_API_TOKEN", "my-own-token")
    assert load_settings(_env_file=None, data_dir=tmp_path).resolved_api_token() == "my-own-token"
    assert not (tmp_path / "api_token").exists()


def test_protocol_and_host_url(tmp_path: Path) -> None:
    s = load_settings(_env_file=None, data_dir=tmp_path)
    assert s.secret_ai_protocol == "auto" and s.default_system_prompt == ""
    s = load_settings(_env_file=None, data_dir=tmp_path, secret_ai_protocol=" OpenAI ",
                      secret_ai_url="https://host.example:21434/v1/")
    assert s.secret_ai_protocol == "openai"
    assert s.secret_ai_url == "https://host.example:21434"  # a pasted OpenAI base URL names the host
    with pytest.raises(ConfigError, match="SECRET_AI_PROTOCOL"):
        load_settings(_env_file=None, data_dir=tmp_path, secret_ai_protocol="grpc")
