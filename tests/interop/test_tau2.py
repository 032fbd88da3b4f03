"""``toolgym export tau2`` and ``toolgym import tau2``: the schema, and export -> import."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner, Result

import toolgym
from toolgym.cli._app import app
from toolgym.interop import (
    IMPORTED_NOTE,
    export_tau2,
    import_tau2,
    tau2_results,
    tau2_results_schema,
)
from toolgym.runner import RolloutResult, RunData, Termination

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env=WIDE)


def validate(data: Any) -> None:
    schema = tau2_results_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(data)


def without_import_note(r: RolloutResult) -> dict[str, Any]:
    d = r.model_dump(mode="json")
    d["breakdown"]["notes"] = [n for n in d["breakdown"]["notes"]
                               if not n.startswith(IMPORTED_NOTE)]
    return d


def metrics(run: RunData) -> dict[str, Any]:
    s = run.summary
    return {k: s[k] for k in ("n_rollouts", "n_tasks", "avg_reward", "pass_k", "terminations",
                              "infra_errors", "judge_needed")}


def test_export_is_valid_tau2_results(offline_run: RunData, tmp_path: Path) -> None:
    res = invoke("export", "tau2", str(offline_run.path), "--out", str(tmp_path / "r.json"),
                 "--check")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    validate(data)
    assert len(data["simulations"]) == 200 and len(data["tasks"]) == 50
    assert data["info"]["environment_info"]["domain_name"] == "airline"
    assert data["info"]["agent_info"]["llm"] == "oracle"
    assert data["info"]["num_trials"] == 4
    sim = data["simulations"][0]
    # The system prompt is in info, not repeated in the messages.
    assert sim["messages"][0]["role"] == "assistant"
    calls = {c["id"] for m in sim["messages"] for c in m.get("tool_calls") or []}
    assert all(m["id"] in calls for m in sim["messages"] if m["role"] == "tool")
    # An invalid export is caught by the schema (so the schema can fail).
    broken = json.loads(json.dumps(data))
    broken["simulations"][0]["termination_reason"] = "transfer"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    del broken["simulations"][0]["messages"][1]["role"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(tau2_results_schema()).validate(broken)


def test_export_import_round_trips(offline_run: RunData, tmp_path: Path) -> None:
    path = export_tau2(offline_run.path, tmp_path / "r.json")
    res = invoke("import", "tau2", str(path), "--out", str(tmp_path / "back"))
    assert res.exit_code == 0, res.output
    back = toolgym.load_run(tmp_path / "back")
    a = {r.key: r.model_dump(mode="json") for r in offline_run.results}
    b = {r.key: without_import_note(r) for r in back.results}
    assert a == b
    assert metrics(back) == metrics(offline_run)
    assert all(r.breakdown.notes[0].startswith(IMPORTED_NOTE) for r in back.results)
    assert back.config["imported"]["source"] == "tau2"


def test_plain_tau2_fields_give_the_same_metrics(offline_run: RunData, tmp_path: Path) -> None:
    """Without toolgym's extension (what tau2 itself would keep), the rewards, pass^k and
    conversations still come back."""
    data = tau2_results(offline_run)
    for sim in data["simulations"]:
        sim["reward_info"]["info"] = None
        for m in sim["messages"]:
            m.pop("raw_data", None)
    (tmp_path / "plain.json").write_text(json.dumps(data), encoding="utf-8")
    back = import_tau2(tmp_path / "plain.json", tmp_path / "back")
    assert back.summary["pass_k"] == offline_run.summary["pass_k"]
    assert back.summary["avg_reward"] == offline_run.summary["avg_reward"]
    orig = {r.key: r for r in offline_run.results}
    for r in back.results:
        o = orig[r.key]
        assert r.reward == o.reward and r.success == o.success
        assert [(m.role, m.content, m.tool_call_id) for m in r.messages] == [
            (m.role, m.content, m.tool_call_id) for m in o.messages]
        assert [c.model_dump() for m in r.messages for c in m.tool_calls or []] == [
            c.model_dump() for m in o.messages for c in m.tool_calls or []]
        # tau2 has no transfer: a transfer comes back as a user stop.
        assert r.termination == (Termination.USER_STOP if o.termination is Termination.TRANSFER
                                 else o.termination)


def test_imported_tau_bench_run_exports_and_comes_back(v1_run: RunData,
                                                       tmp_path: Path) -> None:
    path = export_tau2(v1_run.path, tmp_path / "v1.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    validate(data)
    back = import_tau2(path, tmp_path / "back")
    assert metrics(back) == metrics(v1_run)
    assert back.summary["avg_reward"] == pytest.approx(0.42)
    assert {r.key: without_import_note(r) for r in back.results} == {
        r.key: without_import_note(r) for r in v1_run.results}


# ------------------------------------------------------------- a file written by tau2


def _msg(role: str, content: str | None, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, "turn_idx": None, "timestamp": None, **extra}


def _sim(task_id: str, trial: int, reward: float | None, reason: str) -> dict[str, Any]:
    call = {"id": "c1", "name": "get_user_details", "arguments": {"user_id": "u1"},
            "requestor": "assistant"}
    call2 = {"id": "c2", "name": "get_reservation_details",
             "arguments": {"reservation_id": "ABC"}, "requestor": "assistant"}
    messages = [
        _msg("assistant", "Hi! How can I help you today?"),
        _msg("user", "Look up my account.", cost=0.001,
             usage={"prompt_tokens": 10, "completion_tokens": 5}),
        _msg("assistant", None, tool_calls=[call, call2], cost=0.002,
             usage={"prompt_tokens": 100, "completion_tokens": 20}),
        {"role": "tool", "tool_messages": [
            _msg("tool", '{"user_id": "u1"}', id="c1", requestor="assistant", error=False),
            _msg("tool", "Error: Reservation ABC not found", id="c2", requestor="assistant",
                 error=True)]},
        _msg("assistant", "Your account is fine.", cost=0.003,
             usage={"prompt_tokens": 150, "completion_tokens": 10}),
        _msg("user", "Thanks ###STOP###", cost=0.001,
             usage={"prompt_tokens": 20, "completion_tokens": 3}),
    ]
    reward_info = None if reward is None else {
        "reward": reward, "db_check": {"db_match": reward == 1.0, "db_reward": reward},
        "communicate_checks": [{"info": "fine", "met": True, "justification": "said"}],
        "reward_basis": ["DB", "COMMUNICATE"],
        "reward_breakdown": {"DB": reward, "COMMUNICATE": 1.0}, "info": None}
    return {"id": f"{task_id}-{trial}", "task_id": task_id, "timestamp": "2025-06-01T10:00:09",
            "start_time": "2025-06-01T10:00:00", "end_time": "2025-06-01T10:00:09",
            "duration": 9.0, "termination_reason": reason, "agent_cost": 0.005,
            "user_cost": 0.002, "reward_info": reward_info, "messages": messages,
            "trial": trial, "seed": 300 + trial}


def _tau2_file(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    sims = [_sim("0", 0, 1.0, "user_stop"), _sim("0", 1, 0.0, "user_stop"),
            _sim("0", 2, 1.0, "user_stop"), _sim("1", 0, 1.0, "agent_stop"),
            _sim("1", 1, 0.0, "max_steps"), _sim("1", 2, None, "infrastructure_error")]
    info = {"git_commit": "fc0055d", "num_trials": 3, "max_steps": 100, "max_errors": 10,
            "seed": 300,
            "user_info": {"implementation": "user_simulator", "llm": "gpt-4.1",
                          "llm_args": {"temperature": 0.0}},
            "agent_info": {"implementation": "llm_agent", "llm": "gpt-4.1-mini",
                           "llm_args": {"temperature": 0.0}},
            "environment_info": {"domain_name": "airline", "policy": "# Airline policy",
                                 "tool_defs": None}}
    return {"timestamp": "2025-06-01T10:01:00", "info": info, "tasks": tasks[:2],
            "simulations": sims}


def tau2_pass_k(data: dict[str, Any], k: int) -> float:
    """tau2's pass^k from the raw file: per task, the simulations that did not end on
    infrastructure trouble, C(c, k) / C(n, k), averaged over tasks with n >= k."""
    by_task: dict[str, list[float]] = defaultdict(list)
    for sim in data["simulations"]:
        if sim["termination_reason"] in ("infrastructure_error", "context_window_exceeded"):
            continue
        by_task[sim["task_id"]].append((sim["reward_info"] or {}).get("reward", 0.0))
    vals = [math.comb(sum(1 for r in rs if r == 1.0), k) / math.comb(len(rs), k)
            for rs in by_task.values() if len(rs) >= k]
    return sum(vals) / len(vals)


def test_tau2_file_import(tau2_airline_dir: Path, tmp_path: Path) -> None:
    tasks = json.loads((tau2_airline_dir / "tasks.json").read_text(encoding="utf-8"))
    data = _tau2_file(tasks)
    validate(data)  # what tau2 writes fits the schema too
    (tmp_path / "t.json").write_text(json.dumps(data), encoding="utf-8")
    run = import_tau2(tmp_path / "t.json", tmp_path / "run", data_dir=tau2_airline_dir)
    assert run.domain == "airline" and run.agent_model == "gpt-4.1-mini"
    for k in (1, 2):
        assert run.summary["pass_k"]["tau2"][str(k)] == pytest.approx(tau2_pass_k(data, k))
    r = next(x for x in run.results if x.key == ("0", 0))
    assert [m.role for m in r.messages] == ["system", "assistant", "user", "assistant", "tool",
                                           "tool", "assistant", "user"]
    assert r.messages[0].content == "# Airline policy"
    tools = [m for m in r.messages if m.role == "tool"]
    assert [(m.tool_call_id, m.name, m.error) for m in tools] == [
        ("c1", "get_user_details", False), ("c2", "get_reservation_details", True)]
    assert r.steps == 2  # the fixed greeting is not a model call
    assert r.usage["agent"].cost == 0.005 and r.usage["agent"].prompt_tokens == 250
    assert r.usage["user"].completion_tokens == 8 and r.usage["user"].cost == 0.002
    assert r.timings.duration_s == 9.0 and r.seed == 300
    assert r.breakdown.db is not None and r.breakdown.db.match
    assert r.breakdown.communicate[0].found
    infra = next(x for x in run.results if x.key == ("1", 2))
    assert infra.termination is Termination.MODEL_ERROR and infra.infra_error
    limit = next(x for x in run.results if x.key == ("1", 1))
    assert limit.termination is Termination.MAX_STEPS and limit.reward == 0.0
    assert run.summary["pass_k"]["tau-bench"]["1"] == pytest.approx((2 / 3 + 1 / 3) / 2)


@pytest.mark.parametrize(("content", "expected"), [
    ("[]", "a tau-bench v1 file? use toolgym import tau-bench"),
    ('{"tasks": [], "simulations": []}', "field info: Field required"),
    ('{"info": {"environment_info": {"domain_name": "airline"}}, "tasks": [], '
     '"simulations": [{"task_id": "9", "termination_reason": "user_stop"}]}',
     "simulations[0]: task '9' is not in the file's tasks"),
])
def test_bad_tau2_files_give_one_line(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "bad.json").write_text(content, encoding="utf-8")
    res = invoke("import", "tau2", str(tmp_path / "bad.json"), "--out", str(tmp_path / "r"))
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], res.stderr
