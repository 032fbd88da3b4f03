"""Bad input through the real entry point: one clear line, exit 1, never a traceback.

The command line runs through ``toolgym.cli._app.main`` in-process (not
typer's CliRunner, which would swallow an uncaught exception and still
report exit status 1), so a traceback fails the test.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

#: The ``cli_main`` fixture (tests/cli/conftest.py): argv -> (status, stdout, stderr).
CliMain = Callable[[list[str]], tuple[int, str, str]]

#: Deeper than Python's recursion limit lets ``json.loads`` go.
DEEP_JSON = "[" * 5000 + "]" * 5000
#: Parses fine, but deeper than pydantic's serializer accepts (~255 levels).
MID_JSON = "[" * 300 + "]" * 300

AIRLINE = Path(__file__).resolve().parents[2] / "src" / "toolgym" / "domains" / "airline"


def _task(tid: object = "t1", **extra: object) -> dict[str, object]:
    return {"id": tid, "user_scenario": {"instructions": "cancel my trip"}, **extra}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def _data_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolgym.domains import load_domain

    d = tmp_path_factory.mktemp("template")
    builtin = load_domain("airline")
    builtin.snapshot.fork().save(d / "db.json")
    (d / "policy.md").write_text(builtin.policy, encoding="utf-8")
    shutil.copy(AIRLINE / "data" / "tasks.json", d / "tasks.json")
    shutil.copy(AIRLINE / "data" / "split_tasks.json", d / "split_tasks.json")
    return d


@pytest.fixture
def data_dir(tmp_path: Path, _data_template: Path) -> Path:
    """A tau2-format airline data dir: the built-in database, policy, tasks and splits."""
    return Path(shutil.copytree(_data_template, tmp_path / "data"))


def _validate_dir(d: Path, name: str, content: str | bytes | None) -> list[str]:
    """``validate --data-dir D`` after replacing (or, with None, deleting) one file."""
    if content is None:
        (d / name).unlink()
    else:
        _write(d / name, content)
    return ["validate", "--data-dir", str(d)]


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


RUN = ["run", "--tasks", "0", "--display", "none", "--no-report"]

# Each case: (name, setup(tmp_path, data_dir) -> argv, words the one error line must hold).
Setup = Callable[[Path, Path], list[str]]
CASES: list[tuple[str, Setup, list[str]]] = [
    ("deep task file",
     lambda t, d: ["validate", "--tasks-file", str(_write(t / "tasks.json", DEEP_JSON))],
     ["tasks.json: nested too deeply"]),
    ("task file deeper than the serializer",
     lambda t, d: ["validate", "--tasks-file", str(_write(t / "tasks.json", json.dumps(
         [_task(evaluation_criteria={"actions": [{"name": "get_user_details", "arguments": {
             "user_id": json.loads(MID_JSON)}}]})])))],
     ["tasks.json: nested too deeply"]),
    ("deep db.json",
     lambda t, d: _validate_dir(d, "db.json", DEEP_JSON),
     ["db.json: nested too deeply"]),
    ("deep split file",
     lambda t, d: _validate_dir(d, "split_tasks.json", DEEP_JSON),
     ["split_tasks.json: nested too deeply"]),
    ("deep JSON script",
     lambda t, d: [*RUN, "--out", str(t / "r"), "--agent-model", "scripted", "--agent-arg",
                   f"script={_write(t / 'script.json', DEEP_JSON)}"],
     ["script.json: nested too deeply"]),
    ("deep YAML script",
     lambda t, d: [*RUN, "--out", str(t / "r"), "--agent-model", "scripted", "--agent-arg",
                   f"script={_write(t / 'script.yaml', DEEP_JSON)}"],
     ["script.yaml: nested too deeply"]),
    ("deep endpoints file",
     lambda t, d: [*RUN, "--out", str(t / "r"), "--endpoints",
                   str(_write(t / "toolgym.toml", f"a = {DEEP_JSON}\n"))],
     ["toolgym.toml: nested too deeply"]),
    ("non-UTF-8 policy",
     lambda t, d: _validate_dir(d, "policy.md", b"Be nice \xff\xfe"),
     ["policy.md: policy file is not UTF-8 text", "offset 8"]),
    ("non-UTF-8 task file",
     lambda t, d: ["validate", "--tasks-file", str(_write(t / "tasks.json", b'["\xe9"]'))],
     ["tasks.json: task file is not UTF-8 text", "offset 2"]),
    ("non-UTF-8 db.json",
     lambda t, d: _validate_dir(d, "db.json", b'{"\xff": 1}'),
     ["db.json: database file is not UTF-8 text", "offset 2"]),
    ("non-UTF-8 endpoints file",
     lambda t, d: [*RUN, "--out", str(t / "r"), "--endpoints",
                   str(_write(t / "toolgym.toml", b'[endpoints.x]\nmodel = "\xff"\n'))],
     ["toolgym.toml: endpoints file is not UTF-8 text", "offset 23"]),
    ("non-UTF-8 script",
     lambda t, d: [*RUN, "--out", str(t / "r"), "--agent-model", "scripted", "--agent-arg",
                   "script=" + str(_write(t / "s.yaml", b"- caf\xe9"))],
     ["s.yaml: script file is not UTF-8 text", "offset 5"]),
    ("integer too long to read",
     lambda t, d: ["validate", "--tasks-file",
                   str(_write(t / "tasks.json", "[" + "9" * 5000 + "]"))],
     ["tasks.json: invalid JSON"]),
    ("missing policy",
     lambda t, d: _validate_dir(d, "policy.md", None),
     ["policy.md: policy file not found"]),
    ("split naming unknown tasks",
     lambda t, d: _validate_dir(d, "split_tasks.json",
                                json.dumps({"test": ["0", "nope", "zilch"]})),
     ["split_tasks.json: split 'test'", "'nope', 'zilch'"]),
    ("list task id",
     lambda t, d: ["validate", "--tasks-file",
                   str(_write(t / "tasks.json", json.dumps([_task("a"), _task([1])])))],
     ["tasks.json: task #1: field id", "got array [1]"]),
    ("float task id",
     lambda t, d: ["validate", "--tasks-file",
                   str(_write(t / "tasks.json", json.dumps([_task(1.5)])))],
     ["tasks.json: task #0: field id", "got number 1.5"]),
    ("null task id",
     lambda t, d: ["validate", "--tasks-file",
                   str(_write(t / "tasks.json", json.dumps([_task(None)])))],
     ["tasks.json: task #0: field id", "got null"]),
    ("boolean task id",
     lambda t, d: ["validate", "--tasks-file",
                   str(_write(t / "tasks.json", json.dumps([_task(True)])))],
     ["tasks.json: task #0: field id", "got boolean true"]),
    ("unknown oracle argument",
     lambda t, d: [*RUN, "--out", str(t / "r"), "--agent-arg", "error_rat=0.3"],
     ["oracle: unknown argument(s) 'error_rat'", "error_rate", "latency_ms"]),
    ("unknown scripted argument",
     lambda t, d: [*RUN, "--out", str(t / "r"), "--agent-model", "scripted",
                   "--agent-arg", "on_exhaust=error"],
     ["scripted: unknown argument(s) 'on_exhaust'", "on_exhausted", "script"]),
    ("unknown scripted user-model argument",
     lambda t, d: [*RUN, "--out", str(t / "r"), "--user", "llm", "--user-model", "scripted",
                   "--user-arg", "scrpt=x.yaml"],
     ["scripted: unknown argument(s) 'scrpt'"]),
]


@pytest.mark.parametrize("setup,needles", [(s, n) for _, s, n in CASES],
                         ids=[name for name, _, _ in CASES])
def test_bad_input_is_one_clear_line(setup: Setup, needles: list[str], tmp_path: Path,
                                     data_dir: Path, cli_main: CliMain,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = cli_main(setup(tmp_path, data_dir))
    lines = _error_lines(stderr)
    assert code == 1, stderr
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "r").exists()  # nothing was started, nothing is lost


def test_the_data_dir_fixture_itself_validates(data_dir: Path, cli_main: CliMain) -> None:
    # Without this, every "bad data dir" case above could pass on a broken fixture.
    code, stdout, stderr = cli_main(["validate", "--data-dir", str(data_dir)])
    assert code == 0, stderr
    assert "0 invalid" in stdout


def test_non_utf8_dotenv_is_one_line(tmp_path: Path, cli_main: CliMain,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(b"OPENAI_API_KEY=caf\xe9\n")
    code, _, stderr = cli_main([*RUN, "--out", str(tmp_path / "r")])
    lines = _error_lines(stderr)
    assert code == 1 and len(lines) == 1, stderr
    assert ".env: environment file is not UTF-8 text" in lines[0] and "offset 18" in lines[0]


def test_malformed_yaml_script_names_file_and_line(tmp_path: Path, cli_main: CliMain) -> None:
    script = _write(tmp_path / "replies.yaml", "- hello\n- content: [unclosed\n- bye\n")
    code, _, stderr = cli_main([*RUN, "--out", str(tmp_path / "r"), "--agent-model",
                                "scripted", "--agent-arg", f"script={script}"])
    lines = _error_lines(stderr)
    assert code == 1
    assert len(lines) <= 2, stderr
    assert "replies.yaml: invalid YAML at line 4" in lines[0]
    assert "line 2" in lines[0]  # where the unclosed flow sequence starts


def test_yaml_alias_bomb_is_refused(tmp_path: Path, cli_main: CliMain) -> None:
    # Nine levels of ten aliases: a billion strings once expanded.
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    lines.append("'*': [*i]")
    script = _write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")
    code, _, stderr = cli_main([*RUN, "--out", str(tmp_path / "r"), "--agent-model",
                                "scripted", "--agent-arg", f"script={script}"])
    assert code == 1
    assert "bomb.yaml: too large once YAML aliases are expanded" in stderr


@pytest.mark.parametrize("value", [DEEP_JSON, MID_JSON], ids=["deep", "mid"])
def test_deeply_nested_command_line_value_is_bad_usage(value: str, tmp_path: Path,
                                                       cli_main: CliMain) -> None:
    code, _, stderr = cli_main([*RUN, "--out", str(tmp_path / "r"), "--agent-model",
                                "openai/x", "--agent-arg", f"stop={value}"])
    lines = _error_lines(stderr)
    assert code == 2 and len(lines) == 1, stderr
    assert "--agent-arg stop" in lines[0] and "nested too deeply" in lines[0]


# -- Acceptance tests for wiring done in files owned by another change ---------
# Each is a strict xfail: it fails today and must pass once wired; then remove
# the marker (a pass while still marked fails the suite, as a reminder).

def _ghost_and_good(tmp_path: Path) -> Path:
    """A task file: task 0 of the built-in airline set, plus a copy with an unknown tool."""
    tasks = json.loads((AIRLINE / "data" / "tasks.json").read_text(encoding="utf-8"))
    good = tasks[0]
    ghost = json.loads(json.dumps(good))
    ghost["id"] = "ghost"
    ghost["evaluation_criteria"]["actions"].append({"name": "refund_everything",
                                                    "arguments": {}})
    return _write(tmp_path / "tasks.json", json.dumps([good, ghost]))


def test_non_utf8_system_prompt_is_one_line(tmp_path: Path, cli_main: CliMain) -> None:
    prompt = _write(tmp_path / "prompt.txt", "Soyez aimable, café".encode("latin-1"))
    code, _, stderr = cli_main([*RUN, "--out", str(tmp_path / "r"),
                                "--system-prompt-file", str(prompt)])
    lines = _error_lines(stderr)
    assert code == 1 and len(lines) == 1, stderr
    assert "prompt.txt: system prompt file is not UTF-8 text (byte 0xe9 at offset 18" in lines[0]


def test_run_refuses_malformed_tasks(tmp_path: Path, cli_main: CliMain) -> None:
    tasks = _ghost_and_good(tmp_path)
    code, _, stderr = cli_main(["run", "--display", "none", "--no-report", "--tasks-file",
                                str(tasks), "--out", str(tmp_path / "r")])
    lines = _error_lines(stderr)
    assert code == 1 and len(lines) == 1, stderr
    assert "1 malformed task(s) of 2: task 'ghost'" in lines[0]
    assert "unknown tool 'refund_everything'" in lines[0]
    assert not (tmp_path / "r" / "results.jsonl").exists()


def test_run_skips_malformed_tasks_when_allowed(tmp_path: Path, cli_main: CliMain) -> None:
    tasks = _ghost_and_good(tmp_path)
    code, _, stderr = cli_main(["run", "--display", "none", "--no-report", "--tasks-file",
                                str(tasks), "--allow-invalid-tasks", "--out",
                                str(tmp_path / "r")])
    assert code == 0, stderr
    assert "task 'ghost' is malformed" in stderr
    ran = [json.loads(line)["task_id"]
           for line in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    assert ran == ["0"]


def test_run_warns_once_per_task_failing_by_the_rules(tmp_path: Path, cli_main: CliMain) -> None:
    tasks = json.loads((AIRLINE / "data" / "tasks.json").read_text(encoding="utf-8"))
    task = tasks[0]
    task["evaluation_criteria"]["actions"][0]["arguments"]["user_id"] = "nobody_1"
    path = _write(tmp_path / "tasks.json", json.dumps([task]))
    code, _, stderr = cli_main(["run", "--display", "none", "--no-report", "--tasks-file",
                                str(path), "--out", str(tmp_path / "r")])
    assert code == 0, stderr
    warnings = [x for x in _error_lines(stderr) if "fail by the domain's rules" in x]
    assert len(warnings) == 1 and "User nobody_1 not found" in warnings[0]
    assert (tmp_path / "r" / "results.jsonl").exists()


def test_max_redrafts_reaches_the_verify_user_and_max_retries_the_client(
    tmp_path: Path, cli_main: CliMain
) -> None:
    script = _write(tmp_path / "user.yaml", "- I want to book a flight. ###STOP###\n")
    code, _, stderr = cli_main([*RUN, "--out", str(tmp_path / "r"), "--user", "verify",
                                "--user-model", "scripted", "--user-arg", f"script={script}",
                                "--user-arg", "max_redrafts=1",
                                "--agent-arg", "max_retries=1"])
    assert code == 0, stderr
    config = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert config["user"]["args"] == {"max_redrafts": 1}
    assert config["agent"]["model"]["max_retries"] == 1
