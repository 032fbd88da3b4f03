"""Full runs over real HTTP: a tool-calling agent and an LLM user, both served by
the loopback OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolgym
from toolgym.testing import FakeOpenAIServer, roleplay_responder


def _run_over_http(domain: str, data_dir: Path | None, out: Path, tasks: str) -> toolgym.RunData:
    d = toolgym.load_domain(domain, data_dir=data_dir)
    with FakeOpenAIServer(roleplay_responder(d.tasks)) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url,
                 "backoff_base_s": 0.0}
        run = toolgym.run(domain=domain, data_dir=data_dir, agent_model=model,
                          user="llm", user_model=model, trials=1, concurrency=4,
                          tasks=tasks, out=out)
        assert server.chat_requests  # the real client path was used
    return run


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_http_run_on_tau2_data(domain: str, shared_dir: Path, tmp_path: Path) -> None:
    run = _run_over_http(domain, shared_dir / "tau2" / domain, tmp_path / "r", "0-5")
    assert len(run.results) == 6
    for r in run.results:
        assert r.termination.value == "user_stop", (r.task_id, r.termination, r.error)
        if r.breakdown.status == "ok":
            assert r.reward == 1.0, (r.task_id, r.breakdown)
        else:  # retail tasks grade NL assertions: without a judge, never a silent pass
            assert r.breakdown.status == "judge_needed" and r.reward is None
        assert r.usage["agent"].calls >= 1 and r.usage["user"].calls >= 2


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_http_run_on_builtin_domains(domain: str, tmp_path: Path) -> None:
    run = _run_over_http(domain, None, tmp_path / "r", "0-7")
    assert [r.reward for r in run.results] == [1.0] * 8
    assert run.summary["usage"]["user"]["prompt_tokens"] > 0


def test_response_cache_replays_without_calling_the_server(tmp_path: Path) -> None:
    d = toolgym.load_domain("airline")
    with FakeOpenAIServer(roleplay_responder(d.tasks)) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url}
        kwargs = dict(domain="airline", agent_model=model, user="scripted", tasks="0-3",
                      cache_dir=str(tmp_path / "cache"))
        first = toolgym.run(out=tmp_path / "a", **kwargs)
        calls = len(server.chat_requests)
        second = toolgym.run(out=tmp_path / "b", **kwargs)
        assert calls > 0 and len(server.chat_requests) == calls
    assert [r.reward for r in first.results] == [r.reward for r in second.results]


def test_per_endpoint_concurrency_limit_from_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from toolgym.cli._app import app

    d = toolgym.load_domain("airline")
    with FakeOpenAIServer(roleplay_responder(d.tasks), latency_ms=20) as server:
        res = CliRunner().invoke(app, [
            "run", "--agent-model", "openai/fake-model", "--agent-base-url", server.base_url,
            "--agent-arg", "max_concurrency=2", "--agent-arg", "temperature=0",
            "--concurrency", "8", "--tasks", "0-7", "--display", "none", "--no-report",
            "--out", str(tmp_path / "r")])
        assert res.exit_code == 0, res.output
        assert server.max_in_flight == 2
        assert all(r.body.get("temperature") == 0 for r in server.requests
                   if r.path.endswith("/chat/completions"))
    saved = (tmp_path / "r" / "config.json").read_text()
    assert '"max_concurrency": 2' in saved
