"""compare and stats pair runs by task id: runs on different domains or data are flagged."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app

cli = CliRunner()


def test_pairing_runs_of_different_domains_warns(tmp_path: Path) -> None:
    for name, domain in (("a1", "airline"), ("a2", "airline"), ("r", "retail")):
        toolgym.run(domain=domain, agent_model="oracle", user="scripted", tasks="0-2",
                    out=tmp_path / name)
    same = cli.invoke(app, ["compare", str(tmp_path / "a1"), str(tmp_path / "a2")])
    assert same.exit_code == 0 and "different domains" not in same.stderr
    for args in (["compare", str(tmp_path / "a1"), str(tmp_path / "r")],
                 ["stats", str(tmp_path / "a1"), "--against", str(tmp_path / "r")]):
        res = cli.invoke(app, args, env={"COLUMNS": "200"})
        assert "warning: these runs are on different domains" in res.stderr, res.output
