"""The on-disk response cache."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from toolgym.messages import Message
from toolgym.models import (
    CachedModel,
    EpisodeInfo,
    ModelConfig,
    ResponseCache,
    build_model,
    create_model,
)
from toolgym.testing import FakeOpenAIServer

HI = [Message.user("hi")]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


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


async def test_trial_is_part_of_the_key_and_errors_are_not_cached(tmp_path: Path) -> None:
    model = build_model(ModelConfig(model="scripted", backoff_base_s=0,
                                    args={"script": [{"error": "500"}, "a", "b", "c"]}),
                        cache=tmp_path)
    ep = EpisodeInfo(SimpleNamespace(id="1"), None, 0, 0, "agent")
    m0 = model.for_episode(ep)
    assert isinstance(m0, CachedModel) and m0.trial == 0
    # The 500 was retried, not cached; the answer was.
    assert (await m0.generate(HI)).message.content == "a"
    assert (await m0.generate(HI)).message.content == "a"
    m1 = model.for_episode(EpisodeInfo(SimpleNamespace(id="1"), None, 1, 0, "agent"))
    assert (await m1.generate(HI)).message.content == "a"  # fresh cursor for the episode
    assert (await model.for_episode(ep).generate([Message.user("other")])).message.content == "a"


async def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    model = CachedModel(create_model(ModelConfig(model="scripted",
                                                 args={"script": ["x", "y"]})), cache)
    await model.generate(HI)
    for f in tmp_path.rglob("*.json"):
        f.write_text("{broken")
    assert (await model.generate(HI)).message.content == "y"
