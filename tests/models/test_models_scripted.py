"""The scripted provider."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from toolgym.errors import DataError
from toolgym.messages import Message
from toolgym.models import (
    ContextOverflowError,
    EpisodeInfo,
    ModelConfig,
    RetryableModelError,
    ScriptedModel,
    TerminalModelError,
    create_model,
)

HI = [Message.user("hi")]


def episode(task_id: str, role: str = "agent", trial: int = 0) -> EpisodeInfo:
    return EpisodeInfo(task=SimpleNamespace(id=task_id), domain=None, trial=trial, seed=0,
                       role=role)


async def test_plays_text_tool_calls_and_then_default_stop() -> None:
    model = ScriptedModel.from_items([
        "Hello!",
        {"content": "checking", "tool_calls": [{"name": "get_user",
                                                 "arguments": {"user_id": "u1"}}]},
        {"tool_calls": [{"name": "bad", "arguments": '{"x": '}]},
    ])
    r1 = await model.generate(HI)
    assert r1.message.content == "Hello!" and r1.message.role == "assistant"
    assert r1.usage.cost == 0.0 and r1.usage.calls == 1
    r2 = await model.generate(HI)
    assert r2.message.content == "checking"
    assert r2.message.tool_calls and r2.message.tool_calls[0].arguments == {"user_id": "u1"}
    r3 = await model.generate(HI)
    assert r3.message.tool_calls and r3.message.tool_calls[0].parse_error
    assert r3.message.tool_calls[0].raw_arguments == '{"x": '
    model.assert_complete()
    # Exhausted: the agent role says it is done.
    assert (await model.generate(HI)).message.content == "Done."


async def test_exhausted_user_role_stops_and_error_mode_raises() -> None:
    user = ScriptedModel.from_items(["I want a refund."]).for_episode(episode("1", role="user"))
    assert (await user.generate(HI)).message.content == "I want a refund."
    assert (await user.generate(HI)).message.content == "###STOP###"
    strict = ScriptedModel.from_items(["one"], on_exhausted="error")
    await strict.generate(HI)
    with pytest.raises(TerminalModelError, match="exhausted after 1"):
        await strict.generate(HI)


async def test_error_items_raise_typed_errors_and_are_consumed() -> None:
    model = ScriptedModel.from_items([
        {"error": "429", "retry_after": 2}, {"error": "500"}, {"error": "timeout"},
        {"error": "context_overflow"}, {"error": "400"}, "ok",
    ])
    with pytest.raises(RetryableModelError) as e429:
        await model.generate(HI)
    assert e429.value.status == 429 and e429.value.retry_after == 2
    with pytest.raises(RetryableModelError) as e500:
        await model.generate(HI)
    assert e500.value.status == 500
    with pytest.raises(RetryableModelError):
        await model.generate(HI)
    with pytest.raises(ContextOverflowError):
        await model.generate(HI)
    with pytest.raises(TerminalModelError):
        await model.generate(HI)
    assert (await model.generate(HI)).message.content == "ok"


async def test_list_script_restarts_for_each_episode() -> None:
    model = ScriptedModel.from_items(["a", "b"])
    e1, e2 = model.for_episode(episode("1")), model.for_episode(episode("2"))
    assert (await e1.generate(HI)).message.content == "a"
    assert (await e2.generate(HI)).message.content == "a"
    assert (await e1.generate(HI)).message.content == "b"
    with pytest.raises(AssertionError) as exc:
        model.assert_complete()
    text = str(exc.value)
    assert "task '2'" in text and "step 1" in text and "'b'" in text
    assert "task '1'" not in text


async def test_per_task_scripts_with_default() -> None:
    model = ScriptedModel.from_items({"7": ["seven"], "*": ["default"], "9": ["nine"]})
    assert (await model.for_episode(episode("7")).generate(HI)).message.content == "seven"
    assert (await model.for_episode(episode("3")).generate(HI)).message.content == "default"
    with pytest.raises(AssertionError, match="task '9': script never used"):
        model.assert_complete()


async def test_callable_items_see_the_conversation() -> None:
    def echo(messages: list[Message], tools: Any) -> str:
        return f"you said {messages[-1].content}"

    model = ScriptedModel.from_items([echo])
    assert (await model.generate([Message.user("x")])).message.content == "you said x"


async def test_script_file_via_create_model(tmp_path: Path) -> None:
    yml = tmp_path / "s.yaml"
    yml.write_text("- hello\n- tool_calls:\n    - name: get_user\n      arguments: {user_id: u9}\n")
    model = create_model(ModelConfig(model="scripted", args={"script": str(yml)}))
    assert (await model.generate(HI)).message.content == "hello"
    msg = (await model.generate(HI)).message
    assert msg.tool_calls and msg.tool_calls[0].arguments == {"user_id": "u9"}
    js = tmp_path / "s.json"
    js.write_text(json.dumps({"*": ["from json"]}))
    model = create_model(ModelConfig(model="scripted", args={"script": str(js)}))
    assert (await model.for_episode(episode("1")).generate(HI)).message.content == "from json"


def test_malformed_scripts_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown error"):
        ScriptedModel.from_items([{"error": "418"}])
    with pytest.raises(DataError, match="unknown keys"):
        ScriptedModel.from_items([{"text": "x"}])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- [unclosed\n")
    with pytest.raises(DataError, match=r"bad\.yaml"):
        create_model(ModelConfig(model="scripted", args={"script": str(bad)}))


def test_scripted_stop_token_is_the_user_stop_marker() -> None:
    from toolgym.models import USER_STOP_TOKEN
    from toolgym.users import STOP

    assert USER_STOP_TOKEN == STOP


def test_unknown_args_are_refused_with_the_known_ones() -> None:
    from toolgym.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        ScriptedModel.from_items(["hi"], on_exhaust="error")
    assert str(exc.value) == ("scripted: unknown argument(s) 'on_exhaust' (known: latency_ms, "
                              "on_exhausted, price_in, price_out, prices, role, script)")
    model = ScriptedModel.from_items(["hi"], on_exhausted="error", latency_ms=0, role="user",
                                     price_in=0.0, price_out=0.0)
    assert model.on_exhausted == "error" and model.role == "user"
