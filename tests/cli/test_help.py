"""--help shows install hints whole (rich markup would swallow the [extra])."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from toolgym.cli._app import app

cli = CliRunner()


@pytest.mark.parametrize(("command", "hint"), [(["run"], "toolgym[ray]"),
                                               (["optimize"], "toolgym[optimize]")])
def test_help_shows_the_extras_to_install(command: list[str], hint: str) -> None:
    res = cli.invoke(app, [*command, "--help"], env={"COLUMNS": "240"})
    assert res.exit_code == 0
    assert hint in res.output
