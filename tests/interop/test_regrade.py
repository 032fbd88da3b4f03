"""``toolgym regrade``: toolgym's ground truth against the recorded rewards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from toolgym.cli._app import app
from toolgym.interop import import_tau_bench, regrade_run
from toolgym.runner import RunData

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


def test_gpt4o_file_agrees_with_tau_bench(v1_run: RunData, tau2_airline_dir: Path) -> None:
    report = regrade_run(v1_run.path, data_dir=tau2_airline_dir)
    assert len(report.items) == 200 and len(report.compared) == 200
    # tau2's airline data holds v1's database: toolgym's replay of the trajectories' writes
    # agrees with tau-bench's own grading on every rollout.
    assert report.agreements == 200, [i.reason for i in report.disagreements]
    per_task = report.per_task()
    assert len(per_task) == 50
    assert sum(t.recorded_passes for t in per_task) == 84 == sum(
        t.regraded_passes for t in per_task)


def _flipped(records: list[dict[str, Any]], path: Path) -> tuple[str, int]:
    """Two trials of task 0 with the first failing one's reward set to 1; returns its key."""
    chosen = [r for r in records if r["task_id"] == 0][:2]
    chosen = json.loads(json.dumps(chosen))
    bad = next(r for r in chosen if r["reward"] == 0.0 and r["info"]["reward_info"])
    bad["reward"] = 1.0
    path.write_text(json.dumps(chosen), encoding="utf-8")
    return str(bad["task_id"]), bad["trial"]


def test_disagreement_names_the_differing_records(v1_records: list[dict[str, Any]],
                                                  tau2_airline_dir: Path,
                                                  tmp_path: Path) -> None:
    key = _flipped(v1_records, tmp_path / "flipped.json")
    run = import_tau_bench(tmp_path / "flipped.json", tmp_path / "run", "airline",
                           data_dir=tau2_airline_dir)
    report = regrade_run(run.path)
    (item,) = report.disagreements
    assert (item.task_id, item.trial) == key
    assert item.recorded == 1.0 and item.regraded == 0.0
    assert item.reason is not None
    assert item.reason.startswith("recorded pass by tau-bench; toolgym fails it: DB mismatch")
    # Task 0 books a reservation: the agent's booking differs from the gold one.
    assert "reservations" in item.reason or "users" in item.reason or "flights" in item.reason
    res = runner.invoke(app, ["regrade", str(run.path), "--out", str(tmp_path / "g.jsonl")],
                        env=WIDE)
    assert res.exit_code == 0, res.output
    assert f"task {key[0]} trial {key[1]}: recorded pass by tau-bench" in res.stdout
    assert "agreement with the recorded rewards (tau-bench): 1/2 rollouts (50.0%)" in res.stdout
    lines = [json.loads(x) for x in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert [x["agree"] for x in lines].count(False) == 1


def test_recorded_fail_that_toolgym_passes(v1_records: list[dict[str, Any]],
                                           tau2_airline_dir: Path, tmp_path: Path) -> None:
    rec = json.loads(json.dumps(next(r for r in v1_records
                                     if r["task_id"] == 1 and r["reward"] == 1.0)))
    rec["reward"] = 0.0
    rec["info"]["reward_info"]["reward"] = 0.0
    rec["info"]["reward_info"]["info"]["r_actions"] = 0.0
    (tmp_path / "r.json").write_text(json.dumps([rec]), encoding="utf-8")
    run = import_tau_bench(tmp_path / "r.json", tmp_path / "run", "airline",
                           data_dir=tau2_airline_dir)
    (item,) = regrade_run(run.path).items
    assert item.agree is False
    assert item.reason == ("recorded fail by tau-bench (DB mismatch); toolgym passes it (DB, "
                           "COMMUNICATE all met)")
