"""Run health over real HTTP: infrastructure errors are visible, counted, retryable,
and no reply from a server loses or corrupts a rollout."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import toolgym
from toolgym.agents import Agent, AgentReply, register_agent
from toolgym.cli._app import app
from toolgym.errors import ConfigError
from toolgym.models import ModelConfig
from toolgym.models._preflight import PreflightError
from toolgym.testing import FakeOpenAIServer, roleplay_responder

cli = CliRunner()
AIRLINE = toolgym.load_domain("airline")
TASK_IDS = [t.id for t in AIRLINE.tasks[:6]]


def _model(server: FakeOpenAIServer, **extra: Any) -> dict[str, Any]:
    return {"model": "openai/fake-model", "base_url": server.base_url, "backoff_base_s": 0.0,
            **extra}


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    """Every record on disk (no de-duplication): what a reader of the file sees."""
    data = (run_dir / "results.jsonl").read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def _count_keys(run_dir: Path) -> Counter[tuple[str, int]]:
    return Counter((r["task_id"], r["trial"]) for r in _lines(run_dir))


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks)) as srv:
        yield srv


# ------------------------------------------------------------------ bad replies


@pytest.mark.parametrize("kind", ["malformed_json", "null_message", "bad_usage",
                                  "empty_choices", "500", "disconnect"])
def test_bad_replies_are_retried_counted_and_lose_nothing(kind: str, tmp_path: Path) -> None:
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks), fault_rates={kind: 0.2},
                          seed=3) as srv:
        run = toolgym.run(domain="airline", agent_model=_model(srv), user="scripted",
                          tasks="0-5", trials=2, concurrency=4, out=tmp_path / "r")
        served = srv.faults_served.get(kind, 0)
    assert served > 0
    assert run.summary["status"] == "complete" and run.summary["infra_errors"] == 0
    assert [r.reward for r in run.results] == [1.0] * 12
    cause = {"500": "5xx", "disconnect": "connection"}.get(kind, "malformed")
    on_disk = sum(r["retries"].get(cause, 0) for r in _lines(tmp_path / "r"))
    assert on_disk == served == run.summary["retries"][cause]
    assert set(_count_keys(tmp_path / "r").values()) == {1}
    from toolgym.report import render_report

    html = render_report([toolgym.load_run(tmp_path / "r")], tmp_path / "r.html").read_text()
    assert f"<td>{cause}: {served}</td>" in html  # the report shows the retries too


def test_a_reply_that_stays_malformed_ends_the_rollout_as_an_infra_error(tmp_path: Path
                                                                        ) -> None:
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks),
                          fault_rates={"null_message": 1.0}) as srv:
        res = cli.invoke(app, ["run", "--agent-model", "openai/fake-model", "--agent-base-url",
                               srv.base_url, "--agent-arg", "max_retries=2",
                               "--agent-arg", "backoff_base_s=0", "--tasks", "0-1",
                               "--display", "none", "--no-report", "--out",
                               str(tmp_path / "r")])
    assert res.exit_code == 3, res.output
    assert "every rollout failed on infrastructure (2)" in res.stderr
    assert "malformed reply: choices[0].message is null" in res.stderr
    assert "Traceback" not in res.output
    records = _lines(tmp_path / "r")
    assert all(r["termination"] == "model_error" and r["retries"] == {"malformed": 2}
               for r in records)
    assert f"toolgym resume {tmp_path / 'r'} --retry-errors" in res.stderr


# -------------------------------------------------------------- preflight


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _preflight_line(args: list[str], tmp_path: Path) -> str:
    out = tmp_path / "never"
    res = cli.invoke(app, ["run", "--tasks", "0", "--display", "none", "--out", str(out),
                           *args])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output, res.stderr
    assert not out.exists()  # the run did not start: nothing written
    return lines[0]


def test_preflight_closed_port(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    line = _preflight_line(["--agent-model", "openai/m", "--agent-base-url", url], tmp_path)
    assert line.startswith(f"error: agent endpoint {url}: connection refused")


def test_preflight_port_that_never_answers(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        line = _preflight_line(["--agent-model", "openai/m", "--agent-base-url", url,
                                "--agent-arg", "timeout_s=0.5"], tmp_path)
    assert line.startswith(f"error: agent endpoint {url}: no answer within 0.5 s")


def test_preflight_unknown_model(server: FakeOpenAIServer, tmp_path: Path) -> None:
    line = _preflight_line(["--agent-model", "openai/gpt-9", "--agent-base-url",
                            server.base_url], tmp_path)
    assert f"agent endpoint {server.base_url}: model 'gpt-9' is not served here " \
           "(it serves: fake-model)" in line


def test_preflight_wrong_key_masks_the_echoed_key(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_KEY", "sk-wrongwrongwrong1234")
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks), api_key="sk-right") as srv:
        line = _preflight_line(["--agent-model", "openai/fake-model", "--agent-base-url",
                                srv.base_url, "--agent-api-key-env", "TG_KEY"], tmp_path)
    assert "authentication failed (HTTP 401" in line and "$TG_KEY" in line
    assert "wrongwrong" not in line


def test_preflight_names_the_user_role(server: FakeOpenAIServer, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    line = _preflight_line(["--agent-model", "openai/fake-model", "--agent-base-url",
                            server.base_url, "--user", "llm", "--user-model", "openai/u",
                            "--user-base-url", url], tmp_path)
    assert f"user endpoint {url}: connection refused" in line
    assert "agent endpoint" not in line


def test_endpoints_check_reports_each_role(server: FakeOpenAIServer) -> None:
    res = cli.invoke(app, ["endpoints", "check", "--agent-model", "openai/fake-model",
                           "--agent-base-url", server.base_url, "--user", "llm",
                           "--user-model", "openai/fake-model", "--user-base-url",
                           server.base_url])
    assert res.exit_code == 0, res.output
    assert f"ok    agent endpoint {server.base_url}: model listed, tool call round-tripped" \
        in res.stdout
    assert f"ok    user endpoint {server.base_url}: model listed, chat request answered" \
        in res.stdout
    # The preflight never reaches the responder or consumes its faults.
    assert server.chat_requests == [] and len(server.preflight_requests) == 5
    res = cli.invoke(app, ["endpoints", "check", "--agent-model", "openai/x",
                           "--agent-base-url", f"http://127.0.0.1:{_closed_port()}/v1"])
    assert res.exit_code == 2 and "FAIL  agent endpoint" in res.stderr


def test_preflight_error_from_python(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="connection refused"):
        toolgym.run(agent_model={"model": "openai/m",
                                 "base_url": f"http://127.0.0.1:{_closed_port()}/v1"},
                    tasks="0", out=tmp_path / "r")
    run = toolgym.run(agent_model={"model": "openai/m", "max_retries": 0,
                                   "base_url": f"http://127.0.0.1:{_closed_port()}/v1"},
                      tasks="0", out=tmp_path / "r", preflight=False)
    assert run.summary["infra_errors"] == 1
    assert "connection refused" in (run.results[0].error or "")


# ------------------------------------------------- configuration errors, retry


def test_401_stops_launching_then_retry_errors_finishes_exactly_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_KEY", "sk-expired-key-000000")
    out = tmp_path / "r"
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks), api_key="sk-good") as srv:
        args = ["--agent-model", "openai/fake-model", "--agent-base-url", srv.base_url,
                "--agent-api-key-env", "TG_KEY", "--tasks", "0-9", "--trials", "2",
                "--concurrency", "1", "--display", "none", "--no-report", "--out", str(out)]
        res = cli.invoke(app, ["run", "--no-preflight", *args])
        assert res.exit_code == 3, res.output
        assert "stopped launching rollouts after 3 ended on HTTP 401" in res.stderr
        assert "sk-expired" not in res.output
        assert len(_lines(out)) == 3  # the budget was not burnt on 20 rollouts
        summary = json.loads((out / "summary.json").read_text())
        assert summary["status"] == "aborted" and summary["infra_errors"] == 3

        monkeypatch.setenv("TG_KEY", "sk-good")
        res = cli.invoke(app, ["resume", str(out), "--retry-errors", "--display", "none",
                               "--no-report"])
        assert res.exit_code == 0, res.output
    counts = _count_keys(out)
    assert len(_lines(out)) == 23  # append-only: 3 replaced records stay in the file
    assert sorted(k for k, n in counts.items() if n == 2) == sorted(
        (r["task_id"], r["trial"]) for r in _lines(out)[:3])
    run = toolgym.load_run(out)
    assert len(run.results) == 20 and all(r.reward == 1.0 for r in run.results)
    assert run.summary["infra_errors"] == 0 and run.summary["status"] == "complete"


def test_plain_resume_keeps_infra_errors_and_retry_errors_reruns_only_them(
        tmp_path: Path) -> None:
    out = tmp_path / "r"
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks)) as srv:
        srv.inject(*["500"] * 3)  # the first rollout's calls fail (max_retries=2)
        model = _model(srv, max_retries=2)
        first = toolgym.run(domain="airline", agent_model=model, tasks="0-3",
                            concurrency=1, out=out)
        assert first.summary["infra_errors"] == 1
        assert first.summary["retry_command"] == f"toolgym resume {out} --retry-errors"
        again = toolgym.resume(out)
        assert again.summary["infra_errors"] == 1 and len(_lines(out)) == 4
        failed = next(r for r in again.results if r.infra_error)
        fixed = toolgym.resume(out, retry_errors=True)
        assert fixed.summary["infra_errors"] == 0
    records = _lines(out)
    assert len(records) == 5  # one rollout reran, nothing else
    assert (records[-1]["task_id"], records[-1]["trial"]) == failed.key


# --------------------------------------------------------- internal errors


FLAKY_TASK = AIRLINE.tasks[1]
FLAKY_TEXT = str(FLAKY_TASK.user_scenario.instructions.reason_for_call)[:40]  # type: ignore


@register_agent("test-flaky")
class _FlakyAgent(Agent):
    """The oracle agent, raising an unexpected exception on one task (a strategy's bug)."""

    async def act(self, messages: Any) -> AgentReply:
        if any(FLAKY_TEXT in (m.content or "") for m in messages if m.role == "user"):
            raise KeyError("flaky")
        response = await self.model.generate(messages, self.ctx.tools)
        return AgentReply(response.message, response.usage, response.latency_s)


def test_an_exception_inside_a_rollout_is_recorded_and_the_worker_carries_on(
        tmp_path: Path) -> None:
    run = toolgym.run(domain="airline", agent="test-flaky", tasks="0-3", concurrency=1,
                      out=tmp_path / "r")
    ends = {r.task_id: r for r in run.results}
    bad = ends[FLAKY_TASK.id]
    assert bad.termination.value == "internal_error" and bad.infra_error
    assert "KeyError" in (bad.error or "") and "flaky" in (bad.error or "")
    assert bad.messages  # the conversation so far is kept
    assert len(run.results) == 4 and run.summary["infra_errors"] == 1
    assert all(r.reward == 1.0 for r in run.results if r.task_id != FLAKY_TASK.id)
    assert run.summary["status"] == "complete"


# ------------------------------------------------------------ resume changes


def test_resume_may_change_how_models_are_reached_not_what_is_evaluated(
        tmp_path: Path) -> None:
    out = tmp_path / "r"
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks)) as a:
        toolgym.run(domain="airline", agent_model=_model(a), tasks="0-1", out=out)
    (out / "results.jsonl").write_bytes(
        (out / "results.jsonl").read_bytes().splitlines(keepends=True)[0])
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks)) as b:  # the server moved
        moved = b.base_url
        res = cli.invoke(app, ["resume", str(out), "--agent-base-url", b.base_url,
                               "--agent-arg", "timeout_s=30", "--agent-arg",
                               "max_concurrency=2", "--display", "none", "--no-report"])
        assert res.exit_code == 0, res.output
        assert b.chat_requests
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["agent"]["model"]["base_url"] == moved
    (change,) = saved["changes"]
    assert any("agent.base_url" in c and moved in c for c in change["changed"])
    assert any(c.startswith("agent.timeout_s") for c in change["changed"])
    res = cli.invoke(app, ["resume", str(out), "--agent-arg", "temperature=0.5"])
    assert res.exit_code == 2 and "client settings" in res.stderr
    with pytest.raises(ConfigError, match=r"agent\.model\.model"):
        toolgym.run(domain="airline", agent_model={"model": "openai/other",
                                                   "base_url": moved},
                    tasks="0-1", out=out)


