"""``toolgym synth``: the commands end to end, and bad input as one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolgym.cli._app import app

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["synth", *args])
    # A user error is an exit status, never a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.stdout, result.stderr


def test_tasks_writes_tasks_report_and_splits(tmp_path: Path) -> None:
    out = tmp_path / "set" / "tasks.json"
    code, stdout, stderr = _invoke("tasks", "--domain", "retail", "--n", "20", "--seed", "3",
                                   "--split", "train=0.5,test=0.5", "--out", str(out))
    assert code == 0, stderr
    assert "20 candidates checked, 20 kept (100.0%), 0 rejected" in stdout
    for line in ("per scenario type: ", "per difficulty: ", "per write tool: ",
                 "per split: train "):
        assert line in stdout
    tasks = json.loads(out.read_text())
    splits = json.loads((out.parent / "split_tasks.json").read_text())
    report = json.loads((out.parent / "tasks.report.json").read_text())
    assert len(tasks) == 20 and sorted(splits) == ["base", "test", "train"]
    assert report["kept"] == 20 and report["stats"]["tasks"] == 20
    first = out.read_bytes()
    code, _, _ = _invoke("tasks", "--domain", "retail", "--n", "20", "--seed", "3",
                         "--split", "train=0.5,test=0.5", "--out", str(out))
    assert code == 0 and out.read_bytes() == first


def test_validate_passes_generated_and_names_each_rejected_task(tmp_path: Path) -> None:
    out = tmp_path / "tasks.json"
    assert _invoke("tasks", "--n", "12", "--out", str(out))[0] == 0
    code, stdout, _ = _invoke("validate", str(out))
    assert code == 0 and "12 tasks checked, 12 kept (100.0%)" in stdout
    tasks = json.loads(out.read_text())
    tasks[1]["evaluation_criteria"]["actions"].append({"name": "teleport", "arguments": {}})
    tasks[2] = {"id": "no-scenario"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(tasks))
    report = tmp_path / "r.json"
    code, stdout, stderr = _invoke("validate", str(bad), "--report", str(report))
    assert code == 1
    n = len(tasks[1]["evaluation_criteria"]["actions"]) - 1
    assert f"task {tasks[1]['id']}: rejected: schema: action {n} (teleport): unknown tool" \
        in stderr.replace("\n", " ")
    assert "task no-scenario: rejected: schema: field user_scenario: Field required" in stderr
    assert "2 rejected (schema 2)" in stdout
    assert json.loads(report.read_text())["by_rule"] == {"schema": 2}


def test_solvability_keeps_solved_tasks_and_records_pass_rates(tmp_path: Path) -> None:
    out = tmp_path / "solved.json"
    code, _, stderr = _invoke("tasks", "--n", "4", "--solve-with", "oracle",
                              "--solve-trials", "2", "--out", str(out))
    assert code == 0, stderr
    tasks = json.loads(out.read_text())
    assert [t["synth"]["pass_rate"] for t in tasks] == [1.0] * 4
    assert {t["synth"]["solve_trials"] for t in tasks} == {2}
    # A structural "medium" or "hard" task every trial solves moves one step easier.
    for t in tasks:
        levels = ["easy", "medium", "hard"]
        structural = t["synth"]["structural_difficulty"]
        assert t["difficulty"] == levels[max(0, levels.index(structural) - 1)]


def test_solvability_rejects_tasks_nobody_solves(tmp_path: Path) -> None:
    out = tmp_path / "unsolved.json"
    code, _, stderr = _invoke("tasks", "--n", "2", "--solve-with", "scripted",
                                   "--out", str(out))
    assert code == 1
    assert "rejected: solvability: not solved in 1 trial(s) by scripted" in stderr
    assert "only 0 of 2 tasks" in stderr
    assert json.loads(out.read_text()) == []
    report = json.loads((tmp_path / "unsolved.report.json").read_text())
    assert report["by_rule"] == {"solvability": 2} and report["kept"] == 0


def test_split_and_export_commands(tmp_path: Path) -> None:
    out = tmp_path / "tasks.json"
    assert _invoke("tasks", "--n", "10", "--out", str(out))[0] == 0
    (tmp_path / "split_tasks.json").unlink(missing_ok=True)
    code, stdout, _ = _invoke("split", str(out), "--split", "a=0.7,b=0.3")
    assert code == 0 and "splits: " in stdout
    assert sorted(json.loads((tmp_path / "split_tasks.json").read_text())) == ["a", "b", "base"]
    code, stdout, _ = _invoke("export", str(out), "--out", str(tmp_path / "v1.json"))
    assert code == 0 and "10 tasks written" in stdout


def test_types_lists_scenario_types() -> None:
    code, stdout, _ = _invoke("types", "--domain", "retail")
    assert code == 0 and "retail  exchange" in stdout and "airline" not in stdout
    assert _invoke("types", "--domain", "library")[0] == 2


@pytest.mark.parametrize("args,message", [
    (["validate", "missing.json"], "missing.json: task file not found"),
    (["tasks", "--n", "3", "--types", "warp", "--out", "x.json"],
     "unknown airline scenario type(s) 'warp'"),
    (["tasks", "--n", "3", "--split", "train=2", "--out", "x.json"], "add up to 2"),
    (["tasks", "--n", "3", "--domain", "library", "--out", "x.json"], "unknown domain"),
    (["tasks", "--n", "3", "--method", "llm", "--out", "x.json"], "needs a generator model"),
    (["tasks", "--n", "5", "--max-attempts", "2", "--out", "x.json"], "only 2 of 5 tasks"),
    (["export", "missing.json", "--format", "csv", "--out", "y.json"],
     "unknown export format 'csv'"),
    (["import", "missing.json", "--out", "y.json"], "missing.json: tau-bench task file not "
                                                    "found"),
])
def test_bad_input_is_one_line(args: list[str], message: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = _invoke(*args)
    assert code in (1, 2)
    assert message in stderr.replace("\n", " "), stderr
    assert "Traceback" not in stderr


def test_not_an_array(tmp_path: Path) -> None:
    f = tmp_path / "obj.json"
    f.write_text('{"id": 1}')
    code, _, stderr = _invoke("validate", str(f))
    assert code == 1 and "expected a JSON array of tasks" in stderr


def test_a_stale_split_file_beside_the_output_is_warned_about(tmp_path: Path) -> None:
    out = tmp_path / "tasks.json"
    assert _invoke("tasks", "--n", "6", "--split", "a=0.5,b=0.5", "--out", str(out))[0] == 0
    code, _, stderr = _invoke("tasks", "--n", "3", "--seed", "9", "--out", str(out))
    assert code == 0 and "split_tasks.json names tasks that" in stderr.replace("\n", " ")
