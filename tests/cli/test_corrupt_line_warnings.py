"""Every command that reads a run warns, once, about a corrupt line it skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app

cli = CliRunner()


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("corrupt") / "run"
    toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0-4",
                out=run_dir)
    results = run_dir / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:150] + "\n"  # a record cut short in the middle of the file
    results.write_text("".join(lines))
    return run_dir


@pytest.mark.parametrize("command", [
    ["export", "tau2", "{run}", "--out", "{tmp}/t.json"], ["export", "csv", "{run}"],
    ["stats", "{run}"], ["regrade", "{run}"], ["show", "{run}", "0"],
    ["dataset", "build", "{run}", "--out", "{tmp}/ds"], ["judge", "{run}", "--judge", "graph"],
    ["report", "{run}", "-o", "{tmp}/r.html"]])
def test_the_skipped_line_is_named_once(command: list[str], damaged: Path,
                                        tmp_path: Path) -> None:
    args = [a.format(run=damaged, tmp=tmp_path) for a in command]
    res = cli.invoke(app, args, env={"COLUMNS": "200"})
    warnings = [x for x in res.stderr.splitlines() if x.startswith("warning:")]
    assert warnings == [f"warning: {damaged / 'results.jsonl'}:3: skipped, not a valid "
                        f"rollout record" + warnings[0].split("rollout record", 1)[1]], \
        res.stderr
