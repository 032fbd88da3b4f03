"""``toolgym export csv | parquet``: one row per rollout."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import toolgym
from toolgym.cli._app import app
from toolgym.interop import export_table, rollout_rows
from toolgym.messages import Usage
from toolgym.runner import RunData

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env=WIDE)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> RunData:
    """Built-in airline, an oracle that errs, 3 tasks x 2 trials."""
    out = tmp_path_factory.mktemp("table") / "run"
    return toolgym.run(domain="airline", agent_model={"model": "oracle",
                                                      "args": {"error_rate": 0.5}},
                       user="scripted", trials=2, tasks="0-2", out=str(out))


def test_csv_has_one_row_per_rollout(small_run: RunData, tmp_path: Path) -> None:
    res = invoke("export", "csv", str(small_run.path), "--out", str(tmp_path / "t.csv"))
    assert res.exit_code == 0, res.output
    with (tmp_path / "t.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_key = {(r.task_id, r.trial): r for r in small_run.results}
    assert len(rows) == len(by_key) == 6
    for row in rows:
        r = by_key[(row["task_id"], int(row["trial"]))]
        assert float(row["reward"]) == r.reward
        assert row["success"] == str(r.success).lower()
        assert row["termination"] == r.termination.value
        assert int(row["steps"]) == r.steps and int(row["messages"]) == len(r.messages)
        assert float(row["component_DB"]) == r.breakdown.components["DB"]
        assert int(row["agent_calls"]) == r.usage["agent"].calls
        assert float(row["duration_s"]) == r.timings.duration_s
        assert (row["failure"] == "") == r.success
    assert {"user_cost", "judge_prompt_tokens", "cost", "error"} <= set(rows[0])


def test_csv_default_path_and_unknown_costs(v1_run: RunData, tmp_path: Path) -> None:
    rows, columns = rollout_rows(v1_run)
    assert len(rows) == 200
    assert all(r["agent_cost"] is None and r["cost"] is None for r in rows)  # unknown
    assert [c for c, _ in columns][:4] == ["task_id", "trial", "reward", "success"]
    copy = tmp_path / "copy"
    shutil.copytree(v1_run.path, copy)
    path = export_table(copy, "csv")
    assert path == copy / "rollouts.csv" and path.read_text().count("\n") == 201


_READ_BACK = """
import json, sys
import pyarrow.parquet as pq
from toolgym.cli import main
run_dir, out = sys.argv[1], sys.argv[2]
sys.argv = ["toolgym", "export", "parquet", run_dir, "--out", out]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
table = pq.read_table(out)
print(json.dumps({"columns": table.column_names, "rows": table.to_pylist(),
                  "types": {f.name: str(f.type) for f in table.schema}}))
"""


@pytest.mark.hf  # CI's [hf] stage has pyarrow (datasets needs it)
@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None and
                    os.environ.get("TOOLGYM_REQUIRE_HF") != "1",
                    reason="pyarrow is not installed (pip install 'toolgym[parquet]')")
def test_parquet_round_trips_through_pyarrow(small_run: RunData, tmp_path: Path) -> None:
    # In a child process: pyarrow's allocator reserves so much address space that, under
    # the suite's memory cap, later tests in this process could not start threads.
    out = tmp_path / "t.parquet"
    proc = subprocess.run([sys.executable, "-c", _READ_BACK, str(small_run.path), str(out)],
                          capture_output=True, text=True, timeout=50, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    rows, columns = rollout_rows(small_run)
    assert got["columns"] == [c for c, _ in columns]
    assert got["rows"] == json.loads(json.dumps(rows))
    assert got["types"]["reward"] == "double" and got["types"]["success"] == "bool"
    assert got["types"]["trial"] == "int64" and got["types"]["task_id"] == "string"


def test_parquet_without_pyarrow_is_one_line(small_run: RunData, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    res = invoke("export", "parquet", str(small_run.path), "--out", str(tmp_path / "t.parquet"))
    assert res.exit_code == 1
    assert res.stderr.strip() == ("error: this feature needs the optional package 'pyarrow': "
                                  "pip install 'toolgym[parquet]'")
    assert not (tmp_path / "t.parquet").exists()


def test_export_of_a_missing_run_is_one_line(tmp_path: Path) -> None:
    res = invoke("export", "csv", str(tmp_path / "nowhere"))
    assert res.exit_code == 1
    assert res.stderr.strip() == f"error: {tmp_path / 'nowhere'}: run directory not found"


def test_total_cost_unknown_when_a_role_price_is(small_run: RunData) -> None:
    r = small_run.results[0]
    priced = r.model_copy(update={"usage": {"agent": Usage(calls=2, cost=0.5),
                                            "user": Usage(calls=1, cost=None)}})
    run = RunData(path=small_run.path, config=small_run.config, results=[priced])
    (row,), _ = rollout_rows(run)
    assert row["agent_cost"] == 0.5 and row["user_cost"] is None and row["cost"] is None
