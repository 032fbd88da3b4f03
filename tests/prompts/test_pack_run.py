"""Runs with a prompt pack send exactly the pack's texts (seen by the loopback server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.errors import ConfigError
from toolgym.prompts import extract_tau2, load_prompt_pack
from toolgym.testing import FakeOpenAIServer, roleplay_responder


def _system(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    assert first["role"] == "system"
    return str(first["content"])


def _http_run(data_dir: Path, out: Path, **extra: Any) -> tuple[toolgym.RunData, list[dict]]:
    domain = toolgym.load_domain("airline", data_dir=data_dir)
    with FakeOpenAIServer(roleplay_responder(domain.tasks)) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url,
                 "backoff_base_s": 0.0}
        run = toolgym.run(domain="airline", data_dir=data_dir, agent_model=model, user="llm",
                          user_model=model, tasks="0-2", concurrency=2, out=out, **extra)
        return run, server.chat_requests


def test_a_run_sends_exactly_the_packs_texts(tau2_standin: Path, tmp_path: Path,
                                             tau2_airline_dir: Path) -> None:
    pack_dir = tmp_path / "pack"
    extract_tau2(tau2_standin, pack_dir)
    pack = load_prompt_pack(pack_dir)
    run, requests = _http_run(tau2_airline_dir, tmp_path / "run", prompt_pack=pack_dir)
    assert [r.termination.value for r in run.results] == ["user_stop"] * 3
    assert [r.reward for r in run.results] == [1.0] * 3

    domain = toolgym.load_domain("airline", data_dir=tau2_airline_dir)
    tasks = {t.id: t for t in domain.tasks}
    agent = [r for r in requests if r.get("tools")]
    user = [r for r in requests if not r.get("tools")]
    assert agent and user
    assert {_system(r) for r in agent} == {pack.agent_system_prompt(domain.policy)}
    assert all(r["tools"] == pack.tools_for("airline") for r in agent)
    expected_user = {pack.user_system_prompt(tasks[i]) for i in ("0", "1", "2")}
    assert {_system(r) for r in user} == expected_user
    assert all("<stand-in-scenario>\nInstructions:\n\tDomain: airline" in text
               for text in expected_user)

    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert saved["tool_args"] == "tau2"
    assert saved["prompt_pack"] == {
        "path": str(pack_dir.resolve()), "digest": pack.digest, "source": "tau2", "tau2": True,
        "parts": ["agent_system_prompt", "tools", "user_system_prompt"],
        "origin": pack.manifest.origin}
    html = (tmp_path / "report.html")
    from toolgym.report import render_report

    render_report([toolgym.load_run(tmp_path / "run")], html)
    assert f"tau2 {pack.digest[:12]}" in html.read_text()

    # Another pack's content is another evaluation: a resume is refused.
    tools = pack_dir / "airline" / "tools.json"
    tools.write_text(tools.read_text().replace("Stand-in airline", "Edited airline"))
    with pytest.raises(ConfigError, match=r"prompt_pack\.digest") as info:
        toolgym.resume(tmp_path / "run")
    assert "prompt_pack.tau2: True -> False" in str(info.value)


def test_without_a_pack_toolgyms_own_prompts_go_out(tmp_path: Path) -> None:
    domain = toolgym.load_domain("airline")
    with FakeOpenAIServer(roleplay_responder(domain.tasks)) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url}
        toolgym.run(domain="airline", agent_model=model, user="llm", user_model=model,
                    tasks="0", out=tmp_path / "r")
        agent = [r for r in server.chat_requests if r.get("tools")]
    from toolgym.agents._prompts import agent_system_prompt

    assert _system(agent[0]) == agent_system_prompt(domain.policy)
    assert agent[0]["tools"] == domain.openai_tools()
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert saved["prompt_pack"] is None


def test_a_data_dir_holding_a_pack_is_used(tau2_standin: Path, tmp_path: Path,
                                           tau2_airline_dir: Path) -> None:
    data = tmp_path / "airline"
    data.mkdir()
    for name in ("db.json", "tasks.json", "split_tasks.json", "policy.md"):
        (data / name).symlink_to(tau2_airline_dir / name)
    extract_tau2(tau2_standin, tmp_path / "pack", domains=["airline"])
    for f in (tmp_path / "pack").rglob("*"):
        if f.is_file():
            target = data / f.relative_to(tmp_path / "pack")
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(f.read_bytes())
    pack = load_prompt_pack(data)
    run, requests = _http_run(data, tmp_path / "run")
    assert run.results and all(r.reward == 1.0 for r in run.results)
    agent = [r for r in requests if r.get("tools")]
    assert agent and all(r["tools"] == pack.tools_for("airline") for r in agent)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert saved["prompt_pack"]["digest"] == pack.digest
    assert saved["prompt_pack"]["path"] == str(data.resolve())


def test_pack_tools_must_fit_the_domain(tau2_standin: Path, tmp_path: Path) -> None:
    extract_tau2(tau2_standin, tmp_path / "pack", domains=["retail"])
    (tmp_path / "pack" / "retail").rename(tmp_path / "pack" / "shared")
    (tmp_path / "pack" / "shared" / "tools.json").rename(tmp_path / "pack" / "tools.json")
    res = CliRunner().invoke(app, ["run", "--domain", "airline", "--tasks", "0",
                                   "--prompt-pack", str(tmp_path / "pack"), "--display", "none",
                                   "--no-report", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert "tools do not match the domain's (missing book_reservation" in res.output
    assert not (tmp_path / "r").exists()
