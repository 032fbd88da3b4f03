"""The rubric rater and the in-context judge, with scripted judge models over real HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.errors import ConfigError
from toolgym.judges import JudgeContext, create_judge, read_scores, score_run
from toolgym.models import ModelConfig
from toolgym.runner import load_run
from toolgym.testing import FakeOpenAIServer

AIRLINE = toolgym.load_domain("airline")
CRITERIA = ["resolved", "policy", "tools", "communication"]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rate") / "r"
    toolgym.run(domain="airline", agent_model={"model": "oracle", "args": {"error_rate": 0.5}},
                tasks="0-5", out=out)
    return out


def _episode_reply(verdict: Any, criteria: list[str] = CRITERIA, **overall: Any) -> str:
    return json.dumps({
        "criteria": [{"name": c, "verdict": verdict, "evidence": [2, 999],
                      "rationale": f"{c} looked at"} for c in criteria],
        "overall": {"verdict": verdict, "rationale": "summary", **overall}})


def _serve(replies: Callable[[dict[str, Any]], Any]) -> FakeOpenAIServer:
    return FakeOpenAIServer(replies, model_name="judge")


def _model(srv: FakeOpenAIServer) -> ModelConfig:
    return ModelConfig(model="openai/judge", base_url=srv.base_url, backoff_base_s=0.0)


def test_binary_rater_gives_criteria_evidence_and_feedback(mixed_run: Path) -> None:
    prompts: list[str] = []

    def reply(request: dict[str, Any]) -> str:
        prompts.append(request["messages"][0]["content"] + request["messages"][1]["content"])
        return _episode_reply(True)

    with _serve(reply) as srv:
        scoring = score_run(mixed_run, "rater", model=_model(srv), name="rater")
    assert len(scoring.scores) == 6 and all(s.success and s.score == 1.0
                                            for s in scoring.scores)
    s = scoring.scores[0]
    assert [c["name"] for c in s.details["criteria"]] == CRITERIA
    assert s.details["criteria"][0]["evidence"] == [2]  # out-of-range indices dropped
    assert "resolved: pass (messages 2): resolved looked at" in s.feedback
    assert s.usage.calls == 1 and s.usage.prompt_tokens > 0
    # The context: policy, tools with kinds, the user's goal, a numbered transcript.
    assert AIRLINE.policy.strip()[:60] in prompts[0]
    assert "book_reservation [write]" in prompts[0] and "reason for call:" in prompts[0]
    assert re.search(r"\[1\] assistant: .*\n\[2\] user: ", prompts[0])
    summary = json.loads((mixed_run / "summary.json").read_text())
    assert summary["scorings"]["rater"]["success_rate"] == 1.0


def test_five_point_scale_and_failed_criteria(mixed_run: Path, tmp_path: Path) -> None:
    def reply(request: dict[str, Any]) -> str:
        data = json.loads(_episode_reply(5))
        data["criteria"][1]["verdict"] = 2
        data["overall"]["verdict"] = 3
        return json.dumps(data)

    with _serve(reply) as srv:
        scoring = score_run(mixed_run, "rater", model=_model(srv), name="rater5",
                            args={"scale": 5})
    s = scoring.scores[0]
    assert s.success is False and s.score == 3.0  # below pass_at=4
    assert s.failures == [{"type": "criterion", "criterion": "policy", "verdict": 2.0,
                           "evidence": [2], "rationale": "policy looked at"}]
    assert "policy: 2/5" in s.feedback


@pytest.mark.parametrize(("votes", "tie", "verdicts", "expected"), [
    (3, "fail", [True, False, True], True),
    (3, "fail", [False, False, True], False),
    (2, "fail", [True, False], False),
    (2, "pass", [True, False], True),
])
def test_votes_and_the_tie_rule(mixed_run: Path, votes: int, tie: str, verdicts: list[bool],
                                expected: bool) -> None:
    sequence = iter(verdicts * 100)
    with _serve(lambda r: _episode_reply(next(sequence))) as srv:
        name = f"v{votes}{tie}" + "".join("p" if v else "f" for v in verdicts)
        scoring = score_run(mixed_run, "rater", model=_model(srv), name=name,
                            args={"votes": votes, "tie": tie}, concurrency=1)
    first = scoring.scores[0]
    # Votes are asked concurrently: their order is the server's, the outcome is not.
    assert sorted(first.details["votes"]) == sorted(float(v) for v in verdicts)
    assert first.success is expected and first.usage.calls == votes


def test_malformed_rater_output_is_retried_then_a_judge_error(mixed_run: Path) -> None:
    with _serve(lambda r: '{"criteria": [], "overall": {"verdict": "maybe"}}') as srv:
        scoring = score_run(mixed_run, "rater", model=_model(srv), name="broken")
    assert all(s.success is None and "rater gave no usable verdict" in (s.error or "")
               for s in scoring.scores)
    assert all(s.usage.calls == 2 for s in scoring.scores)  # asked again once, both counted
    first = iter([_episode_reply(True, CRITERIA[:2])] + [_episode_reply(True)] * 100)
    with _serve(lambda r: next(first)) as srv:  # a missing criterion, then a good answer
        scoring = score_run(mixed_run, "rater", model=_model(srv), name="late",
                            concurrency=1)
    assert all(s.success for s in scoring.scores)
    assert scoring.scores[0].usage.calls == 2


def test_step_mode_rates_each_agent_step(mixed_run: Path) -> None:
    run = load_run(mixed_run)
    result = run.results[0]
    steps = [i for i, m in enumerate(result.messages) if m.role == "assistant" and m.turn]

    def reply(request: dict[str, Any]) -> str:
        return json.dumps({"steps": [{"index": i, "tool_choice": 5, "arguments": 2 if j == 0
                                      else 5, "use_of_result": 4, "rationale": f"step {i}"}
                                     for j, i in enumerate(steps)],
                           "overall": {"verdict": 4, "rationale": "fine"}})

    with _serve(reply) as srv:
        scoring = score_run(mixed_run, "rater", model=_model(srv), name="steps",
                            args={"mode": "step"})
    s = next(x for x in scoring.scores if x.key == result.key)
    assert s.success is True and s.score == 4.0
    assert [st["index"] for st in s.details["steps"]] == steps
    assert s.failures[0]["type"] == "weak_step" and s.failures[0]["arguments"] == 2.0


def test_rater_arguments_are_checked(tmp_path: Path) -> None:
    model = toolgym.models.create_model("oracle")  # any model: only the arguments matter
    for args, needle in [({"scale": 3}, "scale must be"), ({"mode": "fast"}, "mode must be"),
                         ({"tie": "coin"}, "tie must be"), ({"votes": 0}, "votes must be"),
                         ({"nope": 1}, "unknown argument"),
                         ({"rubric": []}, "non-empty list")]:
        with pytest.raises(ConfigError, match=needle):
            create_judge(JudgeContext("rater", AIRLINE, model, args))
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("polite: The agent was polite.\ncorrect: The agent was right.\n")
    judge = create_judge(JudgeContext("rater", AIRLINE, model, {"rubric": str(rubric)}))
    assert [c["name"] for c in judge.rubric] == ["polite", "correct"]  # type: ignore[attr-defined]


# ------------------------------------------------------------------ in-context


def test_in_context_judge_puts_writes_beside_the_gold(mixed_run: Path) -> None:
    prompts: list[str] = []

    def reply(request: dict[str, Any]) -> str:
        text = request["messages"][1]["content"]
        prompts.append(text)
        agent = text.split("# The agent's successful write actions")[1]
        reference = text.split("# Reference actions")[1].split("# The agent's")[0]
        same = [x.split(". ", 1)[-1] for x in agent.strip().splitlines()] == [
            x.split(". ", 1)[-1] for x in reference.strip().splitlines()]
        return "They match. [[success]]" if same else "Different. [[failure]]"

    with _serve(reply) as srv:
        scoring = score_run(mixed_run, "in-context", model=_model(srv))
    run = {r.key: r for r in load_run(mixed_run).results}
    for s in scoring.scores:
        # The oracle's writes equal the gold writes exactly when its database matches.
        db = run[s.key].breakdown.db
        assert db is not None and s.success == db.match, s
    assert any("book_reservation(" in p or "cancel_reservation(" in p or "update_" in p
               for p in prompts)
    assert all(s.feedback in ("They match.", "Different.") for s in scoring.scores)


def test_in_context_without_a_verdict_is_a_judge_error(mixed_run: Path) -> None:
    with _serve(lambda r: "Looks fine to me.") as srv:
        scoring = score_run(mixed_run, "in-context", model=_model(srv), name="noverdict")
    assert all(s.success is None for s in scoring.scores)
    assert all("no [[success]] or [[failure]] verdict" in (s.error or "")
               for s in scoring.scores)
    assert read_scores(mixed_run, "noverdict")[0].usage.calls == 2
