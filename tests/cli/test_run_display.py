"""What a run says in the terminal: start line, progress lines, the final table."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from toolgym.cli._app import app

cli = CliRunner()
BASE = ["run", "--agent-arg", "error_rate=0.5", "--tasks", "0-7", "--trials", "2",
        "--no-report"]


def test_plain_lines_give_the_failure_reason_and_progress(tmp_path: Path) -> None:
    res = cli.invoke(app, [*BASE, "--display", "plain", "--out", str(tmp_path / "r")],
                     env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stderr.splitlines() if x.startswith("task ")]
    assert len(lines) == 16
    failed = [x for x in lines if "reward 0.00" in x]
    assert failed and all("DB mismatch" in x or "missing action" in x or "did not say" in x
                          for x in failed)
    assert all(" | done " in x and " | elapsed " in x for x in lines)
    assert res.stderr.splitlines()[0] == "running 16 rollouts"


def test_rerun_and_resume_say_what_is_left(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert cli.invoke(app, [*BASE, "--display", "plain", "--out", str(out)]).exit_code == 0
    again = cli.invoke(app, [*BASE, "--display", "plain", "--out", str(out)])
    assert again.exit_code == 0
    assert "nothing to do (16 rollouts already complete)" in again.stderr
    lines = (out / "results.jsonl").read_bytes().splitlines(keepends=True)
    (out / "results.jsonl").write_bytes(b"".join(lines[:10]))
    resumed = cli.invoke(app, ["resume", str(out), "--display", "plain", "--no-report"])
    assert resumed.exit_code == 0, resumed.output
    assert "resumed: 10 done, 6 to run" in resumed.stderr


def test_final_table_shows_failures_infra_and_elapsed(tmp_path: Path) -> None:
    res = cli.invoke(app, [*BASE, "--display", "none", "--out", str(tmp_path / "r")],
                     env={"COLUMNS": "200"})
    table = res.stdout
    assert "elapsed" in table and "infrastructure errors" in table
    assert "failed: DB mismatch" in table or "failed: missing action" in table
    # pass^k rows are shown once when both conventions agree (no infra errors here).
    assert "pass^2 (tau2)" not in table and "pass^2 " in table
