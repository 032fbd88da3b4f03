"""tau-bench v1 task lists: import (validated on the way in) and export, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from toolgym.cli._app import app
from toolgym.synth import SynthResult, from_tau_bench, save_result, to_tau_bench
from toolgym.tasks import load_tasks

runner = CliRunner()


def test_export_then_import_round_trips(airline_set: SynthResult, airline: Any,
                                        tmp_path: Path) -> None:
    save_result(airline_set, tmp_path / "tasks.json")
    exported = tmp_path / "tau_bench.json"
    res = runner.invoke(app, ["synth", "export", str(tmp_path / "tasks.json"), "--format",
                              "tau-bench", "--out", str(exported)])
    assert res.exit_code == 0, res.output
    items = json.loads(exported.read_text())
    assert len(items) == len(airline_set.tasks)
    assert set(items[0]) == {"user_id", "actions", "instruction", "outputs", "difficulty",
                             "method"}
    assert all(set(a) == {"name", "kwargs"} for a in items[0]["actions"])
    back = tmp_path / "back.json"
    res = runner.invoke(app, ["synth", "import", str(exported), "--format", "tau-bench",
                              "--domain", "airline", "--out", str(back)])
    assert res.exit_code == 0, res.output
    imported = load_tasks(back)
    assert len(imported) == len(airline_set.tasks)
    for old, new in zip(airline_set.tasks, imported, strict=True):
        assert [(a.name, a.arguments) for a in old.gold_actions] == [
            (a.name, a.arguments) for a in new.gold_actions]
        assert (new.model_extra or {})["user_id"] == (old.model_extra or {})["user_id"]
        assert new.evaluation_criteria is not None and old.evaluation_criteria is not None
        assert new.evaluation_criteria.communicate_info == \
            old.evaluation_criteria.communicate_info
    assert to_tau_bench(imported) == items


def test_import_validates_and_rejects_with_reasons(airline: Any, tmp_path: Path) -> None:
    db = airline.snapshot.fork()
    user = next(u for u in db.users.values() if u.reservations)
    good = {"user_id": user.user_id, "difficulty": "easy", "method": "hand-made",
            "instruction": f"Your user id is {user.user_id}. What is your membership?",
            "actions": [{"name": "get_user_details", "kwargs": {"user_id": user.user_id}}],
            "outputs": [user.membership]}
    silent = {**good, "outputs": [], "actions": [
        *good["actions"],
        {"name": "get_reservation_details", "kwargs": {"reservation_id": user.reservations[0]}}]}
    unknown = {**good, "actions": [{"name": "teleport", "kwargs": {}}]}
    broken = {"user_id": user.user_id, "actions": "all of them"}
    source = tmp_path / "v1.json"
    source.write_text(json.dumps([good, silent, unknown, broken]))
    out = tmp_path / "tasks.json"
    res = runner.invoke(app, ["synth", "import", str(source), "--domain", "airline",
                              "--out", str(out)])
    assert res.exit_code == 1
    kept = load_tasks(out)
    assert [t.id for t in kept] == ["tau_bench_0"]
    assert (kept[0].model_extra or {})["method"] == "hand-made" and kept[0].difficulty == "easy"
    report = json.loads((tmp_path / "tasks.report.json").read_text())
    reasons = {v["task_id"]: {r["rule"] for r in v["reasons"]} for v in report["verdicts"]}
    assert reasons == {"tau_bench_0": set(), "tau_bench_1": {"no_effect"},
                       "tau_bench_2": {"schema"}, "tau_bench_3": {"schema"}}
    assert "task tau_bench_3: rejected: schema: field instruction" in res.stderr


def test_from_tau_bench_accepts_task_list_objects() -> None:
    rows = from_tau_bench({"tasks": [{"instruction": "hi", "actions": []}]}, "airline")
    assert rows[0][0] == "tau_bench_0" and rows[0][1] is not None and rows[0][2] is None
    assert from_tau_bench("nope", "airline")[0][2] == "expected a JSON array of tau-bench tasks"


def test_import_tau_bench_v1_results_finds_wrong_gold(shared_dir: Path, tmp_path: Path
                                                       ) -> None:
    """tau-bench's published airline tasks: one task per task_id; the policy check flags the
    known gold errors (a changed destination, bags charged inside the allowance, a delay
    certificate without a change)."""
    results = shared_dir / "tau-bench-v1" / "gpt-4o-airline.json"
    data = shared_dir / "tau2" / "airline"
    out = tmp_path / "v1.json"
    res = runner.invoke(app, ["synth", "import", str(results), "--domain", "airline",
                              "--data-dir", str(data), "--out", str(out)])
    assert res.exit_code == 1
    report = json.loads((tmp_path / "v1.report.json").read_text())
    assert report["checked"] == 50 and report["kept"] == len(load_tasks(out)) >= 15
    verdicts = {v["task_id"]: v for v in report["verdicts"]}
    policy = " ".join(r["message"] for r in verdicts["tau_bench_19"]["reasons"])
    assert "is not a round trip DTW-LGA-DTW" in policy and "means 0" in policy
    assert "delay followed by a change" in verdicts["tau_bench_16"]["reasons"][0]["message"]
    assert verdicts["tau_bench_0"]["kept"]
