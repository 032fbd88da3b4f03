"""``toolgym import tau-bench``: the real gpt-4o airline file, metrics, messages, tasks,
and what works (report, compare, judge) or is refused (resume) on an imported run."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import toolgym
from toolgym.cli._app import app
from toolgym.interop import IMPORTED_NOTE, import_tau_bench, read_tau_bench, regrade_run
from toolgym.runner import RunData, Termination
from toolgym.tasks import load_tasks

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env=WIDE)


def one_error_line(res: Result, code: int = 1) -> str:
    assert res.exit_code == code, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    return lines[0]


def tau_bench_pass_k(records: list[dict[str, Any]], k: int) -> float:
    """tau-bench's own estimator, from the raw records: per task C(c, k) / C(n, k) over all
    its trials (c: rewards equal to 1), averaged over tasks."""
    by_task: dict[Any, list[float]] = defaultdict(list)
    for rec in records:
        by_task[rec["task_id"]].append(rec["reward"])
    values = [math.comb(sum(1 for r in rs if r == 1), k) / math.comb(len(rs), k)
              for rs in by_task.values()]
    return sum(values) / len(values)


def test_gpt4o_figures_equal_tau_bench_own(v1_run: RunData,
                                          v1_records: list[dict[str, Any]]) -> None:
    s = v1_run.summary
    assert s["n_rollouts"] == 200 and s["n_tasks"] == 50
    assert s["avg_reward"] == pytest.approx(0.42)
    # tau-bench's published leaderboard row for TC (gpt-4o), airline.
    published = {1: 0.420, 2: 0.273, 3: 0.220, 4: 0.200}
    for k in range(1, 5):
        own = tau_bench_pass_k(v1_records, k)
        assert own == pytest.approx(published[k], abs=5e-4)
        for convention in ("tau-bench", "tau2"):
            assert s["pass_k"][convention][str(k)] == pytest.approx(own, abs=1e-12)
    # The same figures come back from the files alone.
    assert toolgym.load_run(v1_run.path).summary["pass_k"] == s["pass_k"]


def test_trials_terminations_and_costs_kept(v1_run: RunData,
                                            v1_records: list[dict[str, Any]]) -> None:
    got = {(r.task_id, r.trial): r for r in v1_run.results}
    assert set(got) == {(str(rec["task_id"]), rec["trial"]) for rec in v1_records}
    for rec in v1_records:
        r = got[(str(rec["task_id"]), rec["trial"])]
        assert r.reward == rec["reward"]
        info = rec["info"]
        if info["reward_info"] is None:
            assert r.termination is Termination.MAX_STEPS
        elif info["source"] == "transfer_to_human_agents":
            assert r.termination is Termination.TRANSFER
        else:
            assert info["source"] == "user" and r.termination is Termination.USER_STOP
        assert r.usage["user"].cost == info["user_cost"]
        assert r.usage["agent"].cost is None  # v1 does not record the agent's cost
        assert r.breakdown.notes[0].startswith(IMPORTED_NOTE)
    assert v1_run.summary["terminations"] == {"user_stop": 147, "transfer": 48, "max_steps": 5}
    assert v1_run.summary["cost"] == "unknown"


def test_messages_normalised(v1_run: RunData, v1_records: list[dict[str, Any]]) -> None:
    rec = next(r for r in v1_records if r["task_id"] == 0 and r["trial"] == 0)
    result = next(r for r in v1_run.results if r.key == ("0", 0))
    assert [m.role for m in result.messages] == [m["role"] for m in rec["traj"]]
    calls = [c for m in result.messages for c in m.tool_calls or []]
    raw_calls = [c for m in rec["traj"] for c in m.get("tool_calls") or []]
    assert len(calls) == len(raw_calls) > 0
    for call, raw in zip(calls, raw_calls, strict=True):
        assert call.name == raw["function"]["name"]
        assert call.arguments == json.loads(raw["function"]["arguments"])
    # v1 reuses call ids within a conversation (this one does); toolgym's are unique and
    # each tool message answers the call just before it.
    assert len({c["id"] for c in raw_calls}) < len(raw_calls)
    assert len({c.id for c in calls}) == len(calls)
    for i, m in enumerate(result.messages):
        if m.role == "tool":
            caller = result.messages[i - 1]
            assert caller.tool_calls and caller.tool_calls[0].id == m.tool_call_id
            assert m.name == caller.tool_calls[0].name
    # Replies to the user (v1's respond action) are assistant text.
    replies = [m.content for m in result.messages if m.role == "assistant" and not m.tool_calls]
    assert replies[0] == rec["traj"][2]["content"]
    assert result.steps == sum(m["role"] == "assistant" for m in rec["traj"])


def test_tasks_built_from_v1_actions_and_outputs(v1_run: RunData,
                                                 v1_records: list[dict[str, Any]]) -> None:
    cfg = v1_run.config["config"]
    tasks = {t.id: t for t in load_tasks(cfg["domain"]["tasks_file"])}
    assert len(tasks) == 50
    for rec in v1_records:
        task = tasks[str(rec["task_id"])]
        v1 = rec["info"]["task"]
        assert [(a.name, a.arguments) for a in task.gold_actions] == [
            (a["name"], a["kwargs"]) for a in v1["actions"]]
        assert task.evaluation_criteria is not None
        assert task.evaluation_criteria.communicate_info == v1["outputs"]
        assert task.user_scenario.instructions == v1["instruction"]
    assert sum(bool(t.evaluation_criteria and t.evaluation_criteria.communicate_info)
               for t in tasks.values()) == 4


def test_config_marks_the_import(v1_run: RunData, v1_file: Path) -> None:
    imported = v1_run.config["imported"]
    assert imported["source"] == "tau-bench"
    assert imported["sha256"] == hashlib.sha256(v1_file.read_bytes()).hexdigest()
    assert Path(imported["file"]) == v1_file.resolve()
    assert v1_run.agent_model == "gpt-4o" and v1_run.domain == "airline"


def test_cli_import_prints_the_figures(v1_file: Path, tau2_airline_dir: Path,
                                       tmp_path: Path) -> None:
    res = invoke("import", "tau-bench", str(v1_file), "--domain", "airline", "--data-dir",
                 str(tau2_airline_dir), "--out", str(tmp_path / "run"))
    assert res.exit_code == 0, res.output
    assert "imported 200 rollouts (50 tasks)" in res.stdout
    assert "avg reward 0.420; pass^1..4 (tau-bench) 0.420 0.273 0.220 0.200" in res.stdout
    # A second import into the same directory is refused.
    again = invoke("import", "tau-bench", str(v1_file), "--domain", "airline", "--out",
                   str(tmp_path / "run"))
    assert "already holds a run" in one_error_line(again)


def test_report_compare_and_graph_judge_work(v1_run: RunData, tmp_path: Path) -> None:
    run_dir = tmp_path / "imported"
    shutil.copytree(v1_run.path, run_dir)
    res = invoke("report", str(run_dir), "-o", str(tmp_path / "r.html"))
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "gpt-4o" in html and "0.420" in html
    res = invoke("compare", str(run_dir), str(v1_run.path))
    assert res.exit_code == 0, res.output
    res = invoke("judge", str(run_dir), "--judge", "graph")
    assert res.exit_code == 0, res.output
    scores = (run_dir / "scores" / "graph.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(scores) == 200
    passed = {(s["task_id"], s["trial"]) for s in map(json.loads, scores) if s["success"]}
    # The graph judge matches writes to gold actions: every rollout it passes wrote what the
    # gold actions write, so (with the reward's DB check) most of them passed the reward.
    rewarded = {r.key for r in v1_run.results if r.success}
    assert len(passed & rewarded) >= 0.9 * len(rewarded)


def test_resume_and_run_refuse_an_imported_run(v1_run: RunData) -> None:
    line = one_error_line(invoke("resume", str(v1_run.path)))
    assert "imported from tau-bench (gpt-4o-airline.json)" in line
    assert "cannot resume" in line
    line = one_error_line(invoke("run", "--domain", "airline", "--agent-model", "oracle",
                                 "--user", "scripted", "--out", str(v1_run.path)))
    assert "imported from tau-bench" in line
    with pytest.raises(toolgym.errors.ConfigError, match="cannot resume"):
        toolgym.resume(v1_run.path)


def _react_record() -> dict[str, Any]:
    return {
        "task_id": 3, "trial": 0, "reward": 1.0,
        "info": {"task": {"user_id": "u1", "instruction": "You want to cancel ABC.",
                          "actions": [{"name": "cancel_reservation",
                                       "kwargs": {"reservation_id": "ABC"}}],
                          "outputs": []},
                 "source": "user", "user_cost": 0.01,
                 "reward_info": {"reward": 1.0, "info": {"r_actions": 1.0,
                                                         "gt_data_hash": "x"}}},
        "traj": [
            {"role": "system", "content": "policy"},
            {"role": "user", "content": "Cancel ABC please."},
            {"role": "assistant", "content": "Thought:\nI should cancel.\nAction:\n"
             '{"name": "cancel_reservation", "arguments": {"reservation_id": "ABC"}}'},
            {"role": "user", "content": "API output: {\"status\": \"cancelled\"}"},
            {"role": "assistant", "content": 'Thought:\nTell them.\nAction:\n'
             '{"name": "respond", "arguments": {"content": "Done, ABC is cancelled."}}'},
            {"role": "user", "content": "Thanks ###STOP###"},
        ],
    }


def test_react_trajectory_actions_become_calls_and_replies(tmp_path: Path) -> None:
    path = tmp_path / "react.json"
    path.write_text(json.dumps([_react_record()]), encoding="utf-8")
    run = import_tau_bench(path, tmp_path / "run", "airline")
    (r,) = run.results
    roles = [m.role for m in r.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    call = r.messages[2].tool_calls[0]  # type: ignore[index]
    assert (call.name, call.arguments) == ("cancel_reservation", {"reservation_id": "ABC"})
    assert r.messages[2].reasoning == "I should cancel."
    assert r.messages[3].tool_call_id == call.id and r.messages[3].content == (
        '{"status": "cancelled"}')
    assert r.messages[4].content == "Done, ABC is cancelled."
    assert r.breakdown.components == {"DB": 1.0, "COMMUNICATE": 1.0}


@pytest.mark.parametrize(("content", "expected"), [
    ('{"task_id": 1}', "expected a JSON list of tau-bench results"),
    ('{"info": {}, "tasks": [], "simulations": []}', "use toolgym import tau2"),
    ('[{"task_id": 1, "trial": 0, "reward": 1.0, "info": {}}]',
     "record #0 (task 1, trial 0): field traj missing"),
    ('[{"task_id": 1, "trial": 0, "reward": "one", "info": {}, "traj": []}]',
     "reward must be a number"),
    ("[1, 2", "invalid JSON"),
])
def test_bad_files_give_one_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    line = one_error_line(invoke("import", "tau-bench", str(path), "--domain", "airline",
                                 "--out", str(tmp_path / "run")))
    assert expected in line and str(path) in line
    assert not (tmp_path / "run").exists()


def test_unknown_domain_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([_react_record()]), encoding="utf-8")
    with pytest.raises(toolgym.errors.DataError, match="unknown tau-bench domain 'telecom'"):
        read_tau_bench(path, "telecom")


def test_a_moved_import_still_finds_its_tasks(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([_react_record()]), encoding="utf-8")
    import_tau_bench(path, tmp_path / "here", "airline")
    shutil.move(tmp_path / "here", tmp_path / "there")
    report = regrade_run(tmp_path / "there")
    assert [i.task_id for i in report.items] == ["3"]
