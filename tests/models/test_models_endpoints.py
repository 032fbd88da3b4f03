"""toolgym.toml endpoint aliases and .env loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolgym.errors import ConfigError, DataError
from toolgym.models import ModelConfig, load_dotenv, load_endpoints, resolve_model
from toolgym.models._pricing import Price

TOML = """
[endpoints.local]
model = "openai/Qwen/Qwen3-8B"
base_url = "http://localhost:8000/v1"
api_key_env = "LOCAL_KEY"
max_concurrency = 16
args = { temperature = 0.0, max_tokens = 512 }

[endpoints.gpt]
model = "openai/gpt-4.1-mini"

[prices."Qwen/Qwen3-8B"]
input = 0.05
output = 0.1
"""


@pytest.fixture
def toml_file(tmp_path: Path) -> Path:
    path = tmp_path / "toolgym.toml"
    path.write_text(TOML)
    return path


def test_alias_resolves_to_config_with_prices(toml_file: Path) -> None:
    eps = load_endpoints(toml_file)
    assert set(eps.endpoints) == {"local", "gpt"}
    assert eps.prices == {"Qwen/Qwen3-8B": Price(0.05, 0.1)}
    cfg = resolve_model("local", eps)
    assert cfg.model == "openai/Qwen/Qwen3-8B" and cfg.base_url == "http://localhost:8000/v1"
    assert cfg.api_key_env == "LOCAL_KEY" and cfg.max_concurrency == 16
    assert cfg.args == {"temperature": 0.0, "max_tokens": 512, "price_in": 0.05,
                        "price_out": 0.1}
    # Resolving does not modify the stored endpoint.
    assert "price_in" not in eps.endpoints["local"].args


def test_overrides_merge_args_and_ignore_none(toml_file: Path) -> None:
    cfg = resolve_model("local", endpoints_file=toml_file, base_url=None, api_key_env=None,
                        args={"temperature": 0.7}, max_retries=2)
    assert cfg.base_url == "http://localhost:8000/v1"
    assert cfg.args["temperature"] == 0.7 and cfg.args["max_tokens"] == 512
    assert cfg.max_retries == 2
    with pytest.raises(ConfigError, match="max_retries"):
        resolve_model("local", endpoints_file=toml_file, max_retries="many")


def test_plain_model_strings_and_configs_pass_through(toml_file: Path) -> None:
    eps = load_endpoints(toml_file)
    assert resolve_model("openai/gpt-4o", eps) == ModelConfig(model="openai/gpt-4o")
    given = ModelConfig(model="scripted", args={"script": []})
    assert resolve_model(given, eps, timeout_s=5).timeout_s == 5


def test_default_file_is_optional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_endpoints().endpoints == {}
    (tmp_path / "toolgym.toml").write_text(TOML)
    assert "local" in load_endpoints().endpoints
    assert resolve_model("gpt").model == "openai/gpt-4.1-mini"


@pytest.mark.parametrize(("text", "match"), [
    ('[endpoints.x]\nmodel = "openai/m"\napi_key = "sk-123"\n', "never put keys"),
    ("[endpoints.x]\nbase_url = 'http://h'\n", "needs a 'model'"),
    ('[endpoints.x]\nmodel = "m"\nmax_concurrency = "lots"\n', "max_concurrency"),
    ('[endpoints.x]\nmodel = "m"\nflavour = 1\n', "flavour"),
    ("[endpoints\n", "invalid TOML"),
    ('[prices.m]\ninput = "free"\n', "price"),
])
def test_bad_files_are_data_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        load_endpoints(path)


def test_missing_named_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.toml: endpoints file not found"):
        load_endpoints(tmp_path / "nope.toml")


def test_dotenv_sets_without_overriding(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n\nA_KEY=plain\nexport B_KEY = 'single quoted # not a comment'\n"
        'C_KEY="double \\"q\\""\nD_KEY=value # trailing comment\nEXISTING=new\nEMPTY=\n'
    )
    env = {"EXISTING": "old"}
    names = load_dotenv(env_file, environ=env)
    assert names == ["A_KEY", "B_KEY", "C_KEY", "D_KEY", "EMPTY"]
    assert env == {"EXISTING": "old", "A_KEY": "plain", "B_KEY": "single quoted # not a comment",
                   "C_KEY": 'double "q"', "D_KEY": "value", "EMPTY": ""}
    assert load_dotenv(tmp_path / "absent.env", environ=env) == []
    bad = tmp_path / "bad.env"
    bad.write_text("just words\n")
    with pytest.raises(DataError, match=r"bad\.env:1"):
        load_dotenv(bad, environ={})


def test_dotenv_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOOLGYM_DOTENV_TEST", raising=False)
    (tmp_path / ".env").write_text("TOOLGYM_DOTENV_TEST=1\n")
    assert load_dotenv() == ["TOOLGYM_DOTENV_TEST"]
    import os

    assert os.environ["TOOLGYM_DOTENV_TEST"] == "1"
    monkeypatch.delenv("TOOLGYM_DOTENV_TEST")
