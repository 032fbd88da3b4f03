"""The ``planner`` strategy: JSON steps constrained to the tool names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.agents import AgentContext, create_agent
from toolgym.errors import ConfigError
from toolgym.messages import Message
from toolgym.models import ModelConfig, build_model
from toolgym.models._scripted import ScriptedModel
from toolgym.runner import Termination
from toolgym.testing import FakeOpenAIServer

TOOLS = toolgym.load_domain("assistant").openai_tools()
NAMES = sorted(t["function"]["name"] for t in TOOLS)


def _ctx(model: Any, **args: Any) -> AgentContext:
    return AgentContext(model=model, system_prompt="Be helpful.", tools=TOOLS, args=args)


def _conversation() -> list[Message]:
    return [Message.system("Be helpful."), Message.assistant("Hi!"),
            Message.user("What is 6 times 7?")]


async def test_an_unknown_tool_is_asked_again_then_becomes_a_call() -> None:
    asked: list[str] = []

    def second(messages: list[Message], tools: Any) -> str:
        asked.append(messages[-1].content or "")
        return ('Here: {"thought": "multiply", "tool": "calculate", "arguments": '
                '{"expression": "6 * 7"}}')

    model = ScriptedModel.from_items([
        '{"thought": "search", "tool": "google", "arguments": {"q": "x"}}', second])
    agent = create_agent("planner", _ctx(model))
    reply = await agent.act(_conversation())
    (call,) = reply.message.tool_calls or []
    assert (call.name, call.arguments) == ("calculate", {"expression": "6 * 7"})
    assert reply.message.reasoning == "multiply" and reply.usage.calls == 2
    # The re-ask told the model why, naming the tools that exist.
    assert '"tool" must be one of ask_user, calculate' in asked[0]
    assert 'got "google"' in asked[0]
    prompt = agent.to_text_conversation(_conversation())  # type: ignore[attr-defined]
    system = prompt[0].content or ""
    assert '"tool": "<one tool name, or respond>"' in system
    assert all(name in system for name in NAMES)


async def test_respond_and_unusable_replies() -> None:
    model = ScriptedModel.from_items([
        '{"thought": "easy", "tool": "respond", "arguments": {"content": "It is 42."}}',
        "no json here", '{"tool": "respond", "arguments": {}}',
    ])
    agent = create_agent("planner", _ctx(model))
    first = await agent.act(_conversation())
    assert first.message.content == "It is 42." and not first.message.tool_calls
    second = await agent.act([*_conversation(), first.message, Message.user("And 6*8?")])
    # Two unusable replies: the raw reply is what the user sees (as for react).
    assert second.message.content == '{"tool": "respond", "arguments": {}}'
    assert second.usage.calls == 2
    with pytest.raises(ConfigError, match="structured must be"):
        create_agent("planner", _ctx(model, structured="maybe"))
    with pytest.raises(ConfigError, match="attempts"):
        create_agent("planner", _ctx(model, attempts=0))


def _step(tool: str, **arguments: Any) -> str:
    return json.dumps({"thought": f"use {tool}", "tool": tool, "arguments": arguments})


def test_http_requests_carry_the_schema_and_fall_back_when_refused(tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []
    replies = iter([_step("search_wikipedia", query="Rust (programming language)"),
                    _step("final_answer", answer="2015")])

    def strict(request: dict[str, Any]) -> Any:
        bodies.append(request)
        return next(replies)

    with FakeOpenAIServer(strict) as server:
        agent = {"model": "openai/fake-model", "base_url": server.base_url,
                 "api_key_env": "NO_SUCH_KEY_VAR"}
        run = toolgym.run(domain="assistant", task_ids=["single-011"], agent="planner",
                          agent_model=agent, tool_sim_model="oracle",
                          tool_failures={"*": {}}, out=tmp_path / "a", preflight=False)
    (r,) = run.results
    assert r.termination is Termination.AGENT_STOP and r.steps == 2
    schema = bodies[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["tool"]["enum"] == [*(t["function"]["name"] for t in TOOLS),
                                                     "respond"]
    assert "tools" not in bodies[0]
    # Later steps are shown back to the model as planner JSON.
    assert any('"tool": "search_wikipedia"' in (m.get("content") or "")
               for m in bodies[1]["messages"] if m["role"] == "assistant")

    seen: list[bool] = []
    replies2 = iter([_step("calculate", expression="3.5 * 24 * 60"),
                     _step("final_answer", answer="5040")])

    def no_schema(request: dict[str, Any]) -> Any:
        seen.append("response_format" in request)
        if "response_format" in request:
            return {"error": "400"}
        return next(replies2)

    with FakeOpenAIServer(no_schema) as server:
        agent = {"model": "openai/fake-model", "base_url": server.base_url,
                 "api_key_env": "NO_SUCH_KEY_VAR", "max_retries": 0}
        run = toolgym.run(domain="assistant", task_ids=["single-012"], agent="planner",
                          agent_model=agent, tool_sim_model="oracle", out=tmp_path / "b",
                          preflight=False)
    (r,) = run.results
    assert r.termination is Termination.AGENT_STOP, r.error
    assert seen == [True, False, False]  # refused once, then plain validated parsing


def test_the_oracle_agent_drives_the_planner_offline(tmp_path: Path) -> None:
    run = toolgym.run(domain="assistant", tasks="20-22", agent="planner",
                      agent_model="oracle", tool_sim_model="oracle", out=tmp_path / "o")
    domain = toolgym.load_domain("assistant")
    tasks = {t.id: t for t in domain.tasks}
    for r in run.results:
        calls = [c.name for m in r.messages if m.tool_calls for c in m.tool_calls]
        assert calls == [a.name for a in tasks[r.task_id].gold_actions]
        assert r.termination is Termination.AGENT_STOP


def test_structured_outputs_by_provider_unless_forced() -> None:
    local = build_model(ModelConfig(model="scripted"))
    assert create_agent("planner", _ctx(local)).structured is False  # type: ignore[attr-defined]
    forced = create_agent("planner", _ctx(local, structured="json_schema"))
    assert forced.structured is True  # type: ignore[attr-defined]
    http = build_model(ModelConfig(model="openai/x", base_url="http://127.0.0.1:9/v1"))
    assert create_agent("planner", _ctx(http)).structured is True  # type: ignore[attr-defined]
    off = create_agent("planner", _ctx(http, structured="off"))
    assert off.structured is False  # type: ignore[attr-defined]
