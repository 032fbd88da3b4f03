"""Run-directory safety: secrets, locks, duplicates, bad paths, resume checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.errors import ConfigError, DataError
from toolgym.runner._store import ResultsWriter, read_results
from toolgym.testing import FakeOpenAIServer, roleplay_responder

cli = CliRunner()


def _run(out: Path, **kwargs: object) -> toolgym.RunData:
    base = dict(domain="airline", agent_model="oracle", user="scripted", tasks="0-2")
    return toolgym.run(out=out, **{**base, **kwargs})


def test_secret_model_args_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    res = cli.invoke(app, ["run", "--agent-model", "openai/x", "--agent-base-url",
                           "http://127.0.0.1:9/v1", "--agent-arg", "api_key=sk-SECRET123",
                           "--tasks", "0", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "must not hold secrets" in res.stderr
    assert "sk-SECRET123" not in res.output
    assert not (tmp_path / "r").exists()
    with pytest.raises(Exception, match="must not hold secrets"):
        _run(tmp_path / "r2", agent_model={"model": "openai/x", "args": {
            "extra_headers": {"Authorization": "Bearer sk-SECRET"}}})


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run(out)
    holder = ResultsWriter(out / "results.jsonl")
    try:
        with pytest.raises(ConfigError, match="another toolgym process"):
            _run(out)
    finally:
        holder.close()


def test_duplicate_lines_count_once(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run(out)
    path = out / "results.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[0]]) + "\n")
    assert sorted(r.key for r in read_results(path)) == sorted(
        {(json.loads(x)["task_id"], 0) for x in lines})


def test_bad_paths_are_one_line_errors(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for args, needle in [
        (["--out", str(afile)], "is not a directory"),
        (["--cache-dir", str(afile), "--out", str(tmp_path / "c")], "is not a directory"),
        (["--tasks-file", str(tmp_path), "--out", str(tmp_path / "d")], "is a directory"),
    ]:
        res = cli.invoke(app, ["run", "--tasks", "0", "--display", "none", *args])
        assert res.exit_code == 1, (args, res.output)
        assert needle in res.stderr and "Traceback" not in res.output
    data = tmp_path / "data"
    (data / "db.json").mkdir(parents=True)
    res = cli.invoke(app, ["validate", "--data-dir", str(data)])
    assert res.exit_code == 1 and "is a directory" in res.stderr


def test_resume_with_malformed_config_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run(out)
    for text, needle in [("{bad", "invalid JSON"), ("{}", "no 'config' object"),
                         ('{"config": {"nope": 1}}', "field config.")]:
        (out / "config.json").write_text(text)
        res = cli.invoke(app, ["resume", str(out), "--display", "none"])
        assert res.exit_code == 1 and needle in res.stderr, res.output


def test_resume_validates_concurrency(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run(out)
    res = cli.invoke(app, ["resume", str(out), "--concurrency", "0"])
    assert res.exit_code == 2 and "concurrency" in res.stderr


def test_failed_run_does_not_leave_running_status(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run(out)
    before = json.loads((out / "summary.json").read_text())
    (out / "results.jsonl").unlink()
    (out / "results.jsonl").mkdir()  # unreadable results
    with pytest.raises(DataError, match="cannot read"):
        _run(out)
    assert json.loads((out / "summary.json").read_text()) == before


def test_edited_task_file_refuses_resume(tmp_path: Path) -> None:
    tasks = json.loads((Path(toolgym.__file__).parent / "domains" / "airline" / "data" /
                        "tasks.json").read_text())[:2]
    f = tmp_path / "tasks.json"
    f.write_text(json.dumps(tasks))
    _run(tmp_path / "r", tasks=None, tasks_file=f)
    tasks[0]["user_scenario"]["instructions"]["reason_for_call"] = "something else"
    f.write_text(json.dumps(tasks))
    with pytest.raises(ConfigError, match="data digest"):
        _run(tmp_path / "r", tasks=None, tasks_file=f)


def test_resume_reads_the_key_from_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    d = toolgym.load_domain("airline")
    monkeypatch.setenv("TG_TEST_KEY", "from-environment")
    with FakeOpenAIServer(roleplay_responder(d.tasks)) as server:
        model = {"model": "openai/fake-model", "base_url": server.base_url,
                 "api_key_env": "TG_TEST_KEY"}
        out = tmp_path / "r"
        _run(out, agent_model=model, tasks="0-1")
        lines = (out / "results.jsonl").read_text().splitlines()
        (out / "results.jsonl").write_text(lines[0] + "\n")
        monkeypatch.delenv("TG_TEST_KEY")
        monkeypatch.chdir(tmp_path)
        (tmp_path / ".env").write_text("TG_TEST_KEY=from-dotenv\n")
        n = len(server.requests)
        res = cli.invoke(app, ["resume", str(out), "--display", "none", "--no-report"])
        assert res.exit_code == 0, res.output
        auth = [r.headers.get("Authorization") or r.headers.get("authorization")
                for r in server.requests[n:] if r.path.endswith("/chat/completions")]
        assert auth and set(auth) == {"Bearer from-dotenv"}


def test_secret_check_spares_real_parameters() -> None:
    from toolgym.models import ModelConfig

    ModelConfig(model="openai/x", args={
        "prompt_cache_key": "k1", "max_tokens": 5,
        "response_format": {"type": "json_schema", "json_schema": {"schema": {
            "properties": {"password": {"type": "string"}, "token": {"type": "string"}}}}}})
    for args in ({"token": "t"}, {"extra_body": {"client_secret": "s"}},
                 {"extra_headers": {"Authorization": "Bearer x"}}):
        with pytest.raises(ValueError, match="must not hold secrets"):
            ModelConfig(model="openai/x", args=args)


def test_writer_that_cannot_start_releases_the_lock(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.jsonl"

    def broken(self: ResultsWriter) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(ResultsWriter, "_repair", broken)
    with pytest.raises(OSError):
        ResultsWriter(path)
    monkeypatch.undo()
    ResultsWriter(path).close()  # not "being written by another toolgym process"


def test_plugin_domains_copy_records_exactly() -> None:
    from pydantic import BaseModel, Field, PrivateAttr

    from toolgym.domains import DB, Snapshot

    class Rec(BaseModel):
        model_config = {"populate_by_name": True}
        origin: str = Field(alias="from")
        note: str = Field("default", exclude=True)
        _cache: int = PrivateAttr(default=0)

    class PluginDB(DB):
        recs: dict[str, Rec]

    db = PluginDB.model_validate({"recs": {"a": {"from": "x", "note": "kept"}}})
    fork = Snapshot(db).fork()
    rec = fork.edit("recs", "a")
    assert rec.origin == "x" and rec.note == "kept"
    assert rec is not db.recs["a"]
