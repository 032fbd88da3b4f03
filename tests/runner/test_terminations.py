"""Every way a rollout can end, reached through ``toolgym.run``.

For each termination reason: the saved reward (graded for user_stop,
agent_stop and transfer; 0 for every abnormal ending, even one whose
database is right), ``breakdown.status`` and ``infra_error`` (true only for
model_error). Then pass^k in both conventions on one run that holds them all.
Model errors and context overflows come over real HTTP from the loopback
server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.evaluation import evaluate
from toolgym.messages import Message, ToolCall, Usage
from toolgym.models import (
    ContextOverflowError,
    EpisodeInfo,
    Model,
    ModelConfig,
    ModelResponse,
    RetryableModelError,
    create_model,
    register_provider,
)
from toolgym.runner import RolloutResult, Termination
from toolgym.testing import FakeOpenAIServer

DOMAIN = toolgym.load_domain("airline")
# Task 4: look up a reservation, cancel it; graded on the final DB alone.
TASK = DOMAIN.tasks[4]
GOLD: list[dict[str, Any]] = [{"tool_calls": [{"name": a.name, "arguments": a.arguments}]}
                              for a in TASK.gold_actions]
CALC = {"tool_calls": [{"name": "calculate", "arguments": {"expression": "1 + 1"}}]}
BAD = {"tool_calls": [{"name": "get_reservation_details",
                       "arguments": {"reservation_id": "NOPE00"}}]}
TRANSFER = {"tool_calls": [{"name": "transfer_to_human_agents",
                            "arguments": {"summary": "The user wants a human."}}]}
GRADED = {Termination.USER_STOP, Termination.AGENT_STOP, Termination.TRANSFER}


def run_task(tmp_path: Path, agent_model: Any, **kwargs: Any) -> RolloutResult:
    """Run TASK once and return its saved result (read back from disk)."""
    out = tmp_path / "run"
    run = toolgym.run(domain="airline", agent_model=agent_model, user="scripted",
                      tasks=TASK.id, out=out, **kwargs)
    assert run.summary["complete"] is True
    (saved,) = toolgym.load_run(out).results
    assert saved.model_dump() == run.results[0].model_dump()
    return saved


def scripted(*items: Any) -> dict[str, Any]:
    return {"model": "scripted", "args": {"script": list(items)}}


def check(r: RolloutResult, termination: Termination, reward: float | None = None) -> None:
    assert r.termination is termination, (r.termination, r.error, r.breakdown.notes)
    assert r.infra_error is (termination is Termination.MODEL_ERROR)
    if termination in GRADED:
        assert termination.normal
        assert r.breakdown.status == "ok" and r.reward == reward, r.breakdown
    else:
        assert not termination.normal
        assert r.reward == 0.0 and r.breakdown.status == "not_scored", r.breakdown


def would_pass(r: RolloutResult) -> bool:
    """Whether the same conversation, had it ended normally, would score 1."""
    return evaluate(DOMAIN, TASK, r.messages, normal_end=True).reward == 1.0


# ------------------------------------------------------------ graded endings


def test_user_stop_is_graded(tmp_path: Path) -> None:
    r = run_task(tmp_path, "oracle")
    check(r, Termination.USER_STOP, 1.0)
    assert r.messages[-1].role == "user" and "###STOP###" in (r.messages[-1].content or "")


def test_user_stop_after_a_useless_agent_is_graded_zero(tmp_path: Path) -> None:
    r = run_task(tmp_path, scripted("Sorry, I cannot help with that."))
    check(r, Termination.USER_STOP, 0.0)
    assert r.breakdown.db is not None and not r.breakdown.db.match


def test_agent_stop_is_graded(tmp_path: Path) -> None:
    r = run_task(tmp_path, scripted(*GOLD, "Your reservation is cancelled. ###STOP###"))
    check(r, Termination.AGENT_STOP, 1.0)
    assert r.messages[-1].role == "assistant" and r.steps == len(GOLD) + 1


def test_agent_transfer_is_graded(tmp_path: Path) -> None:
    r = run_task(tmp_path, scripted(*GOLD, TRANSFER))
    check(r, Termination.TRANSFER, 1.0)
    assert r.messages[-1].role == "tool" and r.messages[-1].name == "transfer_to_human_agents"


def test_user_transfer_is_graded(tmp_path: Path) -> None:
    r = run_task(tmp_path, scripted(*GOLD),
                 user_args={"turns": ["A human, please. ###TRANSFER###"]})
    check(r, Termination.TRANSFER, 0.0)  # before the agent did anything
    assert r.steps == 0


# ----------------------------------------------------------- abnormal endings


def test_max_steps_scores_zero_even_with_the_right_database(tmp_path: Path) -> None:
    r = run_task(tmp_path, scripted(*GOLD, CALC, CALC, CALC), max_steps=len(GOLD))
    check(r, Termination.MAX_STEPS)
    assert r.steps == len(GOLD) and would_pass(r)


def test_too_many_errors_scores_zero_even_with_the_right_database(tmp_path: Path) -> None:
    r = run_task(tmp_path, scripted(*GOLD, BAD, BAD, BAD), max_errors=2)
    check(r, Termination.TOO_MANY_ERRORS)
    errors = [m for m in r.messages if m.role == "tool" and "not found" in (m.content or "")]
    assert len(errors) == 2 and would_pass(r)


def test_timeout_scores_zero(tmp_path: Path) -> None:
    # Each oracle call takes 0.4 s; the task needs three, the rollout gets 0.6 s.
    r = run_task(tmp_path, {"model": "oracle", "args": {"latency_ms": 400}},
                 rollout_timeout_s=0.6)
    check(r, Termination.TIMEOUT)
    assert r.steps < len(GOLD) + 1 and r.timings.duration_s >= 0.6


def test_cost_limit_scores_zero(tmp_path: Path) -> None:
    # Priced at $1000 per 1M tokens: the first call (hundreds of tokens) passes $1e-6.
    with FakeOpenAIServer(script=[*GOLD, "Cancelled."]) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url, "backoff_base_s": 0.0,
                 "args": {"price_in": 1000.0, "price_out": 1000.0}}
        r = run_task(tmp_path, model, rollout_cost_limit=1e-6)
        assert len(server.chat_requests) == 1
    check(r, Termination.COST_LIMIT)
    cost = r.usage["agent"].cost
    assert r.steps == 1 and cost is not None and cost > 1e-6


def test_model_error_is_an_infrastructure_error(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: {"error": "500"}) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url, "max_retries": 2,
                 "backoff_base_s": 0.0}
        r = run_task(tmp_path, model)
        assert len(server.chat_requests) == 3  # the call and its two retries
    check(r, Termination.MODEL_ERROR)
    assert r.error and "500" in r.error and r.steps == 0


def test_context_overflow_is_not_retried_nor_infrastructure(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: {"error": "context_overflow"}) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url, "max_retries": 2,
                 "backoff_base_s": 0.0}
        r = run_task(tmp_path, model)
        assert len(server.chat_requests) == 1
    check(r, Termination.CONTEXT_OVERFLOW)
    assert r.error


# --------------------------------------------- one run holding every ending


class PlanModel(Model):
    """An agent that ends each (task, trial) as ``args.plan[task][trial]`` says.

    ``pass``, ``agent_stop``, ``transfer`` and ``costly`` follow the oracle
    (the gold actions), changing only the closing message or the price;
    ``infra`` and ``overflow`` raise the typed errors a provider raises.
    """

    def __init__(self, config: ModelConfig, kind: str = "", oracle: Model | None = None
                 ) -> None:
        super().__init__(config)
        self.kind, self.oracle = kind, oracle

    def for_episode(self, episode: EpisodeInfo) -> Model:
        kind = self.config.args["plan"][episode.task.id][episode.trial]
        return PlanModel(self.config, kind, create_model("oracle").for_episode(episode))

    async def generate(self, messages: list[Message], tools: list[dict[str, Any]] | None = None,
                       **params: Any) -> ModelResponse:
        kind = self.kind
        free = Usage(prompt_tokens=1, completion_tokens=1, cost=0.0, calls=1)
        if kind == "infra":
            raise RetryableModelError("HTTP 500: endpoint down", status=500)
        if kind == "overflow":
            raise ContextOverflowError("prompt longer than the context window")
        if kind == "slow":
            await asyncio.sleep(30)
        if kind in ("max_steps", "errors", "fail"):
            item = {"max_steps": CALC, "errors": BAD}.get(kind)
            msg = (Message.assistant(tool_calls=[ToolCall(id="c", **item["tool_calls"][0])])
                   if item else Message.assistant("Sorry, I cannot help with that."))
            return ModelResponse(message=msg, usage=free)
        assert self.oracle is not None
        reply = await self.oracle.generate(messages, tools, **params)
        if kind == "costly":
            reply.usage = Usage(prompt_tokens=1, completion_tokens=1, cost=1.0, calls=1)
        if reply.message.tool_calls:
            return reply
        if kind == "agent_stop":
            reply.message.content = f"{reply.message.content} ###STOP###"
        elif kind == "transfer":
            reply.message = Message.assistant(
                tool_calls=[ToolCall(id="t", **TRANSFER["tool_calls"][0])])
        return reply


register_provider("termination-plan")(PlanModel)

# Three trials of five tasks. Tasks 0-3 also grade what the agent says (the
# oracle's closing text); task 4 grades only the DB, so a transfer in place
# of the closing text still passes.
PLAN = {
    "0": ["pass", "pass", "infra"],
    "1": ["agent_stop", "max_steps", "infra"],
    "2": ["errors", "slow", "costly"],
    "3": ["pass", "overflow", "fail"],
    "4": ["transfer", "infra", "infra"],
}
ENDS = {
    "pass": (Termination.USER_STOP, 1.0), "agent_stop": (Termination.AGENT_STOP, 1.0),
    "transfer": (Termination.TRANSFER, 1.0), "fail": (Termination.USER_STOP, 0.0),
    "max_steps": (Termination.MAX_STEPS, None), "errors": (Termination.TOO_MANY_ERRORS, None),
    "slow": (Termination.TIMEOUT, None), "costly": (Termination.COST_LIMIT, None),
    "infra": (Termination.MODEL_ERROR, None), "overflow": (Termination.CONTEXT_OVERFLOW, None),
}


def test_pass_k_on_a_run_with_every_ending(tmp_path: Path) -> None:
    agent = {"model": "termination-plan", "args": {"plan": PLAN}, "max_retries": 1,
             "backoff_base_s": 0.0}
    run = toolgym.run(domain="airline", agent_model=agent, user="scripted", tasks="0-4",
                      trials=3, concurrency=16, max_steps=8, max_errors=2,
                      rollout_timeout_s=2.0, rollout_cost_limit=0.5, out=tmp_path / "run")
    results = {r.key: r for r in toolgym.load_run(tmp_path / "run").results}
    assert len(results) == 15
    for task_id, kinds in PLAN.items():
        for trial, kind in enumerate(kinds):
            termination, reward = ENDS[kind]
            check(results[(task_id, trial)], termination, reward)
    # internal_error (a component raising) is reached in test_run_health.py.
    assert set(run.summary["terminations"]) == {t.value for t in Termination} - {
        "cancelled", "internal_error"}
    assert run.summary["infra_errors"] == 4
    # tau-bench: every trial counts; successes per task c = 2, 1, 0, 1, 1 of n = 3.
    #   pass^1 = 5/15; pass^2 = C(2,2)/C(3,2) / 5 = 1/15; pass^3 = 0.
    # tau2: the model errors are left out: (n, c) = (2,2) (2,1) (3,0) (3,1) (1,1).
    #   pass^1 = (1 + 1/2 + 0 + 1/3 + 1) / 5 = 17/30;
    #   pass^2 over the four tasks with two valid trials = (1 + 0 + 0 + 0) / 4;
    #   pass^3 over tasks 2 and 3 only = 0.
    tau_bench, tau2 = run.summary["pass_k"]["tau-bench"], run.summary["pass_k"]["tau2"]
    assert tau_bench == pytest.approx({"1": 5 / 15, "2": 1 / 15, "3": 0.0})
    assert tau2 == pytest.approx({"1": 17 / 30, "2": 1 / 4, "3": 0.0})
    assert toolgym.load_run(tmp_path / "run").summary["pass_k"] == run.summary["pass_k"]