def test_config_json_holds_only_configuration(tmp_path: Path) -> None:
    run = toolgym.run(domain="airline", tasks="0", out=tmp_path / "r")
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert "RESUMABLE_CHANGES" not in json.dumps(saved)
    assert run.summary["status"] == "complete"


# -------------------------------------------------------- timeouts and budget


def test_a_hung_endpoint_costs_one_call_at_most_its_retry_budget(tmp_path: Path) -> None:
    with FakeOpenAIServer(roleplay_responder(AIRLINE.tasks)) as srv:
        srv.inject(*["timeout"] * 50, delay_s=5.0)
        model = _model(srv, timeout_s=0.3, retry_budget_s=1.0, max_retries=100)
        run = toolgym.run(domain="airline", agent_model=model, tasks="0", out=tmp_path / "r",
                          preflight=False)
    (result,) = run.results
    assert result.termination.value == "model_error" and "timed out" in (result.error or "")
    # The one hung call gave up at its budget (1 s), not after 100 retries of 0.3 s; the
    # slack is for a loaded machine, far from the 30 s an unbounded call would take.
    assert result.timings.agent_s < 2.5
    assert 1 <= result.retries["timeout"] <= 4


def test_default_client_settings_bound_one_call() -> None:
    cfg = ModelConfig(model="openai/x")
    assert cfg.timeout_s <= 120 and cfg.retry_budget_s <= 300


