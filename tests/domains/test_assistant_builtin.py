"""The built-in assistant domain: data, tools, offline runs, judges, agent strategies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.domains import ToolKind, load_domain
from toolgym.evaluation import check_tasks
from toolgym.runner import Termination
from toolgym.simtools import draw_failure
from toolgym.testing import FakeOpenAIServer


@pytest.fixture(scope="module")
def domain() -> Any:
    return load_domain("assistant")


def test_shipped_requests_and_tools(domain: Any) -> None:
    assert len(domain.tasks) >= 50
    assert len(domain.split("single")) == 20
    assert len(domain.split("multi")) == len(domain.tasks) - 20
    for t in domain.tasks:
        extra = t.model_extra
        assert extra["kind"] in ("single", "multi") and extra["topic"] and extra["request"]
        steps = extra["intended_steps"]
        assert (len(steps) == 1) == (extra["kind"] == "single")
        assert t.gold_actions[-1].name == "final_answer"
        assert t.reward_basis == ["NL_ASSERTION"]
    assert len({t.model_extra["request"] for t in domain.tasks}) == len(domain.tasks)
    assert check_tasks(domain).malformed == [] and check_tasks(domain).rule_failures == []
    specs = domain.toolkit_type.tool_specs()
    assert sorted(specs) == ["ask_user", "calculate", "create_event", "final_answer",
                             "search_internet", "search_wikipedia", "send_email"]
    assert specs["create_event"][0] is ToolKind.WRITE and specs["calculate"][0] is ToolKind.READ
    sim = domain.toolkit_type.sim_tools()
    assert sorted(sim) == ["create_event", "search_internet", "search_wikipedia", "send_email"]
    for name in ("search_internet", "search_wikipedia"):
        assert sim[name].failures == {"no_answer": 0.1, "partial": 0.1}
    assert sim["send_email"].stateful and sim["create_event"].stateful
    assert not sim["search_internet"].stateful


def test_offline_run_follows_the_intended_steps_with_default_failures(
        tmp_path: Path, domain: Any) -> None:
    run = toolgym.run(domain="assistant", agent_model="oracle", tool_sim_model="oracle",
                      user="scripted", concurrency=8, out=tmp_path / "run")
    assert len(run.results) == len(domain.tasks)
    tasks = {t.id: t for t in domain.tasks}
    injected = 0
    for r in run.results:
        task = tasks[r.task_id]
        assert r.termination is Termination.AGENT_STOP, (r.task_id, r.error)
        assert r.reward is None and r.breakdown.status == "judge_needed"
        assert r.breakdown.components["ACTION"] == 1.0  # every intended step was taken
        calls = [c.name for m in r.messages if m.tool_calls for c in m.tool_calls]
        assert calls == [a.name for a in task.gold_actions]
        counts: dict[str, int] = {}
        for m in r.messages:
            if m.role != "tool" or m.sim is None:
                continue
            n = counts.get(m.name or "", 0)
            counts[m.name or ""] = n + 1
            rates = {"no_answer": 0.1, "partial": 0.1} if m.name in (
                "search_internet", "search_wikipedia") else {}
            assert m.sim.injected == draw_failure(r.seed, m.name or "", n, rates)
            injected += m.sim.injected is not None
            if m.sim.injected is None:
                json.loads(m.content or "")  # the oracle fills in the result schema
    assert injected > 0 and injected == sum(run.summary["tool_sim"]["injected"].values())
    assert run.summary["status"] == "complete" and run.summary["infra_errors"] == 0
    assert run.summary["usage"]["tool-sim"]["calls"] == run.summary["tool_sim"]["model_calls"]


def test_react_agent_works_on_the_assistant_domain(tmp_path: Path) -> None:
    script = [
        'Thought:\nI should search.\nAction:\n{"name": "search_wikipedia", "arguments": '
        '{"query": "Left Hand of Darkness"}}',
        'Thought:\nThe summary answers it.\nAction:\n{"name": "final_answer", "arguments": '
        '{"answer": "Ursula K. Le Guin wrote it."}}',
    ]
    run = toolgym.run(domain="assistant", task_ids=["single-002"], agent="react",
                      agent_model={"model": "scripted", "args": {"script": script}},
                      tool_sim_model="oracle", tool_failures={"*": {}}, out=tmp_path / "r")
    (r,) = run.results
    assert r.termination is Termination.AGENT_STOP and r.steps == 2
    assistant = [m for m in r.messages if m.role == "assistant" and m.tool_calls]
    assert [m.reasoning for m in assistant] == ["I should search.", "The summary answers it."]
    result = next(m for m in r.messages if m.role == "tool" and m.name == "search_wikipedia")
    assert json.loads(result.content or "")["title"]


def _score(run_dir: Path, judge: str, model: dict[str, Any], **kwargs: Any) -> Any:
    from toolgym.judges import score_run
    from toolgym.models import ModelConfig

    return score_run(run_dir, judge, model=ModelConfig.model_validate(model), preflight=False,
                     **kwargs)


def test_judges_grade_assistant_runs_with_the_domain_rubric(tmp_path: Path) -> None:
    prompts: list[dict[str, Any]] = []
    rubric = ["answer", "grounded", "steps", "failures", "actions"]

    def respond(request: dict[str, Any]) -> Any:
        prompts.append(request)
        text = request["messages"][-1]["content"]
        if "Assertions:" in text:  # the in-run NL judge
            n = text.split("Assertions:")[1].count("\n")
            return json.dumps({"results": [{"index": i + 1, "met": True, "turn": None,
                                            "justification": "ok"} for i in range(n)]})
        return json.dumps({"criteria": [{"name": c, "verdict": c != "failures",
                                         "evidence": [2], "rationale": f"{c} seen"}
                                        for c in rubric],
                           "overall": {"verdict": True, "rationale": "good"}})

    with FakeOpenAIServer(respond) as server:
        judge = {"model": "openai/fake-model", "base_url": server.base_url,
                 "api_key_env": "NO_SUCH_KEY_VAR"}
        plain = toolgym.run(domain="assistant", tasks="0-1", agent_model="oracle",
                            tool_sim_model="oracle", out=tmp_path / "plain")
        assert [r.breakdown.status for r in plain.results] == ["judge_needed"] * 2
        scoring = _score(tmp_path / "plain", "rater", judge)
        assert [s.success for s in scoring.scores] == [True, True]
        assert all({f["criterion"] for f in s.failures} == {"failures"}
                   for s in scoring.scores)
        summary = json.loads((tmp_path / "plain" / "summary.json").read_text())
        by_scoring = summary["tool_sim"]["strata_by_scoring"]["rater"]
        assert sum(v["scored"] for k, v in by_scoring.items()) >= 2
        assert {v["success_rate"] for v in by_scoring.values() if v["scored"]} == {1.0}
        system = prompts[0]["messages"][0]["content"]
        user = prompts[0]["messages"][1]["content"]
        assert "personal assistant policy" in system.lower()
        assert "search_internet [read]" in system and "send_email [write]" in system
        assert all(f"{i}. {c}:" in user for i, c in enumerate(rubric, 1))
        nl = _score(tmp_path / "plain", "nl", judge)
        assert [sc.score for sc in nl.scores] == [1.0, 1.0]
        assert [r.reward for r in toolgym.load_run(tmp_path / "plain").results] == [1.0, 1.0]
        judged = toolgym.run(domain="assistant", tasks="0-1", agent_model="oracle",
                             tool_sim_model="oracle", judge_model=judge,
                             out=tmp_path / "judged", preflight=False)
        assert [r.reward for r in judged.results] == [1.0, 1.0]
        strata = judged.summary["tool_sim"]["strata"]
        assert sum(v["rewarded"] for v in strata.values()) >= 2
        assert {v["avg_reward"] for v in strata.values() if v["rollouts"]} == {1.0}
        assert all(r.usage["judge"].calls == 1 for r in judged.results)
