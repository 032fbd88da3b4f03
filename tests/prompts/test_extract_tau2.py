"""``toolgym prompts extract-tau2`` on a stand-in tau2 checkout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tau2_standin import (
    COMMIT,
    expected_agent_template,
    expected_user_template,
    tool_description,
)
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.domains import get_spec
from toolgym.errors import DataError
from toolgym.prompts import extract_tau2, load_prompt_pack
from toolgym.prompts._tau2 import google_docstring


def _tools(pack: Path, domain: str) -> dict[str, dict]:
    defs = json.loads((pack / domain / "tools.json").read_text())
    return {d["function"]["name"]: d["function"] for d in defs}


def test_extracts_the_agent_user_and_tool_texts(tau2_standin: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    result = extract_tau2(tau2_standin, out)
    assert "tau2" not in sys.modules  # nothing of the checkout was imported
    assert result.domains == {"airline": 14, "retail": 16}
    # The stand-in data model has no Payment class: said, not guessed.
    assert result.warnings == ["airline: no class Payment in src/tau2/domains/airline/"
                               "data_model.py; its schema in book_reservation has no "
                               "descriptions"]
    assert (out / "agent_system_prompt.txt").read_text() == expected_agent_template()
    assert (out / "user_system_prompt.txt").read_text() == expected_user_template()
    pack = load_prompt_pack(out)
    assert pack.manifest.source == "tau2" and pack.unmodified
    assert pack.manifest.origin == {"tau2_version": "0.0.0-standin", "tau2_commit": COMMIT}
    assert pack.manifest.scenario_format == "tau2"
    ref = pack.ref("airline")
    assert ref.tau2 and ref.parts == ["agent_system_prompt", "tools", "user_system_prompt"]

    airline = _tools(out, "airline")
    assert set(airline) == set(get_spec("airline").toolkit_type.tool_specs())
    book = airline["book_reservation"]
    assert book["description"] == (tool_description("airline", "book_reservation")
                                   + "\n\nA longer stand-in explanation,\non two lines.")
    props = book["parameters"]["properties"]
    assert props["user_id"]["description"] == "Stand-in text for user_id."
    assert props["flights"]["description"] == "Stand-in text for flights.\nIt goes on here."
    assert props["cabin"]["enum"] == ["business", "economy", "basic_economy"]  # toolgym's types
    defs = book["parameters"]["$defs"]
    assert defs["FlightInfo"]["description"] == "Stand-in flight info."
    assert defs["FlightInfo"]["properties"]["date"]["description"] == "Stand-in date text."
    # tau2 has no class docstring / field text there: toolgym's are not kept either.
    assert "description" not in defs["Passenger"]
    assert "description" not in defs["Passenger"]["properties"]["last_name"]
    assert "description" not in defs["Payment"]  # not in the stand-in data model at all
    retail = _tools(out, "retail")
    assert retail["list_all_product_types"]["description"] == tool_description(
        "retail", "list_all_product_types")


def test_no_toolgym_wording_is_left_in_the_tools(tau2_standin: Path, tmp_path: Path) -> None:
    extract_tau2(tau2_standin, tmp_path / "pack")
    for domain in ("airline", "retail"):
        text = (tmp_path / "pack" / domain / "tools.json").read_text()
        ours = toolgym.load_domain(domain).openai_tools()
        for tool in ours:
            fn = tool["function"]
            assert fn["description"] not in text, fn["name"]
            for name, prop in fn["parameters"]["properties"].items():
                assert json.dumps(prop["description"]) not in text, (fn["name"], name)
        def_texts = {json.dumps(d["description"]) for t in ours
                     for d in t["function"]["parameters"].get("$defs", {}).values()
                     if "description" in d}
        assert all(d not in text for d in def_texts)


def test_google_docstrings_are_read_as_tau2_joins_them() -> None:
    doc = """Summary line.

        More text
        over lines.

        Args:
            first (str): One.
            second: Two,
                continued.

        Returns:
            Nothing.
        """
    assert google_docstring(doc) == ("Summary line.\n\nMore text\nover lines.",
                                     {"first": "One.", "second": "Two,\ncontinued."})
    assert google_docstring("Only a line.") == ("Only a line.", {})


@pytest.mark.parametrize(("remove", "message"), [
    ("src/tau2", "not a tau2-bench checkout (no src/tau2/ directory)"),
    ("src/tau2/agent", "no src/tau2/agent/ directory (expected the agent's prompt there"),
    ("src/tau2/agent/llm_agent.py", "the agent's prompt not found: no module of "
                                    "src/tau2/agent/ defines AGENT_INSTRUCTION, SYSTEM_PROMPT"),
    ("data/tau2/user_simulator/simulation_guidelines.md",
     "no data/tau2/user_simulator/simulation_guidelines.md"),
    ("src/tau2/domains/retail/tools.py", "no src/tau2/domains/retail/tools.py (the retail "
                                         "tools)"),
])
def test_missing_parts_are_named(tau2_standin: Path, tmp_path: Path, remove: str,
                                 message: str) -> None:
    import shutil

    target = tau2_standin / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DataError) as info:
        extract_tau2(tau2_standin, tmp_path / "pack")
    assert message in str(info.value)
    assert not (tmp_path / "pack").exists()  # nothing half-written


def test_constants_found_in_another_module_of_the_package(tau2_standin: Path,
                                                          tmp_path: Path) -> None:
    agent = tau2_standin / "src/tau2/agent"
    (agent / "llm_agent.py").rename(agent / "prompts.py")
    extract_tau2(tau2_standin, tmp_path / "pack")
    assert (tmp_path / "pack/agent_system_prompt.txt").read_text() == expected_agent_template()


def test_bad_checkouts_get_one_clear_line(tau2_standin: Path, tmp_path: Path) -> None:
    tools = tau2_standin / "src/tau2/domains/airline/tools.py"
    text = tools.read_text()
    tools.write_text(text.replace("def send_certificate(", "def send_certificate_x("))
    with pytest.raises(DataError) as info:
        extract_tau2(tau2_standin, tmp_path / "a")
    assert "no @is_tool method for send_certificate" in str(info.value)
    assert "tools that toolgym's airline domain does not have: send_certificate_x" not in str(
        info.value)  # the missing one is reported first
    tools.write_text(text)
    user = tau2_standin / "src/tau2/user/user_simulator.py"
    user.write_text(user.read_text().replace("{instructions}", "{scenario_text}"))
    with pytest.raises(DataError) as info:
        extract_tau2(tau2_standin, tmp_path / "b")
    assert "SYSTEM_PROMPT: unknown field(s) scenario_text; no {instructions}" in str(info.value)
    agent = tau2_standin / "src/tau2/agent/llm_agent.py"
    agent.write_text(agent.read_text().replace('""".strip()\n\nsys', '""".strip().upper()\n\nsys'))
    with pytest.raises(DataError, match="SYSTEM_PROMPT: not a plain string constant"):
        extract_tau2(tau2_standin, tmp_path / "c")


def test_an_unchecked_scenario_layout_is_a_warning(tau2_standin: Path, tmp_path: Path) -> None:
    (tau2_standin / "src/tau2/data_model/tasks.py").write_text("X = 'Persona:'\n")
    result = extract_tau2(tau2_standin, tmp_path / "pack")
    assert result.warnings[0] == (
        "src/tau2/data_model/tasks.py does not write Instructions:, Domain:, Reason for call:, "
        "Known info:, Unknown info:, Task instructions:: tau2's scenario layout may differ "
        "from the one toolgym reproduces")
    assert load_prompt_pack(tmp_path / "pack").manifest.warnings == result.warnings


def test_an_existing_directory_needs_force(tau2_standin: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="exists and is not empty"):
        extract_tau2(tau2_standin, out)
    extract_tau2(tau2_standin, out, domains=["airline"], force=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "retail").exists()


def test_cli_extract_and_show(tau2_standin: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["prompts", "extract-tau2", "--tau2-src", str(tau2_standin),
                              "--out", str(tmp_path / "pack"), "--domain", "retail"])
    assert res.exit_code == 0, res.output
    digest = load_prompt_pack(tmp_path / "pack").digest
    assert f"retail (16 tools); digest {digest}" in res.output
    res = runner.invoke(app, ["prompts", "show", str(tmp_path / "pack"), "--domain", "retail"])
    assert res.exit_code == 0, res.output
    assert "source: tau2" in res.output and "unmodified: yes" in res.output
    assert f"origin tau2_commit: {COMMIT}" in res.output
    res = runner.invoke(app, ["prompts", "show", str(tmp_path / "pack"), "--domain", "airline"])
    assert res.exit_code == 0  # no airline tools in the pack: nothing to check
    res = runner.invoke(app, ["prompts", "extract-tau2", "--tau2-src", str(tmp_path / "nope"),
                              "--out", str(tmp_path / "p2")])
    assert res.exit_code == 1 and "tau2 checkout not found" in res.output


def test_tau2_only_when_every_part_is_tau2s(tau2_standin: Path, tmp_path: Path) -> None:
    extract_tau2(tau2_standin, tmp_path / "pack", domains=["retail"])
    pack = load_prompt_pack(tmp_path / "pack")
    assert pack.ref("retail").tau2
    # No airline tools in the pack: an airline run sends toolgym's tool descriptions.
    airline = pack.ref("airline")
    assert not airline.tau2 and airline.parts == ["agent_system_prompt", "user_system_prompt"]
