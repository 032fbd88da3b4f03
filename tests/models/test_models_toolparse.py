"""Tool-call argument parsing and recovery of tool calls written as text."""

from __future__ import annotations

from pathlib import Path

import toolgym
from toolgym.models._toolparse import make_tool_call, parse_arguments, recover_text_tool_calls


def test_parse_arguments_valid_empty_and_double_encoded() -> None:
    assert parse_arguments('{"a": 1}') == ({"a": 1}, None)
    assert parse_arguments("") == ({}, None)
    assert parse_arguments(None) == ({}, None)
    assert parse_arguments({"b": 2}) == ({"b": 2}, None)
    assert parse_arguments('"{\\"a\\": 1}"') == ({"a": 1}, None)


def test_parse_arguments_errors() -> None:
    args, err = parse_arguments('{"a": 1,')
    assert args == {} and err is not None and "not valid JSON" in err
    args, err = parse_arguments("[1, 2]")
    assert args == {} and err is not None and "JSON object" in err


def test_make_tool_call_keeps_raw_text_when_malformed() -> None:
    call = make_tool_call("c1", "get_user", '{"user_id": "u1"')
    assert call.arguments == {}
    assert call.raw_arguments == '{"user_id": "u1"'
    assert call.parse_error
    # The raw text is what goes back to the model in the conversation.
    assert call.arguments_json() == '{"user_id": "u1"'
    ok = make_tool_call("c2", "get_user", '{"user_id": "u1"}')
    assert ok.arguments == {"user_id": "u1"} and ok.raw_arguments is None


def test_recover_hermes_blocks_and_keep_surrounding_text() -> None:
    content = ('Let me check.\n<tool_call>{"name": "get_user", "arguments": {"user_id": "u1"}}'
               '</tool_call>\n<tool_call>{"name": "get_order", "arguments": "{\\"id\\": 3}"}'
               '</tool_call>')
    rest, calls = recover_text_tool_calls(content, {"get_user", "get_order"})
    assert rest == "Let me check."
    assert [(c.name, c.arguments) for c in calls] == [("get_user", {"user_id": "u1"}),
                                                      ("get_order", {"id": 3})]
    assert calls[0].id != calls[1].id
    # Deterministic ids: the same text gives the same ids.
    assert [c.id for c in recover_text_tool_calls(content, None)[1]] == [c.id for c in calls]


def test_recover_unclosed_block_and_malformed_block() -> None:
    rest, calls = recover_text_tool_calls(
        '<tool_call>{"name": "get_user", "arguments": {"user_id": "u1"}}', {"get_user"})
    assert rest is None and calls[0].arguments == {"user_id": "u1"}
    rest, calls = recover_text_tool_calls(
        '<tool_call>{"name": "get_user", "arguments": {"user_id": </tool_call>', {"get_user"})
    assert len(calls) == 1 and calls[0].name == "get_user"
    assert calls[0].arguments == {} and calls[0].parse_error


def test_recover_bare_json_only_for_offered_tools() -> None:
    text = '{"name": "get_user", "arguments": {"user_id": "u1"}}'
    rest, calls = recover_text_tool_calls(text, {"get_user"})
    assert rest is None and calls[0].name == "get_user"
    rest, calls = recover_text_tool_calls("```json\n" + text + "\n```", {"get_user"})
    assert calls and calls[0].arguments == {"user_id": "u1"}
    # A JSON answer naming no offered tool is ordinary text.
    assert recover_text_tool_calls(text, {"other"}) == (text, [])
    plain = '{"name": "Ann", "age": 3}'
    assert recover_text_tool_calls(plain, {"get_user"}) == (plain, [])
    assert recover_text_tool_calls("hello {", {"get_user"}) == ("hello {", [])


# A degenerate model output: brackets repeated past Python's recursion limit,
# or nested deeper than results can be saved.
DEEP = "[" * 5000 + "]" * 5000
MID = '{"user_id": ' + "[" * 300 + "]" * 300 + "}"


def test_deeply_nested_arguments_are_a_parse_error_not_a_crash() -> None:
    for raw in (DEEP, MID):
        args, err = parse_arguments(raw)
        assert args == {} and err is not None and "nested too deeply" in err
        call = make_tool_call("c1", "get_user_details", raw)
        assert call.parse_error and call.raw_arguments == raw


def test_deeply_nested_text_tool_calls_are_not_recovered_and_do_not_crash() -> None:
    block = '<tool_call>{"name": "get_user_details", "arguments": ' + DEEP + "}</tool_call>"
    _, calls = recover_text_tool_calls(block)
    assert len(calls) == 1 and calls[0].parse_error
    text = '{"name": "get_user_details", "arguments": ' + DEEP + "}"
    assert recover_text_tool_calls(text) == (text, [])


def test_a_run_survives_a_model_sending_deeply_nested_arguments(tmp_path: Path) -> None:
    script = [{"tool_calls": [{"name": "get_user_details", "arguments": raw}]}
              for raw in (DEEP, MID)]
    run = toolgym.run(domain="airline", tasks="0", user="scripted", out=tmp_path / "r",
                      agent_model={"model": "scripted", "args": {"script": script}})
    (result,) = run.results
    tool_texts = [m.content or "" for m in result.messages if m.role == "tool"]
    assert len(tool_texts) == 2
    assert all("nested too deeply" in t for t in tool_texts)
