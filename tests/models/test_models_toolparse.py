"""Tool-call argument parsing and recovery of tool calls written as text."""

from __future__ import annotations

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
