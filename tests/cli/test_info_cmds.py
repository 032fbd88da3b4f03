"""``toolgym list`` and ``toolgym show``: one line per entry, one trajectory, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import toolgym
from toolgym.agents import agent_strategies
from toolgym.cli._app import app
from toolgym.domains import domain_names, load_domain
from toolgym.messages import Message, ToolCall
from toolgym.models import model_providers
from toolgym.runner._store import ResultsWriter
from toolgym.users import user_strategies

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env=WIDE)


def one_error_line(res: Result, code: int = 1) -> str:
    assert res.exit_code == code, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    return lines[0]


def table(res: Result) -> dict[str, str]:
    """name -> the rest of its line."""
    assert res.exit_code == 0, res.output
    rows = {}
    for line in res.stdout.splitlines():
        name, _, rest = line.partition(" ")
        rows[name] = rest.strip()
    return rows


@pytest.mark.parametrize(("what", "names", "expected"), [
    ("agents", agent_strategies, {
        "tool-calling": "Native tool calling: the conversation and the tools go to the model",
        "react": "each turn a thought, then one JSON action (ReAct)",
        "act": "one JSON action, no thought (Act)", "few-shot": "example conversations"}),
    ("users", user_strategies, {
        "scripted": "Rules, no model", "llm": "A model (--user-model) plays the customer",
        "human": "Interactive: you type the customer's messages", "verify": "checks each draft",
        "react": "writes a thought", "reflection": "private reflection call"}),
    ("providers", model_providers, {
        "openai": "any OpenAI-compatible chat completions API", "oracle": "gold actions",
        "scripted": "canned replies", "litellm": "toolgym[litellm]"}),
])
def test_list_strategies_with_descriptions(what: str, names: object,
                                           expected: dict[str, str]) -> None:
    rows = table(invoke("list", what))
    assert sorted(rows) == names()  # type: ignore[operator]
    for name, words in expected.items():
        assert words in rows[name], (name, rows[name])


def test_list_domains() -> None:
    rows = table(invoke("list", "domains"))
    assert sorted(rows) == domain_names()  # other tests may have registered more
    assert rows["airline"] == "tau2-compatible airline customer service"
    assert rows["retail"] == "tau2-compatible retail customer service"


def test_list_includes_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_listed_agents.py").write_text(
        "from toolgym.agents import ToolCallingAgent, register_agent\n\n\n"
        "@register_agent('listed-polite')\n"
        "class Polite(ToolCallingAgent):\n"
        "    \"\"\"Says [bold]please[/bold] a lot.\n\n    More text.\n    \"\"\"\n")
    monkeypatch.chdir(tmp_path)
    rows = table(invoke("list", "agents", "--plugin", "my_listed_agents"))
    assert rows["listed-polite"] == "Says [bold]please[/bold] a lot."
    assert "cannot import plugin module" in one_error_line(
        invoke("list", "agents", "--plugin", "no_such_module_xyz"))


def test_list_tasks_of_the_builtin_airline() -> None:
    res = invoke("list", "tasks")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    domain = load_domain("airline")
    assert len(lines) == len(domain.tasks)
    cells = lines[0].split()
    assert cells[:3] == ["0", "train", "easy,write,booking"]
    assert lines[0].endswith("You want to book a one-way flight from Boston (BOS) to San "
                             "Francisco (SFO) on May 21, 2024.")
    assert lines[1].split()[:2] == ["1", "test"]


def custom_airline(tmp_path: Path) -> Path:
    """The built-in airline database in a data directory with hand-written tasks."""
    data = tmp_path / "data"
    data.mkdir()
    src = load_domain("airline")
    (data / "db.json").write_text(json.dumps(src.snapshot.to_dict()))
    (data / "policy.md").write_text(src.policy)
    (data / "tasks.json").write_text(json.dumps([
        {"id": "m1", "user_scenario": {"instructions": "[red]boom[/red] \x1b[2J\nsecond line"},
         "difficulty": "hard", "tags": ["x"]},
        {"id": "m2", "user_scenario": {"instructions": {
            "reason_for_call": "\n  Cancel my trip.\nMore.", "known_info": "I am Ann."}}},
    ]))
    (data / "split_tasks.json").write_text(json.dumps({"dev": ["m1"]}))
    return data


def test_list_tasks_of_a_data_dir_is_literal_and_one_line_each(tmp_path: Path) -> None:
    data = custom_airline(tmp_path)
    res = invoke("list", "tasks", "--domain", "airline", "--data-dir", str(data))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        "m1  dev  hard,x  [red]boom[/red] \\x1b[2J",
        "m2  -    -       Cancel my trip.",
    ]


def test_list_errors_are_one_line(tmp_path: Path) -> None:
    assert "unknown domain 'nope'" in one_error_line(invoke("list", "tasks", "--domain", "nope"))
    assert "data directory not found" in one_error_line(
        invoke("list", "tasks", "--data-dir", str(tmp_path / "absent")))
    assert "--domain only applies to 'toolgym list tasks'" in one_error_line(
        invoke("list", "agents", "--domain", "retail"), 2)
    assert invoke("list", "bogus").exit_code == 2


# ---------------------------------------------------------------------- show


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("show") / "demo"
    toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0-1", trials=2,
                out=out)
    return out


def test_show_prints_one_trajectory(demo_run: Path) -> None:
    res = invoke("show", str(demo_run), "0:1")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert "run demo  task 0  trial 1" in text
    assert "reward 1.00" in text and "termination user_stop" in text
    assert "#0 system" in text and "system prompt," in text and "--system shows it" in text
    assert "#2 user" in text and "You want to book a one-way flight from Boston" in text
    assert '→ get_user_details({"user_id": "xena_quintero_2311"})  [call_0]' in text
    assert "tool get_user_details" in text and '"first_name": "Xena"' in text
    assert "✓ final DB matches the gold DB" in text
    assert "✓ action book_reservation(" in text
    assert "status: ok" in text and "DB=1.00" in text
    policy = load_domain("airline").policy.strip().splitlines()[-1]
    assert policy not in text
    full = invoke("show", str(demo_run), "0:1", "--system").stdout
    assert policy in full


def test_show_defaults_to_the_first_trial(demo_run: Path) -> None:
    assert "task 1  trial 0" in invoke("show", str(demo_run), "1").stdout


def test_show_errors_are_one_line(demo_run: Path, tmp_path: Path) -> None:
    line = one_error_line(invoke("show", str(tmp_path / "absent [x]"), "0"))
    assert "absent [x]" in line and "run directory not found" in line
    line = one_error_line(invoke("show", str(demo_run), "nope"))
    assert "no task 'nope' (tasks: 0, 1)" in line
    line = one_error_line(invoke("show", str(demo_run), "0:7"))
    assert "task '0' has no trial 7 (trials: 0, 1)" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no finished rollout" in one_error_line(invoke("show", str(empty), "0"))


def test_show_prints_model_text_literally_and_redacts_errors(demo_run: Path,
                                                             tmp_path: Path) -> None:
    key = "sk-proj-Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7"
    r = toolgym.load_run(demo_run).results[0].model_copy(deep=True)
    r.task_id = "[bold]t[/bold]"
    r.messages.append(Message(role="assistant", content="[red]not red[/red] :smile: \x1b[2J",
                              reasoning="[i]why[/i]", tool_calls=[ToolCall(
                                  id="c9", name="[b]tool[/b]", arguments={"q": "[u]x[/u]"})]))
    r.messages.append(Message(role="tool", name="[b]tool[/b]", tool_call_id="c9", error=True,
                              content="Error: [blink]no[/blink]"))
    r.error = f"TerminalModelError: HTTP 401: Incorrect API key provided: {key}"
    r.breakdown.notes = [f"judge said [b]{key}[/b]"]
    run_dir = tmp_path / "odd"
    run_dir.mkdir()
    (run_dir / "config.json").write_text((demo_run / "config.json").read_text())
    writer = ResultsWriter(run_dir / "results.jsonl", fsync=False)
    writer.append(r)
    writer.close()
    res = invoke("show", str(run_dir), "[bold]t[/bold]")
    assert res.exit_code == 0, res.output
    text = res.stdout
    for literal in ["task [bold]t[/bold]", "[red]not red[/red] :smile: \\x1b[2J", "[i]why[/i]",
                    '→ [b]tool[/b]({"q": "[u]x[/u]"})', "Error: [blink]no[/blink]",
                    "tool [b]tool[/b] error", "Incorrect API key provided: sk-***",
                    "note: judge said [b]sk-***[/b]"]:
        assert literal in text, literal
    assert "\x1b" not in text and key not in text