# --------------------------------------------------------- exit status, table


def test_exit_status_and_table_name_infra_errors(server: FakeOpenAIServer, tmp_path: Path
                                                 ) -> None:
    server.inject(*["500"] * 2)
    res = cli.invoke(app, ["run", "--agent-model", "openai/fake-model", "--agent-base-url",
                           server.base_url, "--agent-arg", "max_retries=1", "--agent-arg",
                           "backoff_base_s=0", "--tasks", "0-2", "--concurrency", "1",
                           "--display", "plain", "--no-report", "--out", str(tmp_path / "r")],
                     env={"COLUMNS": "200"})
    assert res.exit_code == 3, res.output
    assert "1 of 3 rollouts ended on infrastructure errors; first: task" in res.stderr
    assert "HTTP 500" in res.stdout  # the table's first infrastructure error
    assert "retried calls" in res.stdout and "5xx: 1" in res.stdout


def test_concurrent_runs_in_threads_do_not_interfere(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            toolgym.run(domain="airline", tasks="0-2", out=tmp_path / f"r{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_the_oracle_is_refused_as_a_judge_before_any_rollout(tmp_path: Path) -> None:
    # It has no verdict to give: every judgment would fail, one rollout at a time.
    res = cli.invoke(app, ["run", "--domain", "assistant", "--agent-model", "oracle",
                           "--tool-sim-model", "oracle", "--judge-model", "oracle",
                           "--out", str(tmp_path / "run")])
    assert res.exit_code == 1
    assert "the oracle model cannot judge" in res.output
    assert not (tmp_path / "run" / "results.jsonl").exists()
    plain = toolgym.run(domain="assistant", tasks="0", agent_model="oracle",
                        tool_sim_model="oracle", out=tmp_path / "plain")
    assert plain.results[0].breakdown.status == "judge_needed"
    from toolgym.judges import score_run

    with pytest.raises(ConfigError, match="the oracle model cannot judge"):
        score_run(tmp_path / "plain", "nl", model=ModelConfig(model="oracle"),
                  preflight=False)


@pytest.mark.parametrize(("url", "why"), [
    ("http://256.1.1.1/v1", "Octet 256"), ("http://[::1/v1", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/v1", "Port out of range"), ("file:///etc/passwd", "scheme"),
    ("localhost:8000/v1", "scheme")])
def test_a_malformed_base_url_is_one_configuration_error(url: str, why: str,
                                                         tmp_path: Path) -> None:
    res = cli.invoke(app, ["endpoints", "check", "--agent-model", "openai/x",
                           "--agent-base-url", url])
    assert res.exit_code != 0 and "not a usable URL" in res.output and why in res.output
    assert "Traceback" not in res.output
    with pytest.raises(ValueError, match="not a usable URL"):  # pydantic's, as for any field
        toolgym.run(domain="airline", agent_model={"model": "openai/x", "base_url": url},
                    user="scripted", out=tmp_path / "r", preflight=False)
    assert not (tmp_path / "r").exists()
