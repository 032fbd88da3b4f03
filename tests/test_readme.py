"""The README's examples run as written."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

import toolgym

README = Path(__file__).resolve().parents[1] / "README.md"


def _import_block(marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  name: str) -> None:
    """Import a README code block as a module (as a user's own file would be)."""
    (tmp_path / f"{name}.py").write_text(_python_block(marker))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(name)


def _python_block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    matching = [b for b in blocks if marker in b]
    assert matching, f"no python block containing {marker!r} in the README"
    return matching[0]


def test_readme_custom_domain_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _import_block("class LibraryDB", tmp_path, monkeypatch, "readme_library")
    data = tmp_path / "my_library"
    data.mkdir()
    (data / "db.json").write_text(json.dumps(
        {"books": {"1": {"isbn": "1", "title": "Dune"}, "2": {"isbn": "2", "title": "Emma"}}}))
    (data / "policy.md").write_text("Lend books politely.")
    (data / "tasks.json").write_text(json.dumps([{
        "id": "lend", "user_scenario": {"instructions": "borrow Dune"},
        "evaluation_criteria": {"actions": [{"name": "lend_book",
                                             "arguments": {"isbn": "1"}}],
                                "reward_basis": ["DB"]}}]))
    domain = toolgym.load_domain("library", data_dir=data)
    tk = domain.toolkit()
    assert tk.call("lend_book", {"isbn": "1"}).content == "ok"
    assert tk.call("lend_book", {"isbn": "1"}).content == "Error: Book is already on loan"
    assert domain.toolkit().call("get_book", {"isbn": "1"}).content.endswith('"on_loan": false}')
    run = toolgym.run(domain="library", data_dir=data, agent_model="oracle", user="scripted",
                      out=tmp_path / "run")
    assert [r.reward for r in run.results] == [1.0]


def test_readme_custom_agent_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _import_block("@register_agent", tmp_path, monkeypatch, "readme_polite")
    run = toolgym.run(domain="airline", agent="polite", agent_model="oracle",
                      user="scripted", tasks="0-2", out=tmp_path / "run")
    assert len(run.results) == 3
    for r in run.results:
        answers = [m.content for m in r.messages
                   if m.role == "assistant" and m.turn is not None and m.content]
        assert answers and all(a.startswith("[polite] ") for a in answers)
        assert json.loads(run.path.joinpath("config.json").read_text()
                          )["config"]["agent"]["strategy"] == "polite"


@pytest.mark.parametrize("command", ["validate", "run", "resume", "report", "compare", "view"])
def test_readme_mentions_every_command(command: str) -> None:
    assert f"toolgym {command}" in README.read_text()


def test_cli_plugin_registers_a_custom_agent(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from toolgym.cli._app import app

    (tmp_path / "my_agents_cli.py").write_text(
        _python_block("@register_agent").replace('"polite"', '"polite-cli"'))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [
        "run", "--plugin", "my_agents_cli", "--agent", "polite-cli", "--tasks", "0",
        "--display", "none", "--no-report", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["config"]["plugins"] == ["my_agents_cli"]
    bad = CliRunner().invoke(app, ["run", "--plugin", "no_such_module_xyz", "--tasks", "0",
                                   "--display", "none", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and "cannot import plugin module" in bad.stderr
