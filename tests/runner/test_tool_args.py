"""``--tool-args tau2|strict``: the default per domain, what a run records, resume checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import toolgym
from toolgym import DB, ToolKind, Toolkit, tool
from toolgym.cli._app import app
from toolgym.domains import DomainSpec, register_domain
from toolgym.errors import ConfigError

ARGS = ["--domain", "airline", "--agent-model", "oracle", "--user", "scripted", "--tasks", "0-1",
        "--display", "none", "--no-report"]



def _bad_call() -> dict[str, Any]:
    """One malformed call: flights as a string (tau2 reads it character by character)."""
    rid = next(iter(toolgym.load_domain("airline").snapshot.fork().reservations))
    return {"tool_calls": [{"name": "update_reservation_flights", "arguments": {
        "reservation_id": rid, "cabin": "economy", "flights": "HAT001",
        "payment_id": "gift_card_1"}}]}


def _config(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "config.json").read_text())["config"])


def test_the_mode_is_the_domains_default_and_recorded(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["run", *ARGS, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert _config(tmp_path / "a")["tool_args"] == "tau2"
    res = CliRunner().invoke(app, ["run", *ARGS, "--tool-args", "strict", "--out",
                                   str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert _config(tmp_path / "b")["tool_args"] == "strict"
    res = CliRunner().invoke(app, ["run", *ARGS, "--tool-args", "lenient", "--out",
                                   str(tmp_path / "c")])
    assert res.exit_code == 2 and "invalid option tool_args" in res.output


def test_changing_the_mode_refuses_a_resume(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert CliRunner().invoke(app, ["run", *ARGS, "--out", str(out)]).exit_code == 0
    res = CliRunner().invoke(app, ["run", *ARGS, "--tool-args", "strict", "--out", str(out)])
    assert res.exit_code == 1
    assert "refusing to resume. Changed: tool_args: 'tau2' -> 'strict'" in res.output
    # Not saying which mode resumes with the one recorded.
    assert CliRunner().invoke(app, ["run", *ARGS, "--out", str(out)]).exit_code == 0
    assert CliRunner().invoke(app, ["resume", str(out), "--display", "none",
                                    "--no-report"]).exit_code == 0


def test_runs_from_before_the_option_resume_as_strict(tmp_path: Path) -> None:
    out = tmp_path / "old"
    toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0-1",
                out=out, tool_args="strict")
    record = json.loads((out / "config.json").read_text())
    del record["config"]["tool_args"], record["config"]["prompt_pack"]
    (out / "config.json").write_text(json.dumps(record))
    (out / "results.jsonl").write_text((out / "results.jsonl").read_text().splitlines()[0]
                                       + "\n")
    run = toolgym.resume(out)
    assert len(run.results) == 2
    with pytest.raises(ConfigError, match="tool_args: 'strict' -> 'tau2'"):
        toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0-1",
                    out=out, tool_args="tau2")


def _scripted_run(tmp_path: Path, name: str, mode: str) -> Any:
    return toolgym.run(domain="airline", agent_model={"model": "scripted", "args": {
        "script": [_bad_call(), "Done."]}}, user="scripted", tasks="0", tool_args=mode,
        out=tmp_path / name)


def test_the_agent_reads_the_modes_error_text(tmp_path: Path) -> None:
    def tool_text(run: Any) -> str:
        (msg,) = [m for m in run.results[0].messages if m.role == "tool"]
        return str(msg.content)

    assert tool_text(_scripted_run(tmp_path, "tau2", "tau2")) == (
        "Error: 'str' object has no attribute 'flight_number'")
    assert tool_text(_scripted_run(tmp_path, "strict", "strict")) == (
        "Error: invalid flights: Input should be a valid list")
    from toolgym.report import render_report

    html = render_report([toolgym.load_run(tmp_path / "tau2"),
                          toolgym.load_run(tmp_path / "strict")], tmp_path / "report.html")
    text = Path(html).read_text()
    assert "<th>tool arguments</th>" in text
    assert "<td>tau2</td><td>toolgym</td>" in text and "<td>strict</td><td>toolgym</td>" in text


class _Note(BaseModel):
    text: str


class _NotesDB(DB):
    notes: dict[str, _Note]


class _NotesTools(Toolkit[_NotesDB]):
    @tool(ToolKind.READ)
    def read_note(self, key: str) -> str:
        """Read a note.

        Args:
            key: The note's key.
        """
        return self.db.notes[key].text if key in self.db.notes else "none"


def test_other_domains_are_strict_only(tmp_path: Path) -> None:
    spec = register_domain(DomainSpec(
        name="notes-strict-test", db_type=_NotesDB, toolkit_type=_NotesTools,
        builtin=lambda: ({"notes": {}}, "Be kind.", [], {})))
    assert spec.default_tool_args == "strict"
    assert toolgym.load_domain("notes-strict-test").tool_args == "strict"
    with pytest.raises(ConfigError, match="has no tau2 argument mode"):
        toolgym.load_domain("notes-strict-test", tool_args="tau2")
    assert toolgym.load_domain("airline").toolkit_type.__name__ == "AirlineTau2Tools"
    strict = toolgym.load_domain("airline", tool_args="strict")
    assert strict.toolkit_type.__name__ == "AirlineTools"
    assert strict.snapshot is toolgym.load_domain("airline").snapshot  # parsed once
