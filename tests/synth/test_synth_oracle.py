"""Generated tasks are solvable and gradeable: the oracle scores 1.0, wrong agents do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from synth_helpers import of_type

import toolgym
from toolgym.messages import Message, ToolCall
from toolgym.synth import SCENARIO_TYPES, SynthResult, generate_tasks, save_result
from toolgym.tasks import Task


def _run_oracle(name: str, data_dir: Path | None, result: SynthResult, tmp_path: Path) -> Any:
    tasks_file = tmp_path / name / "tasks.json"
    save_result(result, tasks_file)
    return toolgym.run(domain=name, data_dir=data_dir, tasks_file=tasks_file,
                       agent_model="oracle", user="scripted", concurrency=16,
                       out=tmp_path / name / "run")


@pytest.mark.parametrize("name", ["airline", "retail"])
def test_oracle_scores_one_on_every_scenario_type(name: str, request: pytest.FixtureRequest,
                                                  tmp_path: Path) -> None:
    result: SynthResult = request.getfixturevalue(f"{name}_set")
    run = _run_oracle(name, None, result, tmp_path)
    assert len(run.results) == len(result.tasks)
    assert run.summary["avg_reward"] == 1.0
    by_type = {t.id: (t.model_extra or {})["scenario_type"] for t in result.tasks}
    assert {by_type[r.task_id] for r in run.results if r.success} == set(SCENARIO_TYPES[name])


def test_oracle_scores_one_on_tau2_data(tau2_airline_dir: Path, tau2_retail_dir: Path,
                                        tmp_path: Path) -> None:
    for name, data in (("airline", tau2_airline_dir), ("retail", tau2_retail_dir)):
        domain = toolgym.load_domain(name, data_dir=data)
        result = generate_tasks(domain, n=2 * len(SCENARIO_TYPES[name]), seed=5)
        run = _run_oracle(name, data, result, tmp_path)
        assert run.summary["avg_reward"] == 1.0, name


def _graded(domain: Any, raw: dict[str, Any], calls: list[tuple[str, dict[str, Any]]],
            text: str) -> float | None:
    task = Task.model_validate(raw)
    messages = [Message.system("policy"), Message.user("hi")]
    for i, (name, args) in enumerate(calls):
        messages.append(Message.assistant(tool_calls=[ToolCall(id=str(i), name=name,
                                                               arguments=args)]))
        result = domain.toolkit().call(name, args)
        messages.append(Message(role="tool", content=result.content, tool_call_id=str(i)))
    messages.append(Message.assistant(text))
    return toolgym.evaluate(domain, task, messages).reward


@pytest.mark.parametrize("name", ["airline", "retail"])
def test_refusals_are_gradeable(name: str, request: pytest.FixtureRequest) -> None:
    """Refusing with the reason passes; staying silent fails; doing the forbidden write fails."""
    result: SynthResult = request.getfixturevalue(f"{name}_set")
    domain = toolgym.load_domain(name)
    raw = of_type(result, "refusal")
    reads = [(a["name"], a["arguments"]) for a in raw["evaluation_criteria"]["actions"]]
    reason = raw["evaluation_criteria"]["communicate_info"][0]
    assert _graded(domain, raw, reads, f"Sorry, I cannot do that: {reason}.") == 1.0
    assert _graded(domain, raw, reads, "Sorry, I cannot help with that.") == 0.0
    # Any write the tools accept changes the database, which the gold leaves alone.
    write = (("cancel_reservation", {"reservation_id": raw["synth"]["contexts"][0]["refused"]})
             if name == "airline" else
             ("modify_user_address", {
                 "user_id": raw["user_id"], "address1": "1 Main St", "address2": "",
                 "city": "Reno", "state": "NV", "country": "USA", "zip": "89501"}))
    assert not domain.toolkit().call(*write).error
    assert _graded(domain, raw, [*reads, write], f"Done, even though: {reason}.") == 0.0


def test_write_tasks_fail_an_agent_that_does_nothing(airline_set: SynthResult) -> None:
    domain = toolgym.load_domain("airline")
    raw = of_type(airline_set, "add_bags")
    reads = [(a["name"], a["arguments"]) for a in raw["evaluation_criteria"]["actions"]
             if a["name"].startswith("get_")]
    info = " ".join(raw["evaluation_criteria"]["communicate_info"])
    assert _graded(domain, raw, reads, f"It costs {info}.") == 0.0
