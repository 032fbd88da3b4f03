"""The openai provider against the loopback FakeOpenAIServer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from toolgym.errors import ConfigError
from toolgym.messages import Message, ToolCall
from toolgym.models import (
    ContextOverflowError,
    ModelConfig,
    OpenAIModel,
    RetryableModelError,
    TerminalModelError,
    create_model,
)
from toolgym.models._openai import is_context_overflow, parse_retry_after, sampling_kwargs
from toolgym.testing import FakeOpenAIServer

TOOLS = [{"type": "function", "function": {
    "name": "get_user", "description": "Look up a user.",
    "parameters": {"type": "object", "properties": {"user_id": {"type": "string"}},
                   "required": ["user_id"]}}}]
HI = [Message.system("be nice"), Message.user("hi")]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(lambda req: "plain reply") as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def model_for(srv: FakeOpenAIServer, **kw: Any) -> OpenAIModel:
    cfg = ModelConfig(model="openai/fake-model", base_url=srv.base_url, **kw)
    model = create_model(cfg)
    assert isinstance(model, OpenAIModel)
    return model


async def test_plain_text_conversion_and_request(server: FakeOpenAIServer) -> None:
    model = model_for(server, args={"temperature": 0.0, "seed": 5, "top_k": 20,
                                    "price_in": 1.0, "price_out": 2.0})
    r = await model.generate(HI)
    await model.aclose()
    assert r.message.role == "assistant" and r.message.content == "plain reply"
    assert r.message.tool_calls is None
    assert r.usage.calls == 1 and r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.cost == pytest.approx((r.usage.prompt_tokens + 2 * r.usage.completion_tokens)
                                         / 1e6)
    assert r.latency_s > 0 and r.message.latency_s == r.latency_s
    req = server.chat_requests[0]
    assert req["model"] == "fake-model"
    assert req["messages"] == [m.to_openai() for m in HI]
    assert req["temperature"] == 0.0 and req["seed"] == 5 and req["top_k"] == 20
    assert "price_in" not in req and "tools" not in req
    headers = {k.lower(): v for k, v in server.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer EMPTY"
    assert headers.get("x-stainless-retry-count") == "0"


async def test_api_key_from_named_env(server: FakeOpenAIServer,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLGYM_TEST_KEY", "sk-local-test")
    model = model_for(server, api_key_env="TOOLGYM_TEST_KEY")
    await model.generate(HI)
    await model.aclose()
    headers = {k.lower(): v for k, v in server.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer sk-local-test"
    assert "sk-local-test" not in model.config.model_dump_json()


def test_missing_key_without_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        create_model("openai/gpt-4o")
    with pytest.raises(ConfigError):
        create_model(ModelConfig(model="openai", base_url="http://127.0.0.1:1/v1"))


async def test_tool_calls_and_history_round_trip() -> None:
    script = [{"content": None, "tool_calls": [{"name": "get_user",
                                                "arguments": {"user_id": "u1"}}]}]
    with FakeOpenAIServer(script=script) as srv:
        model = model_for(srv)
        r = await model.generate(HI, tools=TOOLS)
        call = (r.message.tool_calls or [])[0]
        assert (call.name, call.arguments, call.parse_error) == ("get_user", {"user_id": "u1"},
                                                                 None)
        history = [*HI, r.message,
                   Message(role="tool", tool_call_id=call.id, name="get_user", content="{}")]
        r2 = await model.generate(history, tools=TOOLS)
        await model.aclose()
    assert r2.message.content == "Done."
    req = srv.chat_requests[1]
    assert req["tools"] == TOOLS
    assert req["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"user_id": "u1"}'
    assert req["messages"][3] == {"role": "tool", "content": "{}", "tool_call_id": call.id,
                                  "name": "get_user"}


async def test_malformed_arguments_are_kept_with_a_parse_error(server: FakeOpenAIServer) -> None:
    server.inject("malformed_args", name="get_user", arguments={"user_id": "u1"})
    model = model_for(server)
    r = await model.generate(HI, tools=TOOLS)
    await model.aclose()
    call = (r.message.tool_calls or [])[0]
    assert call.name == "get_user" and call.arguments == {}
    assert call.parse_error and call.raw_arguments and call.raw_arguments.startswith('{"user_id"')


async def test_text_tool_call_is_recovered_only_when_tools_offered(
        server: FakeOpenAIServer) -> None:
    model = model_for(server)
    server.inject("text_tool_call", name="get_user", arguments={"user_id": "u2"})
    r = await model.generate(HI, tools=TOOLS)
    assert r.message.tool_calls == [ToolCall(id=r.message.tool_calls[0].id, name="get_user",
                                             arguments={"user_id": "u2"})]
    assert r.message.content == "plain reply"
    server.inject("text_tool_call", name="get_user", arguments={"user_id": "u2"})
    r = await model.generate(HI)
    assert r.message.tool_calls is None and "<tool_call>" in (r.message.content or "")
    off = model_for(server, args={"text_tool_calls": False})
    server.inject("text_tool_call", name="get_user", arguments={"user_id": "u2"})
    r = await off.generate(HI, tools=TOOLS)
    assert r.message.tool_calls is None
    await model.aclose()
    await off.aclose()


async def test_bare_json_tool_call_is_recovered() -> None:
    reply = '{"name": "get_user", "arguments": {"user_id": "u3"}}'
    with FakeOpenAIServer(script=[reply]) as srv:
        model = model_for(srv)
        r = await model.generate(HI, tools=TOOLS)
        await model.aclose()
    assert r.message.content is None
    assert r.message.tool_calls and r.message.tool_calls[0].arguments == {"user_id": "u3"}


@pytest.mark.parametrize(("fault", "error", "status"), [
    ("429", RetryableModelError, 429),
    ("500", RetryableModelError, 500),
    ("context_overflow", ContextOverflowError, None),
    ("400", TerminalModelError, None),
])
async def test_http_errors_are_mapped(server: FakeOpenAIServer, fault: str, error: type,
                                      status: int | None) -> None:
    server.inject(fault, retry_after=7)
    model = model_for(server)
    with pytest.raises(error) as exc:
        await model.generate(HI)
    await model.aclose()
    if status is not None:
        assert exc.value.status == status
    if fault == "429":
        assert exc.value.retry_after == 7
    if fault == "400":
        assert not isinstance(exc.value, ContextOverflowError)


async def test_timeout_is_retryable(server: FakeOpenAIServer) -> None:
    server.inject("timeout", delay_s=10)
    model = model_for(server, timeout_s=0.3)
    with pytest.raises(RetryableModelError, match="timed out"):
        await model.generate(HI)
    await model.aclose()


async def test_connection_refused_is_retryable() -> None:
    with FakeOpenAIServer() as srv:
        url = srv.base_url
    model = create_model(ModelConfig(model="openai/x", base_url=url, timeout_s=2))
    with pytest.raises(RetryableModelError, match="connection"):
        await model.generate(HI)
    await model.aclose()


def test_helpers() -> None:
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None
    assert is_context_overflow("This model's maximum context length is 4096 tokens")
    assert is_context_overflow("Error code: context_length_exceeded")
    assert not is_context_overflow("invalid value for temperature")
    cfg = ModelConfig(model="openai/m", args={"temperature": 1, "top_k": 5, "price_in": 1,
                                              "price_out": 1, "extra_body": {"min_p": 0.1}})
    kw = sampling_kwargs(cfg, {"temperature": 0.5})
    assert kw == {"temperature": 0.5, "extra_body": {"min_p": 0.1, "top_k": 5}}


async def test_reasoning_content_is_kept_apart_and_not_sent_back() -> None:
    completion = {
        "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "Your flight is on time.",
            "reasoning_content": "The user asked about HAT001; status says on time."}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    with FakeOpenAIServer(lambda req: completion) as srv:
        model = model_for(srv)
        r = await model.generate(HI)
        assert r.message.content == "Your flight is on time."
        assert r.message.reasoning == "The user asked about HAT001; status says on time."
        await model.generate([*HI, r.message, Message.user("thanks")])
        await model.aclose()
        sent = srv.chat_requests[1]["messages"][2]
    assert sent == {"role": "assistant", "content": "Your flight is on time."}
