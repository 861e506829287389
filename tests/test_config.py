"""Config: the seed's block loads unchanged, env overrides apply, mistakes name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.errors import ConfigError

SEED = """\
fallback_tts:
  enabled: true
  model_name: "piper"
  model_path: "models/ru_RU-dmitri-medium.onnx"
  config_path: "models/ru_RU-dmitri-medium.onnx.json"
  sample_rate: 22050
  speed: 1.0
prerender:
  enabled: true
  cache_dir: "cache/tts"
  ttl_seconds: 3600
  common_phrases:
    - "Добрый день!"
    - "Меня зовут администратор медицинского центра."
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_block_loads_unchanged(tmp_path: Path) -> None:
    config = GatewayConfig.load(write(tmp_path, SEED), environ={})
    assert config.fallback_tts.model_path == "models/ru_RU-dmitri-medium.onnx"
    assert config.fallback_tts.sample_rate == 22050
    assert config.prerender.ttl_seconds == 3600
    assert config.prerender.common_phrases[0] == "Добрый день!"
    assert config.routing["ru"][0].engine == "piper"


def test_repo_config_loads() -> None:
    config = GatewayConfig.load(Path("config.yaml"), environ={})
    assert config.primary_tts.voice == "af_heart"
    assert "receptionist" in config.profiles


def test_env_overrides_file(tmp_path: Path) -> None:
    env = {
        "TTS_GATEWAY_STREAMING__LOOKAHEAD": "4",
        "TTS_GATEWAY_PRIMARY_TTS__ENABLED": "false",
        "TTS_GATEWAY_DEFAULT_LANGUAGE": "ru",
        "TTS_GATEWAY_FALLBACK_TTS__SPEED": "1.2",
        "UNRELATED": "x",
    }
    config = GatewayConfig.load(write(tmp_path, SEED), environ=env)
    assert config.streaming.lookahead == 4
    assert config.primary_tts.enabled is False
    assert config.default_language == "ru"
    assert config.fallback_tts.speed == 1.2


def test_env_strings_stay_strings_where_a_string_is_wanted(tmp_path: Path) -> None:
    config = GatewayConfig.load(write(tmp_path, SEED), environ={"TTS_GATEWAY_API_KEY": "12345"})
    assert config.server.api_key == "12345"
    env = {"TTS_GATEWAY_PRIMARY_TTS__VOICE": "true"}
    assert GatewayConfig.load(write(tmp_path, SEED), environ=env).primary_tts.voice == "true"


def test_env_names_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, "default_language: ru\n")
    assert GatewayConfig.load(environ={"TTS_GATEWAY_CONFIG": str(path)}).default_language == "ru"


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        (SEED + "unknown_section: 1\n", {}, "unknown_section"),
        (SEED.replace("speed: 1.0", "speed: 1.0\n  sped: 2"), {}, "fallback_tts.sped"),
        (SEED.replace("ttl_seconds: 3600", "ttl_seconds: soon"), {}, "prerender.ttl_seconds"),
        (SEED.replace("enabled: true", "enabled: 5", 1), {}, "fallback_tts.enabled"),
        (SEED, {"TTS_GATEWAY_STREAMING__LOOKAHED": "3"}, "streaming.lookahed"),
        (SEED, {"TTS_GATEWAY_STREAMING__LOOKAHEAD": "many"}, "streaming.lookahead"),
        ("routing:\n  en:\n    - voice: af_heart\n", {}, "routing.en[0]"),
        ("- just\n- a list\n", {}, "top level"),
    ],
)
def test_mistakes_are_rejected_naming_the_key(
    tmp_path: Path, text: str, env: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        GatewayConfig.load(write(tmp_path, text), environ=env)
