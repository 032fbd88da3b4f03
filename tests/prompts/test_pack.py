"""Prompt packs: loading, checks, digests and the texts they produce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import toolgym
from toolgym.errors import ConfigError, DataError
from toolgym.prompts import find_prompt_pack, load_prompt_pack, scenario_text
from toolgym.prompts._pack import PackManifest, write_manifest
from toolgym.tasks import parse_tasks


def _tool(name: str, description: str = "d") -> dict:
    return {"type": "function", "function": {"name": name, "description": description,
                                             "parameters": {"type": "object",
                                                            "properties": {}}}}


def _pack(root: Path, *, agent: str | None = "A {policy} Z", user: str | None = None,
          tools: list | None = None, manifest: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if agent is not None:
        (root / "agent_system_prompt.txt").write_text(agent)
    if user is not None:
        (root / "user_system_prompt.txt").write_text(user)
    if tools is not None:
        (root / "tools.json").write_text(json.dumps(tools))
    (root / "prompt_pack.json").write_text(json.dumps(manifest or {"source": "mine"}))
    return root


def test_a_minimal_pack(tmp_path: Path) -> None:
    pack = load_prompt_pack(_pack(tmp_path / "p"))
    assert pack.agent_system_prompt("POLICY {x}") == "A POLICY {x} Z"
    assert pack.user_template is None and pack.tools_for("airline") is None
    ref = pack.ref("airline")
    assert ref.source == "mine" and not ref.tau2 and ref.parts == ["agent_system_prompt"]
    assert ref.path == str((tmp_path / "p").resolve()) and ref.digest == pack.digest


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"agent": "no placeholder"}, "no {policy} placeholder"),
    ({"agent": None, "user": "hello"}, "no {scenario} placeholder"),
    ({"agent": None}, "has none of agent_system_prompt.txt, user_system_prompt.txt, tools.json"),
    ({"tools": {"a": 1}}, "expected a JSON list of OpenAI tool definitions"),
    ({"tools": [{"name": "x"}]}, "entry 0 is not a tool definition"),
    ({"tools": [_tool("x"), _tool("x")]}, "tool 'x' is defined twice"),
    ({"manifest": {"format": 2}}, "pack format 2 is not supported"),
    ({"manifest": {"sauce": "tau2"}}, "field sauce: Extra inputs are not permitted"),
])
def test_malformed_packs_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError) as info:
        load_prompt_pack(_pack(tmp_path / "p", **kwargs))
    assert message in str(info.value)


def test_not_a_pack(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="prompt pack directory not found"):
        load_prompt_pack(tmp_path / "nowhere")
    (tmp_path / "d").mkdir()
    with pytest.raises(DataError, match="not a prompt pack"):
        load_prompt_pack(tmp_path / "d")
    assert find_prompt_pack(tmp_path / "d") is None and find_prompt_pack(None) is None


def test_digest_and_unmodified(tmp_path: Path) -> None:
    root = _pack(tmp_path / "p", tools=[_tool("x")], user="{scenario}",
                 manifest={"source": "tau2"})
    assert not load_prompt_pack(root).unmodified  # the manifest lists no file digests
    write_manifest(root, PackManifest(source="tau2"))
    first = load_prompt_pack(root)
    assert first.unmodified and first.ref("airline").tau2
    (root / "tools.json").write_text(json.dumps([_tool("x", "changed")]))
    second = load_prompt_pack(root)
    assert second.digest != first.digest
    assert not second.unmodified and not second.ref("airline").tau2
    (root / "notes.md").write_text("not a pack file")
    assert load_prompt_pack(root).digest == second.digest


def test_domain_tools_take_precedence_and_must_match(tmp_path: Path) -> None:
    root = _pack(tmp_path / "p", tools=[_tool("everywhere")])
    (root / "airline").mkdir()
    names = [t["function"]["name"] for t in toolgym.load_domain("airline").openai_tools()]
    (root / "airline" / "tools.json").write_text(json.dumps([_tool(n) for n in names]))
    pack = load_prompt_pack(root)
    assert [t["function"]["name"] for t in pack.domain_tools("airline", names) or []] == names
    assert pack.tools_for("retail") == [_tool("everywhere")]
    with pytest.raises(ConfigError) as info:
        pack.domain_tools("retail", ["get_user_details"])
    assert "missing get_user_details; no such tool in domain 'retail': everywhere" in str(
        info.value)


def _task(instructions: object, persona: str | None = "A calm caller.\nSecond line.") -> object:
    (task,) = parse_tasks([{"id": "t", "user_scenario": {"persona": persona,
                                                        "instructions": instructions}}])
    return task


def test_tau2_scenario_layout() -> None:
    task = _task({"domain": "airline", "reason_for_call": "Change a flight.\nSoon.",
                  "known_info": "Id abc.", "unknown_info": None,
                  "task_instructions": "Be brief."})
    assert scenario_text(task, "tau2") == (  # type: ignore[arg-type]
        "Persona:\n\tA calm caller.\n\tSecond line.\nInstructions:\n\tDomain: airline\n"
        "\tReason for call:\n\t\tChange a flight.\n\t\tSoon.\n\tKnown info:\n\t\tId abc.\n"
        "\tTask instructions:\n\t\tBe brief.")
    plain = _task("Just do it.", persona=None)
    assert scenario_text(plain, "tau2") == "Instructions:\n\tJust do it."  # type: ignore[arg-type]
    assert scenario_text(plain).startswith("# Your scenario")  # type: ignore[arg-type]


def test_user_prompt_fills_in_the_scenario(tmp_path: Path) -> None:
    root = _pack(tmp_path / "p", agent=None, user="G {x}\n<s>\n{scenario}\n</s>",
                 manifest={"source": "mine", "scenario_format": "tau2"})
    task = _task("Just do it.", persona=None)
    assert load_prompt_pack(root).user_system_prompt(task) == (  # type: ignore[arg-type]
        "G {x}\n<s>\nInstructions:\n\tJust do it.\n</s>")
