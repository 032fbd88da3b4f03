"""``toolgym validate`` on the tau2 data, the built-in data and broken input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from toolgym.cli._app import app

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name,count", [("airline", 50), ("retail", 114)])
def test_validate_tau2_data_writes_one_line_per_task(
    name: str, count: int, shared_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "v.jsonl"
    code, stdout, _ = _invoke("--domain", name, "--data-dir", str(shared_dir / "tau2" / name),
                              "--out", str(out))
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == count
    assert {tuple(sorted(x)) for x in lines} == {("errors", "final_digest", "ok", "task_id")}
    assert all(len(x["final_digest"]) == 64 for x in lines)
    assert all(x["ok"] == (not x["errors"]) for x in lines)
    bad = [x for x in lines if not x["ok"]]
    assert code == (1 if bad else 0)
    assert f"{count} tasks" in stdout
    # Tasks without gold writes end on the pristine database.
    no_action = [x for x in lines if x["ok"]]
    assert no_action


@pytest.mark.parametrize("name", ["airline", "retail"])
def test_builtin_tasks_all_validate(name: str) -> None:
    code, stdout, stderr = _invoke("--domain", name)
    assert code == 0, stderr
    assert "0 invalid" in stdout


def _task(actions: list[dict[str, object]]) -> dict[str, object]:
    return {
        "id": "t1",
        "user_scenario": {"instructions": "cancel my trip"},
        "evaluation_criteria": {"actions": actions, "reward_basis": ["DB"]},
    }


def test_bad_tasks_give_one_line_errors(tmp_path: Path) -> None:
    f = tmp_path / "tasks.json"
    f.write_text(json.dumps([_task([
        {"action_id": "a", "name": "fly_to_moon", "arguments": {}},
        {"action_id": "b", "name": "get_user_details", "arguments": {"user_id": "nobody_1"}},
        {"action_id": "c", "name": "update_reservation_baggages",
         "arguments": {"reservation_id": "X", "total_baggages": "two",
                       "nonfree_baggages": 0, "payment_id": "p"}},
    ])]))
    code, _, stderr = _invoke("--domain", "airline", "--tasks-file", str(f))
    assert code == 1
    assert "unknown tool 'fly_to_moon'" in stderr
    assert "User nobody_1 not found" in stderr
    assert "argument 'total_baggages' has the wrong type" in stderr
    assert "Traceback" not in stderr


def test_malformed_json_is_one_clear_line(tmp_path: Path) -> None:
    f = tmp_path / "tasks.json"
    f.write_text('[{"id": "1", ')
    code, _, stderr = _invoke("--domain", "airline", "--tasks-file", str(f))
    assert code == 1
    assert str(f) in stderr and "invalid JSON" in stderr
    assert "Traceback" not in stderr


def test_missing_field_names_file_task_and_field(tmp_path: Path) -> None:
    f = tmp_path / "tasks.json"
    f.write_text(json.dumps([{"id": "7", "user_scenario": {}}]))
    code, _, stderr = _invoke("--domain", "airline", "--tasks-file", str(f))
    assert code == 1
    assert "task '7'" in " ".join(stderr.split()) and "instructions" in stderr


def test_unknown_domain(tmp_path: Path) -> None:
    code, _, stderr = _invoke("--domain", "space")
    assert code == 1 and "unknown domain 'space'" in stderr


def test_dump_db_writes_final_databases(tmp_path: Path) -> None:
    import toolgym
    from toolgym.domains import canonical_digest

    # Three built-in tasks (dumping all 50 databases takes 20 s).
    some = toolgym.load_domain("airline").tasks[:3]
    tasks_file = tmp_path / "tasks.json"
    tasks_file.write_text(json.dumps([t.model_dump(mode="json", exclude_none=True)
                                      for t in some]), encoding="utf-8")
    code, _, stderr = _invoke("--domain", "airline", "--tasks-file", str(tasks_file),
                              "--dump-db", str(tmp_path / "dbs"), "--out",
                              str(tmp_path / "v.jsonl"))
    assert code == 0, stderr
    lines = [json.loads(x) for x in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert [x["task_id"] for x in lines] == [t.id for t in some]
    digests = set()
    for line in lines:
        dumped = json.loads((tmp_path / "dbs" / f"{line['task_id']}.json").read_text())
        assert canonical_digest(dumped) == line["final_digest"]
        digests.add(line["final_digest"])
    assert len(digests) == 3  # each task's writes leave its own final database


def test_version() -> None:
    import toolgym

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"toolgym {toolgym.__version__}"


PLUGIN = '''
from pydantic import BaseModel

from toolgym import DB, ToolError, ToolKind, Toolkit, tool
from toolgym.domains import DomainSpec, register_domain


class Book(BaseModel):
    isbn: str
    on_loan: bool = False


class ShelfDB(DB):
    books: dict[str, Book]


class ShelfTools(Toolkit[ShelfDB]):
    @tool(ToolKind.WRITE)
    def lend_book(self, isbn: str) -> str:
        """Lend a book.

        Args:
            isbn: The book's ISBN.
        """
        if isbn not in self.db.books:
            raise ToolError(f"Book {isbn} not found")
        self.db.edit("books", isbn).on_loan = True
        return "ok"

    def is_on_loan(self, isbn: str) -> bool:
        return self.db.books[isbn].on_loan


register_domain(DomainSpec(name="plugshelf", db_type=ShelfDB, toolkit_type=ShelfTools,
                           builtin=None))
'''


def _shelf_task(tid: str, **criteria: object) -> dict[str, object]:
    return {"id": tid, "user_scenario": {"instructions": "lend me a book"},
            "evaluation_criteria": {"reward_basis": ["DB"], **criteria}}


def test_validate_imports_plugins_and_reports_each_kind_of_problem(
    tmp_path: Path, cli_main: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shelf_plugin_for_validate.py").write_text(PLUGIN)
    data = tmp_path / "shelf"
    data.mkdir()
    (data / "db.json").write_text(json.dumps({"books": {"1": {"isbn": "1"}}}))
    (data / "policy.md").write_text("Lend books.")
    lend = {"name": "lend_book", "arguments": {"isbn": "1"}}
    (data / "tasks.json").write_text(json.dumps([
        _shelf_task("good", actions=[lend], env_assertions=[
            {"func_name": "is_on_loan", "arguments": {"isbn": "1"}}]),
        _shelf_task("assert", actions=[lend], env_assertions=[
            {"func_name": "is_overdue", "arguments": {"isbn": "1"}}]),
        {**_shelf_task("history", actions=[lend]), "initial_state": {"message_history": [
            {"role": "assistant", "tool_calls": [{"name": "lend_book", "arguments": "{"}]}]}},
        _shelf_task("rules", actions=[{"name": "lend_book", "arguments": {"isbn": "9"}}]),
    ]))
    code, stdout, stderr = cli_main(["validate", "--plugin", "shelf_plugin_for_validate",
                                     "--domain", "plugshelf", "--data-dir", str(data)])
    assert code == 1, stderr
    assert stderr.splitlines() == [
        "task assert: env assertion 0 (is_overdue): unknown toolkit function 'is_overdue'",
        "task history: message_history[0].tool_calls[0]: arguments are not valid JSON",
        "task rules: action 0 (lend_book) failed: Book 9 not found",
    ]
    assert "4 tasks, 1 valid, 3 invalid: 2 malformed, 1 failing by the domain's rules" in stdout


def test_validate_reports_unknown_env_assertions_of_builtin_domains(tmp_path: Path) -> None:
    task = _task([{"action_id": "a", "name": "get_user_details",
                   "arguments": {"user_id": "xena_quintero_2311"}}])
    task["evaluation_criteria"]["env_assertions"] = [  # type: ignore[index]
        {"func_name": "user_exists", "arguments": {"user_id": "xena_quintero_2311"}}]
    f = tmp_path / "tasks.json"
    f.write_text(json.dumps([task]))
    code, stdout, stderr = _invoke("--domain", "airline", "--tasks-file", str(f))
    assert code == 1
    assert "task t1: env assertion 0 (user_exists): unknown toolkit function 'user_exists'" \
        in stderr
    assert "1 malformed" in stdout


def test_validate_refuses_a_plugin_that_does_not_import(cli_main: Any) -> None:
    code, _, stderr = cli_main(["validate", "--plugin", "no_such_plugin_module_xyz"])
    assert code == 1
    assert stderr.strip().splitlines() == [
        "error: cannot import plugin module 'no_such_plugin_module_xyz': "
        "No module named 'no_such_plugin_module_xyz'"]
