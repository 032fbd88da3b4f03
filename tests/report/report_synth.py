"""Synthetic runs for the report tests: results written with the real ResultsWriter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolgym.evaluation._types import (
    ActionCheck,
    CommunicateCheck,
    DBCheck,
    NLAssertionCheck,
    RewardBreakdown,
)
from toolgym.messages import Message, ToolCall, Usage
from toolgym.runner._results import RolloutResult, Termination, Timings
from toolgym.runner._store import ResultsWriter, RunData, load_run
from toolgym.tasks import RewardType

POLICY = "You are an airline agent. Follow the policy below.\n" + "Policy line. " * 40


def make_result(task_id: str, trial: int = 0, reward: float | None = 1.0, *,
                termination: Termination = Termination.USER_STOP,
                user_text: str = "Hi, I want to change my flight.",
                tool_text: str = '{"reservation_id": "ABC123", "status": "active"}',
                db_match: bool | None = None, diff: list[dict[str, Any]] | None = None,
                annotations: list[dict[str, Any]] | None = None,
                nl_met: bool | None = None, duration: float = 12.5,
                cost: float | None = 0.002, n_filler: int = 0) -> RolloutResult:
    """One rollout with a small but complete conversation and breakdown."""
    call = ToolCall(id="call_1", name="get_reservation_details",
                    arguments={"reservation_id": "ABC123"})
    messages = [
        Message.system(POLICY),
        Message(role="assistant", content="Hello! How can I help you?", turn=0,
                latency_s=0.8, usage=Usage(prompt_tokens=900, completion_tokens=12, calls=1)),
        Message(role="user", content=user_text, latency_s=0.5),
        Message(role="assistant", tool_calls=[call], turn=1, latency_s=1.2),
        Message(role="tool", content=tool_text, tool_call_id="call_1",
                name="get_reservation_details"),
        Message(role="assistant", content="Your reservation ABC123 is active.", turn=2,
                latency_s=0.9),
    ]
    for i in range(n_filler):
        role = "user" if i % 2 == 0 else "assistant"
        messages.append(Message(role=role, content=f"filler message {i} " * 8, latency_s=0.7))
    messages.append(Message(role="user", content="Thanks, bye. ###STOP###", latency_s=0.4))
    failed = reward is not None and reward < 1
    match = db_match if db_match is not None else not failed
    breakdown = RewardBreakdown(
        reward=reward,
        status="judge_needed" if reward is None else
        ("ok" if termination.normal else "not_scored"),
        reward_basis=[RewardType.DB, RewardType.COMMUNICATE],
        components={"DB": 1.0 if match else 0.0, "COMMUNICATE": 1.0},
        db=DBCheck(match=match, diff=diff or ([] if match else [
            {"table": "reservations", "key": "ABC123",
             "predicted": {"status": "cancelled", "cabin": "economy"},
             "expected": {"status": "active", "cabin": "economy"}}])),
        actions=[ActionCheck(action_id="a0", name="cancel_reservation",
                             arguments={"reservation_id": "ABC123"}, matched=not failed)],
        communicate=[CommunicateCheck(info="ABC123", found=True)],
        nl_assertions=[NLAssertionCheck(assertion="Agent is polite", met=nl_met,
                                        justification="It greeted the user.", turn=1)]
        if nl_met is not None else [],
    )
    usage = {"agent": Usage(prompt_tokens=1000, completion_tokens=100, cost=cost, calls=3),
             "user": Usage(prompt_tokens=500, completion_tokens=50, cost=0.001, calls=3)}
    return RolloutResult(
        task_id=task_id, trial=trial, seed=1000 + trial, messages=messages, reward=reward,
        breakdown=breakdown, termination=termination, steps=3, usage=usage,
        timings=Timings(started_at="2025-01-01T00:00:00Z", finished_at="2025-01-01T00:00:12Z",
                        duration_s=duration),
        error="model endpoint failed" if termination.infrastructure else None,
        annotations=annotations or [],
    )


def write_run(path: Path, results: Sequence[RolloutResult], *, trials: int = 1,
              complete: bool | None = True) -> RunData:
    """Write a run directory (config, results, summary) and load it back."""
    path.mkdir(parents=True, exist_ok=True)
    config = {"domain": {"name": "airline"}, "agent": {"model": {"model": "scripted/test"}},
              "user": {"model": {"model": "scripted/user"}}, "trials": trials}
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    writer = ResultsWriter(path / "results.jsonl", fsync=False)
    for r in results:
        writer.append(r)
    writer.close()
    if complete is not None:
        (path / "summary.json").write_text(json.dumps({"complete": complete}), encoding="utf-8")
    return load_run(path)


def mixed_results(n_tasks: int = 6, trials: int = 3, seed: int = 0) -> list[RolloutResult]:
    """Tasks with a deterministic mix of passes, failures, judge-needed and infra errors."""
    out = []
    for t in range(n_tasks):
        for k in range(trials):
            code = (t * 7 + k * 3 + seed) % 6
            if code == 4:
                out.append(make_result(str(t), k, 0.0, termination=Termination.MAX_STEPS))
            elif code == 5 and t % 2:
                out.append(make_result(str(t), k, 0.0, termination=Termination.MODEL_ERROR))
            elif code == 3:
                out.append(make_result(str(t), k, None, nl_met=None))
            else:
                out.append(make_result(str(t), k, 1.0 if code < 2 else 0.0))
    return out
