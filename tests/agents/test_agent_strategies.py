"""Agent strategies driven by an in-test fake model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from toolgym.agents import (
    AgentContext,
    FewShotAgent,
    ReActAgent,
    ToolCallingAgent,
    agent_strategies,
    create_agent,
    load_demonstrations,
    parse_action,
)
from toolgym.errors import ConfigError, DataError
from toolgym.messages import Message, ToolCall, Usage
from toolgym.models._base import Model, ModelConfig, ModelResponse

TOOLS: list[dict[str, Any]] = [{
    "type": "function",
    "function": {
        "name": "get_user_details",
        "description": "Look up a user by id.",
        "parameters": {"type": "object", "properties": {"user_id": {"type": "string"}},
                       "required": ["user_id"]},
    },
}]
POLICY = "You are a helpful airline agent. Follow the rules."


class FakeModel(Model):
    """Returns canned replies in order and records every request."""

    def __init__(self, replies: list[str | Message]) -> None:
        super().__init__(ModelConfig(model="fake"))
        self.replies = list(replies)
        self.requests: list[tuple[list[Message], list[dict[str, Any]] | None, dict[str, Any]]] = []

    async def generate(self, messages: list[Message], tools: list[dict[str, Any]] | None = None,
                       **params: Any) -> ModelResponse:
        self.requests.append((list(messages), tools, params))
        reply = self.replies.pop(0)
        msg = reply if isinstance(reply, Message) else Message.assistant(reply)
        return ModelResponse(message=msg, usage=Usage(prompt_tokens=10, completion_tokens=5,
                                                      calls=1), latency_s=0.25)


def ctx(model: Model, **args: Any) -> AgentContext:
    return AgentContext(model=model, system_prompt=POLICY, tools=TOOLS, args=args)


def convo(*rest: Message) -> list[Message]:
    return [Message.system(POLICY), Message.user("Hi, I need help."), *rest]


# --- registry and args ---------------------------------------------------------------------

def test_registered_strategies() -> None:
    assert set(agent_strategies()) >= {"tool-calling", "react", "act", "few-shot"}


@pytest.mark.parametrize("name", ["tool-calling", "react", "act"])
def test_unknown_args_rejected_with_allowed_list(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        create_agent(name, ctx(FakeModel([]), temprature=0.2))
    assert "temprature" in str(err.value)
    assert "temperature" in str(err.value)  # the allowed list is shown


# --- tool-calling --------------------------------------------------------------------------

async def test_tool_calling_passes_conversation_tools_and_sampling_args() -> None:
    call = ToolCall(id="c1", name="get_user_details", arguments={"user_id": "u1"})
    model = FakeModel([Message.assistant(None, [call])])
    agent = create_agent("tool-calling", ctx(model, temperature=0.0, seed=7))
    assert isinstance(agent, ToolCallingAgent)
    messages = convo()
    reply = await agent.act(messages)
    sent, tools, params = model.requests[0]
    assert sent == messages
    assert tools == TOOLS
    assert params == {"temperature": 0.0, "seed": 7}
    assert reply.message.tool_calls == [call]
    assert reply.usage.calls == 1 and reply.latency_s == 0.25
    assert reply.message.usage == reply.usage


# --- react / act ---------------------------------------------------------------------------

async def test_react_fenced_action_becomes_tool_call_and_prompt_has_no_native_tools() -> None:
    raw = ('Thought: I should look the user up.\nAction:\n```json\n'
           '{"name": "get_user_details", "arguments": {"user_id": "u1"}}\n```\nDone.')
    model = FakeModel([raw])
    agent = create_agent("react", ctx(model))
    reply = await agent.act(convo())
    sent, tools, _ = model.requests[0]
    assert tools is None
    system = sent[0].content or ""
    assert "get_user_details" in system and "Look up a user by id." in system
    assert POLICY in system and '"user_id"' in system
    msg = reply.message
    assert msg.reasoning == "I should look the user up."
    assert msg.content is None  # the thought never reaches the user
    assert msg.tool_calls is not None and len(msg.tool_calls) == 1
    assert msg.tool_calls[0].name == "get_user_details"
    assert msg.tool_calls[0].arguments == {"user_id": "u1"}


async def test_react_respond_action_is_text_for_the_user() -> None:
    model = FakeModel(['Thought: greet.\nAction: {"name": "respond", '
                       '"arguments": {"content": "Sure, what is your user id?"}}'])
    reply = await create_agent("react", ctx(model)).act(convo())
    assert reply.message.content == "Sure, what is your user id?"
    assert reply.message.tool_calls is None


async def test_react_unparseable_reply_becomes_raw_text() -> None:
    raw = "I think I will help you with that right away."
    reply = await create_agent("react", ctx(FakeModel([raw]))).act(convo())
    assert reply.message.role == "assistant"
    assert reply.message.content == raw
    assert reply.message.tool_calls is None


async def test_react_single_quoted_action_is_not_evaluated() -> None:
    raw = "Thought: x\nAction:\n{'name': 'get_user_details', 'arguments': {'user_id': 'u1'}}"
    reply = await create_agent("react", ctx(FakeModel([raw]))).act(convo())
    assert reply.message.tool_calls is None
    assert reply.message.content == raw


def test_parse_action_never_picks_a_nested_object_of_a_broken_outer_one() -> None:
    # The inner object has a "name" key, but it is an argument, not the action.
    assert parse_action("Action: {'name': 'cancel', 'arguments': {\"name\": \"Bob\"}}") is None
    parsed = parse_action('Action: {"name": "a", "arguments": "{\\"k\\": 1}"} trailing {x}')
    assert parsed is not None and parsed.arguments == {"k": 1}


def test_parse_action_survives_deeply_nested_output() -> None:
    deep = "[" * 5000 + "]" * 5000
    assert parse_action(f"Action: {deep}") is None
    parsed = parse_action('Action: {"name": "a", "arguments": "' + deep + '"}')
    assert parsed is not None and parsed.arguments == {}
    assert parsed.parse_error is not None and "nested too deeply" in parsed.parse_error


async def test_act_mode_has_no_thought_and_history_is_rendered_as_text() -> None:
    model = FakeModel([
        'Action:\n{"name": "get_user_details", "arguments": {"user_id": "u1"}}',
        'Action:\n{"name": "respond", "arguments": {"content": "Found you."}}',
    ])
    agent = create_agent("act", ctx(model))
    first = await agent.act(convo())
    assert first.message.content is None
    call = first.message.tool_calls[0] if first.message.tool_calls else None
    assert call is not None
    tool_msg = Message(role="tool", content='{"user_id": "u1"}', tool_call_id=call.id,
                       name=call.name)
    second = await agent.act(convo(first.message, tool_msg))
    assert second.message.content == "Found you."
    sent = model.requests[1][0]
    assert [m.role for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2].content is not None and sent[2].content.startswith("Action:")
    assert json.loads(sent[2].content.split("Action:", 1)[1]) == {
        "name": "get_user_details", "arguments": {"user_id": "u1"}}
    assert sent[3].content == 'API output: {"user_id": "u1"}'
    assert "Thought" not in (sent[0].content or "").split("# Tools")[0]


async def test_react_renders_foreign_history_and_splits_parallel_calls() -> None:
    calls = [ToolCall(id="a", name="get_user_details", arguments={"user_id": "u1"}),
             ToolCall(id="b", name="get_user_details", arguments={"user_id": "u2"})]
    history = convo(
        Message.assistant("Checking both.", calls),
        Message(role="tool", content="r1", tool_call_id="a"),
        Message(role="tool", content="r2", tool_call_id="b"),
        Message.assistant("Both found."),
        Message.user("Thanks"),
    )
    model = FakeModel(['Thought: done\nAction: {"name": "respond", '
                       '"arguments": {"content": "Bye"}}'])
    agent = create_agent("react", ctx(model))
    await agent.act(history)
    sent = model.requests[0][0]
    texts = [(m.role, m.content) for m in sent[1:]]
    assert texts[0] == ("user", "Hi, I need help.")
    assert texts[1][0] == "assistant" and texts[1][1] is not None
    assert texts[1][1].startswith("Thought:\nChecking both.\nAction:")
    assert texts[2] == ("user", "API output: r1")
    assert '"u2"' in (texts[3][1] or "") and "Checking both." not in (texts[3][1] or "")
    assert texts[4] == ("user", "API output: r2")
    assert json.loads((texts[5][1] or "").split("Action:", 1)[1])["arguments"] == {
        "content": "Both found."}
    assert texts[6] == ("user", "Thanks")


async def test_react_bare_native_call_from_provider_is_recovered() -> None:
    call = ToolCall(id="x", name="get_user_details", arguments={"user_id": "u9"})
    model = FakeModel([Message.assistant(None, [call])])
    agent = ReActAgent(ctx(model), "react")
    reply = await agent.act(convo())
    assert reply.message.tool_calls is not None
    assert reply.message.tool_calls[0].arguments == {"user_id": "u9"}


# --- few-shot ------------------------------------------------------------------------------

def _write_demos(path: Path, n: int) -> None:
    lines = []
    for i in range(n):
        if i % 2 == 0:  # OpenAI format
            msgs: list[dict[str, Any]] = [
                {"role": "system", "content": "old policy"},
                {"role": "user", "content": f"demo-user-{i}"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "t1", "type": "function", "function": {
                        "name": "get_user_details",
                        "arguments": json.dumps({"user_id": f"d{i}"})}}]},
                {"role": "tool", "tool_call_id": "t1", "content": f"result-{i}"},
                {"role": "assistant", "content": f"demo-answer-{i}"},
            ]
            lines.append(json.dumps({"messages": msgs}))
        else:  # RolloutResult-like (toolgym messages plus other fields)
            msgs = [Message.user(f"demo-user-{i}").model_dump(mode="json"),
                    Message.assistant(f"demo-answer-{i}").model_dump(mode="json")]
            lines.append(json.dumps({"task_id": str(i), "trial": 0, "reward": 1.0,
                                     "messages": msgs}))
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")


async def test_few_shot_puts_selected_demos_in_system_prompt(tmp_path: Path) -> None:
    demos = tmp_path / "demos.jsonl"
    _write_demos(demos, 5)
    model = FakeModel(["Hello!"])
    agent = create_agent("few-shot", ctx(model, examples=str(demos), num_examples=2,
                                         temperature=0.5))
    assert isinstance(agent, FewShotAgent)
    await agent.act(convo())
    sent, tools, params = model.requests[0]
    assert tools == TOOLS
    assert params == {"temperature": 0.5}
    system = sent[0].content or ""
    assert system.startswith(POLICY)
    assert system.count("## Example") == 2
    assert sum(f"demo-user-{i}" in system for i in range(5)) == 2
    assert "old policy" not in system
    assert sent[1:] == convo()[1:]
    # Deterministic: same seed, same picks; the demos render tool calls and results.
    again = create_agent("few-shot", ctx(FakeModel([]), examples=str(demos), num_examples=2))
    assert isinstance(again, FewShotAgent)
    assert again.demonstrations == agent.demonstrations


def test_few_shot_renders_calls_from_openai_format(tmp_path: Path) -> None:
    demos = tmp_path / "demos.jsonl"
    _write_demos(demos, 1)
    agent = FewShotAgent(ctx(FakeModel([]), examples=str(demos)))
    prompt = agent.system_prompt(POLICY)
    assert 'get_user_details {"user_id": "d0"}' in prompt
    assert "[result of get_user_details] result-0" in prompt
    assert len(load_demonstrations(demos)) == 1


def test_few_shot_errors_name_file_and_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(DataError, match=r"nope\.jsonl: few-shot examples file not found"):
        FewShotAgent(ctx(FakeModel([]), examples=str(missing)))
    bad = tmp_path / "bad.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    bad.write_text(f"{good}\n{{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2"):
        FewShotAgent(ctx(FakeModel([]), examples=str(bad)))
    wrong_role = tmp_path / "role.jsonl"
    wrong_role.write_text(f"{good}\n\n" + json.dumps({"messages": [{"role": "bot"}]}) + "\n",
                          encoding="utf-8")
    with pytest.raises(DataError, match=r"role\.jsonl:3"):
        FewShotAgent(ctx(FakeModel([]), examples=str(wrong_role)))


def test_few_shot_requires_examples_and_checks_args() -> None:
    with pytest.raises(ConfigError, match="examples"):
        create_agent("few-shot", ctx(FakeModel([])))
    with pytest.raises(ConfigError, match="num_exemples"):
        create_agent("few-shot", ctx(FakeModel([]), examples="x.jsonl", num_exemples=2))
