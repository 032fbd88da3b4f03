"""The on-disk response cache."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import toolgym
from toolgym.messages import Message, ToolCall, Usage
from toolgym.models import (
    CachedModel,
    EpisodeInfo,
    Model,
    ModelConfig,
    ModelResponse,
    ResponseCache,
    build_model,
    create_model,
    register_provider,
)
from toolgym.testing import FakeOpenAIServer

HI = [Message.user("hi")]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]

#: Calls that reached an EchoModel (a cache hit does not).
ECHO_CALLS = [0]


class EchoModel(Model):
    """A model whose reply is every input that can change a real model's reply.

    A wrong cache hit is then visible: the reply echoes another call's input.
    """

    def __init__(self, config: ModelConfig, episode: EpisodeInfo | None = None) -> None:
        super().__init__(config)
        self.episode = episode

    def for_episode(self, episode: EpisodeInfo) -> Model:
        return EchoModel(self.config, episode)

    async def generate(self, messages: list[Message], tools: list[dict[str, Any]] | None = None,
                       **params: Any) -> ModelResponse:
        ECHO_CALLS[0] += 1
        ep = self.episode
        text = json.dumps({
            "model": self.config.model, "base_url": self.config.base_url,
            "args": self.config.args, "params": params,
            "trial": ep.trial if ep else None, "seed": ep.seed if ep else None,
            "messages": [m.to_openai() for m in messages], "tools": tools,
            "call": ECHO_CALLS[0],
        })
        usage = Usage(prompt_tokens=1, completion_tokens=1, cost=0.0, calls=1)
        return ModelResponse(message=Message.assistant(text), usage=usage)


def echoed(response: ModelResponse) -> dict[str, Any]:
    assert response.message.content is not None
    reply: dict[str, Any] = json.loads(response.message.content)
    return reply


register_provider("cache-echo")(EchoModel)


@pytest.fixture(autouse=True)
def count_echo_calls() -> None:
    ECHO_CALLS[0] = 0


async def test_cache_hit_avoids_a_second_request(tmp_path: Path) -> None:
    reply = {"content": "cached?", "tool_calls": [{"name": "f", "arguments": {"a": 1}}]}
    with FakeOpenAIServer(script=[reply, "second", "third"]) as srv:
        cfg = ModelConfig(model="openai/fake", base_url=srv.base_url,
                          args={"temperature": 0})
        cache = ResponseCache(tmp_path / "cache")
        model = CachedModel(create_model(cfg), cache)
        first = await model.generate(HI, tools=TOOLS)
        again = await model.generate(HI, tools=TOOLS)
        assert len(srv.chat_requests) == 1
        assert again.message.content == first.message.content == "cached?"
        assert again.message.tool_calls == first.message.tool_calls
        assert again.usage == first.usage and again.raw and "cache_hit" in again.raw
        assert (cache.hits, cache.misses) == (1, 1)
        # Anything in the key changing means a new request.
        other = await model.generate(HI, tools=TOOLS, temperature=1.0)
        assert other.message.content == "second"
        assert (await model.generate(HI)).message.content == "third"
        assert len(srv.chat_requests) == 3
        # A second process (fresh cache object, same directory) replays too.
        model2 = CachedModel(create_model(cfg), ResponseCache(tmp_path / "cache"))
        assert (await model2.generate(HI, tools=TOOLS)).message.content == "cached?"
        assert len(srv.chat_requests) == 3
        await model.aclose()
        await model2.aclose()
    files = list((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 3
    assert json.loads(files[0].read_text())["message"]["role"] == "assistant"


async def test_errors_are_not_cached_and_episodes_get_fresh_scripts(tmp_path: Path) -> None:
    model = build_model(ModelConfig(model="scripted", backoff_base_s=0,
                                    args={"script": [{"error": "500"}, "a", "b", "c"]}),
                        cache=tmp_path)
    ep = EpisodeInfo(SimpleNamespace(id="1"), None, 0, 0, "agent")
    m0 = model.for_episode(ep)
    assert isinstance(m0, CachedModel) and (m0.trial, m0.seed) == (0, 0)
    # The 500 was retried, not cached; the answer was.
    assert (await m0.generate(HI)).message.content == "a"
    assert (await m0.generate(HI)).message.content == "a"
    assert (await model.for_episode(ep).generate([Message.user("other")])).message.content == "a"


async def test_trial_and_seed_are_part_of_the_key(tmp_path: Path) -> None:
    # Through the standard stack (cache over retries): the episode binds both.
    model = build_model(ModelConfig(model="cache-echo/m"), cache=tmp_path)

    async def ask(trial: int, seed: int) -> dict[str, Any]:
        m = model.for_episode(EpisodeInfo(SimpleNamespace(id="1"), None, trial, seed, "agent"))
        assert isinstance(m, CachedModel) and (m.trial, m.seed) == (trial, seed)
        return echoed(await m.generate(HI))

    first = await ask(0, 11)
    assert (first["trial"], first["seed"]) == (0, 11)
    assert await ask(0, 11) == first  # a replay of the same episode hits
    assert (await ask(1, 11))["trial"] == 1  # another trial, same seed: a miss
    assert (await ask(0, 12))["seed"] == 12  # same trial, another run seed: a miss
    assert ECHO_CALLS[0] == 3


async def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    model = CachedModel(create_model(ModelConfig(model="scripted",
                                                 args={"script": ["x", "y"]})), cache)
    await model.generate(HI)
    for f in tmp_path.rglob("*.json"):
        f.write_text("{broken")
    assert (await model.generate(HI)).message.content == "y"


# ------------------------------------------- every input that changes a reply

CALL = ToolCall(id="c1", name="f", arguments={"a": 1})
BASE: dict[str, Any] = {
    "model": "echo/a", "base_url": "http://127.0.0.1:1/v1", "args": {"temperature": 0.0},
    "params": {}, "trial": 0, "seed": 5, "tools": TOOLS,
    "messages": [Message.system("policy"), Message.user("hi"),
                 Message.assistant(tool_calls=[CALL]),
                 Message(role="tool", content="result 1", tool_call_id="c1", name="f")],
}


def _messages_with(**change: Any) -> list[Message]:
    msgs = [m.model_copy(deep=True) for m in BASE["messages"]]
    for index, fields in change.items():
        for name, value in fields.items():
            setattr(msgs[int(index[1:])], name, value)
    return msgs


VARIANTS: dict[str, dict[str, Any]] = {
    "trial": {"trial": 1},
    "seed": {"seed": 6},
    "model": {"model": "echo/b"},
    "base url": {"base_url": "http://127.0.0.1:2/v1"},
    "config sampling args": {"args": {"temperature": 0.7}},
    "an added config arg": {"args": {"temperature": 0.0, "top_p": 0.5}},
    "per-call sampling params": {"params": {"temperature": 0.7}},
    "system prompt": {"messages": _messages_with(m0={"content": "other policy"})},
    "user text": {"messages": _messages_with(m1={"content": "hello"})},
    "tool call arguments": {"messages": _messages_with(
        m2={"tool_calls": [ToolCall(id="c1", name="f", arguments={"a": 2})]})},
    "tool result": {"messages": _messages_with(m3={"content": "result 2"})},
    "one more message": {"messages": [*BASE["messages"], Message.user("and?")]},
    "no tools": {"tools": None},
    "tool schema": {"tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"a": {}}}}}]},
}


async def _ask(cache: ResponseCache, call: dict[str, Any]) -> dict[str, Any]:
    cfg = ModelConfig(model=call["model"], base_url=call["base_url"], args=call["args"])
    episode = EpisodeInfo(SimpleNamespace(id="1"), None, call["trial"], call["seed"], "agent")
    model = CachedModel(EchoModel(cfg), cache).for_episode(episode)
    return echoed(await model.generate(call["messages"], call["tools"], **call["params"]))


@pytest.mark.parametrize("name", list(VARIANTS))
async def test_a_call_differing_in_one_input_is_a_miss(tmp_path: Path, name: str) -> None:
    cache = ResponseCache(tmp_path)
    base = await _ask(cache, BASE)
    assert await _ask(cache, BASE) == base and (cache.hits, ECHO_CALLS[0]) == (1, 1)
    variant = {**BASE, **VARIANTS[name]}
    got = await _ask(cache, variant)
    # A miss reaches the model, which answers the variant's own input.
    assert ECHO_CALLS[0] == 2 and got != base
    for field in ("model", "base_url", "args", "params", "trial", "seed", "tools"):
        assert got[field] == variant[field], field
    assert got["messages"] == [m.to_openai() for m in variant["messages"]]
    # Both replies are stored: each call replays its own.
    assert await _ask(cache, variant) == got and await _ask(cache, BASE) == base
    assert ECHO_CALLS[0] == 2


async def test_settings_that_cannot_change_a_reply_still_hit(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cfg = ModelConfig(model="echo/a", args={"temperature": 0.0})
    first = echoed(await CachedModel(EchoModel(cfg), cache).generate(HI))
    same = cfg.model_copy(update={"max_retries": 0, "timeout_s": 1.0, "max_concurrency": 2,
                                  "backoff_base_s": 0.0, "api_key_env": "OTHER_KEY"})
    assert echoed(await CachedModel(EchoModel(same), cache).generate(HI)) == first
    assert ECHO_CALLS[0] == 1 and cache.hits == 1


def test_run_seed_reaches_the_cache_key(tmp_path: Path) -> None:
    # The oracle's mistakes are drawn from the rollout seed: a second run with
    # another seed sharing the cache must not replay the first run's replies.
    def run(seed: int, out: str, cache: bool) -> list[Any]:
        data = toolgym.run(domain="airline", user="scripted", tasks="0-5",
                           agent_model={"model": "oracle", "args": {"error_rate": 0.5}},
                           seed=seed, out=tmp_path / out,
                           cache_dir=tmp_path / "cache" if cache else None)
        return sorted((r.task_id, r.reward, [m.to_openai() for m in r.messages[1:]])
                      for r in data.results)

    uncached_0, uncached_1 = run(0, "u0", False), run(1, "u1", False)
    assert uncached_0 != uncached_1  # the seeds give different episodes
    assert run(0, "c0", True) == uncached_0
    assert run(1, "c1", True) == uncached_1
    assert run(1, "c1-again", True) == uncached_1  # replayed from the cache
