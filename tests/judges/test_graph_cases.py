"""Standalone graph-judge cases files (``toolgym judge graph --cases FILE.jsonl``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from toolgym.errors import DataError
from toolgym.judges import judge_graph_cases, load_graph_cases, run_graph_cases
from toolgym.models import ScriptedModel

BAGS = "update_reservation_baggages"


def write(tmp_path: Path, *cases: dict[str, Any] | str) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(c if isinstance(c, str) else json.dumps(c) for c in cases) + "\n")
    return path


SWAPPED = {
    "id": "swapped",
    "oracle": [{"id": "b1", "tool": BAGS, "args": {"reservation_id": "R1", "total_baggages": 2}},
               {"id": "b2", "tool": BAGS, "args": {"reservation_id": "R2", "total_baggages": 3},
                "depends_on": []}],
    "agent": [{"tool": BAGS, "args": {"reservation_id": "R2", "total_baggages": 3}},
              {"tool": BAGS, "args": {"reservation_id": "R1", "total_baggages": 2}}],
}
PLACEHOLDER = {
    "id": "placeholder",
    "domain": "airline",
    "oracle": [{"id": "book", "tool": "book_reservation", "args": {"user_id": "u"}},
               {"id": "look", "tool": "get_reservation_details",
                "args": {"reservation_id": "{{book.reservation_id}}"}},
               {"id": "bags", "tool": BAGS,
                "args": {"reservation_id": "{{book.reservation_id}}", "total_baggages": 1}}],
    "agent": [{"tool": "get_user_details", "args": {"user_id": "u"}},
              {"tool": "book_reservation", "args": {"user_id": "u"}, "error": True},
              {"tool": "book_reservation", "args": {"user_id": "u"},
               "result": '{"reservation_id": "NEW9"}'},
              {"tool": "get_reservation_details", "args": {"reservation_id": "NEW9"}},
              {"tool": BAGS, "args": {"reservation_id": "NEW9", "total_baggages": 1}}],
    "checkers": {"book_reservation": {"user_id": "casefold"}},
}
ORDER = {
    "id": "order",
    "oracle": [{"id": "f", "tool": "update_reservation_flights", "args": {"reservation_id": "R"}},
               {"id": "b", "tool": BAGS, "args": {"reservation_id": "R"}}],
    "agent": [{"tool": BAGS, "args": {"reservation_id": "R"}},
              {"tool": "update_reservation_flights", "args": {"reservation_id": "R"}}],
}
MESSAGES = {
    "id": "messages",
    "task": "Tell me when my refund arrives",
    "oracle": [{"id": "m", "tool": "send_message_to_user",
                "args": {"content": "Your refund arrives in 5 days."}}],
    "agent": [{"tool": "send_message_to_user", "args": {"content": "Hello"}},
              {"tool": "send_message_to_user", "args": {"content": "It comes within 5 days."}}],
    "checkers": {"send_message_to_user": {"content": "soft"}},
    "extra_messages": 1,
}


def test_one_line_per_case_with_matching_indices_into_the_agent_list(tmp_path: Path) -> None:
    lines: list[str] = []
    code = run_graph_cases(write(tmp_path, SWAPPED, "", PLACEHOLDER, ORDER), write=lines.append)
    out = [json.loads(x) for x in lines]
    assert code == 1
    assert [set(o) for o in out] == [{"id", "success", "failures", "matching"}] * 3
    assert out[0] == {"id": "swapped", "success": True, "failures": [],
                      "matching": {"b1": 1, "b2": 0}}
    # reads and the failed call are skipped; indices still point into the case's list
    assert out[1] == {"id": "placeholder", "success": True, "failures": [],
                      "matching": {"book": 2, "bags": 4}}
    assert out[2]["success"] is False and out[2]["matching"] == {"f": 1}
    assert out[2]["failures"][0]["type"] == "causality_violation"


async def test_soft_checks_in_cases_use_the_model_and_the_case_task(tmp_path: Path) -> None:
    seen: list[str] = []

    def verdict(messages: list[Any], tools: object) -> str:
        seen.append(messages[-1].content)
        return "[[match]]" if "5 days" in messages[-1].content.split("Agent's value")[1] \
            else "[[no match]]"

    model = ScriptedModel.from_items([verdict] * 2, on_exhausted="error")
    (result,) = await judge_graph_cases(write(tmp_path, MESSAGES), model=model)
    assert result.success and result.matching == {"m": 1}
    assert "Tell me when my refund arrives" in seen[-1]
    (alone,) = await judge_graph_cases(write(tmp_path, MESSAGES))
    assert not alone.success  # normalised equality only, without a model


def test_without_a_domain_every_tool_but_messages_is_a_write(tmp_path: Path) -> None:
    case = {"id": "reads", "oracle": [{"id": "c", "tool": "cancel_reservation",
                                       "args": {"reservation_id": "R"}}],
            "agent": [{"tool": "get_reservation_details", "args": {"reservation_id": "R"}},
                      {"tool": "cancel_reservation", "args": {"reservation_id": "R"}}]}
    lines: list[str] = []
    run_graph_cases(write(tmp_path, case), write=lines.append)
    assert json.loads(lines[0])["failures"][0] == {
        "type": "count_mismatch", "tool": "get_reservation_details", "agent": 1, "oracle": 0,
        "extra_allowed": 0}
    lines.clear()
    assert run_graph_cases(write(tmp_path, {**case, "domain": "airline"}),
                           write=lines.append) == 0


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", r"cases.jsonl:2: not valid JSON"),
    ("[1, 2]", r"cases.jsonl:2: a case is a JSON object"),
    (json.dumps({"id": "x"}), r"cases.jsonl:2 \(case 'x'\): oracle: Field required"),
    (json.dumps({"id": "x", "oracle": [], "extra": 1}), r"extra: Extra inputs"),
    (json.dumps({"id": "x", "oracle": [{"id": "a"}]}), r"oracle.0.tool: Field required"),
    (json.dumps({"id": "x", "oracle": [], "agent": [{"tool": "t", "error": "no"}]}),
     r"agent.0.error"),
    (json.dumps({"id": "x", "oracle": [], "extra_messages": -1}), r"extra_messages"),
    (json.dumps({"id": "x", "domain": "space", "oracle": []}), r"unknown domain 'space'"),
    (json.dumps({"id": "x", "domain": "airline", "oracle": [{"id": "a", "tool": "fly"}]}),
     r"oracle tool 'fly' is not a tool of domain 'airline'"),
    (json.dumps({"id": "x", "oracle": [], "checkers": {"t": {"a": "nearly"}}}),
     r"checkers.t.a: unknown checker 'nearly'"),
    (json.dumps({"id": "x", "oracle": [{"id": "a", "tool": "t", "depends_on": ["b"]},
                                       {"id": "b", "tool": "t", "depends_on": ["a"]}]}),
     r"cycle through a, b"),
    (json.dumps({"id": "x", "oracle": [{"id": "a", "tool": "t", "args": {"r": "{{z.id}}"}}]}),
     r"placeholder \{\{z.id\}\} names no step"),
    (json.dumps(SWAPPED), r"cases.jsonl:2 \(case 'swapped'\): case id 'swapped' already used on "
     r"line 1"),
])
def test_a_malformed_line_gives_one_error_naming_file_and_line(
        tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, SWAPPED, line)
    with pytest.raises(DataError, match=message):
        load_graph_cases(path)
    printed: list[str] = []
    with pytest.raises(DataError):
        run_graph_cases(path, write=printed.append)
    assert printed == []  # nothing is judged from a malformed file


def test_an_unreadable_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read cases file"):
        load_graph_cases(tmp_path / "missing.jsonl")


def test_a_script_can_run_a_cases_file(tmp_path: Path) -> None:
    path = write(tmp_path, SWAPPED)
    code = ("import sys; from toolgym.judges import run_graph_cases; "
            "sys.exit(run_graph_cases(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"id": "swapped", "success": True, "failures": [],
                                       "matching": {"b1": 1, "b2": 0}}


def test_deep_nesting_and_an_empty_file_are_one_line_errors(tmp_path: Path) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(DataError, match=r"deep.jsonl:1: nested too deeply"):
        load_graph_cases(deep)
    nested = tmp_path / "nested.jsonl"
    nested.write_text('{"id": ' + "[" * 150 + "]" * 150 + "}\n")
    with pytest.raises(DataError, match=r"nested.jsonl:1: nested too deeply"):
        load_graph_cases(nested)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="no cases"):  # not "every case passed"
        load_graph_cases(empty)
