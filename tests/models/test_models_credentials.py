"""Credentials in endpoint settings are refused, and the refusal never repeats them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from toolgym.cli._app import app
from toolgym.errors import DataError
from toolgym.models import ModelConfig, load_endpoints

KEY = "sk-proj-Zq81xV0a7Kd2Lm5Np9Rt3Wy6"

BAD_URLS = [
    f"http://user:{KEY}@localhost:8000/v1",
    f"https://{KEY}@api.example.com/v1",
    f"https://api.example.com/v1?api_key={KEY}",
    f"https://api.example.com/v1?model=m&key={KEY}",
    f"https://api.example.com/v1?token={KEY}",
    f"https://api.example.com/v1?access_token={KEY}",
    f"https://api.example.com/{KEY}/v1",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_model_config_refuses_credentials_in_base_url(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        ModelConfig(model="openai/x", base_url=url)
    text = str(info.value)
    assert "base_url must not hold credentials" in text and "api_key_env" in text
    assert KEY not in text and "input_value" not in text  # the error does not echo the key


@pytest.mark.parametrize("url", [
    "http://localhost:8000/v1", "https://api.openai.com/v1", "http://[::1]:8000/v1",
    "https://x.openai.azure.com/openai/deployments/d?api-version=2024-02-01",
])
def test_model_config_keeps_plain_base_urls(url: str) -> None:
    assert ModelConfig(model="openai/x", base_url=url).base_url == url


@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {KEY}"}, {"X-Api-Key": KEY}, {"api-key": KEY},
    {"Proxy-Authorization": "Basic dXNlcjpwYXNz"}, {"X-Auth-Token": KEY},
    {"Ocp-Apim-Subscription-Key": KEY}, {"Cookie": f"session={KEY}"},
    {"X-Custom": f"Bearer {KEY}"},
])
def test_secret_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as info:
        ModelConfig(model="openai/x", args={"extra_headers": headers})
    text = str(info.value)
    assert "must not hold secrets" in text and "input_value" not in text and KEY not in text


def test_plain_headers_and_query_parameters_pass() -> None:
    cfg = ModelConfig(model="openai/x", args={
        "extra_headers": {"X-Title": "toolgym", "HTTP-Referer": "https://example.com"},
        "extra_query": {"api-version": "2024-02-01"}})
    assert cfg.args["extra_headers"]["X-Title"] == "toolgym"
    with pytest.raises(ValidationError, match=r"extra_query\.key"):
        ModelConfig(model="openai/x", args={"extra_query": {"key": KEY}})


def test_cli_refuses_a_key_in_base_url_in_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, [
        "run", "--agent-model", "openai/x", "--agent-base-url", BAD_URLS[0], "--tasks", "0",
        "--display", "none", "--out", str(tmp_path / "run")])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "base_url must not hold credentials" in lines[0], res.stderr
    assert "api_key_env" in lines[0]
    assert KEY not in res.output
    assert not (tmp_path / "run" / "config.json").exists()


@pytest.mark.parametrize("url", BAD_URLS)
def test_endpoint_file_refuses_a_key_in_base_url(tmp_path: Path, url: str) -> None:
    path = tmp_path / "toolgym.toml"
    path.write_text(f'[endpoints.local]\nmodel = "openai/x"\nbase_url = "{url}"\n')
    with pytest.raises(DataError) as info:
        load_endpoints(path)
    text = str(info.value)
    assert "[endpoints.local] base_url has" in text and "api_key_env" in text
    assert "\n" not in text and KEY not in text


def test_endpoint_file_refuses_secret_headers(tmp_path: Path) -> None:
    path = tmp_path / "toolgym.toml"
    path.write_text('[endpoints.local]\nmodel = "openai/x"\n'
                    f'args = {{ extra_headers = {{ X-Api-Key = "{KEY}" }} }}\n')
    with pytest.raises(DataError, match=r"args\.extra_headers\.X-Api-Key") as info:
        load_endpoints(path)
    assert KEY not in str(info.value)
