"""Retry layer: backoff, Retry-After, terminal errors, timeouts, concurrency limits."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from typing import Any

import pytest

from toolgym.messages import Message
from toolgym.models import (
    ContextOverflowError,
    EndpointPool,
    ModelConfig,
    RetryableModelError,
    RetryingModel,
    RetryStats,
    ScriptedModel,
    TerminalModelError,
    create_model,
    with_retries,
)
from toolgym.models._retry import backoff_delay
from toolgym.testing import FakeOpenAIServer

HI = [Message.user("hi")]


class Recorder:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def scripted(items: list[Any], **cfg: Any) -> ScriptedModel:
    return ScriptedModel(ModelConfig(model="scripted", **cfg), script=items)


async def test_retries_then_succeeds_with_observer_and_jittered_backoff() -> None:
    sleep, stats = Recorder(), RetryStats()
    calls: list[tuple[int, float]] = []
    inner = scripted([{"error": "500"}, {"error": "429"}, {"error": "timeout"}, "ok"],
                     backoff_base_s=1.0, backoff_max_s=3.0)
    model = with_retries(inner, observer=stats, sleep=sleep, rng=random.Random(0),
                         on_retry=lambda a, e, d: calls.append((a, d)))
    r = await model.generate(HI)
    assert r.message.content == "ok"
    assert stats.retries == 3 and stats.rate_limited == 1
    assert [a for a, _ in calls] == [1, 2, 3]
    assert [d for _, d in calls] == sleep.delays
    # Full jitter within min(cap, base * 2**(attempt-1)).
    for attempt, delay in calls:
        assert 0.0 <= delay <= min(3.0, 2 ** (attempt - 1))
    inner.assert_complete()


async def test_retry_after_is_honoured_over_backoff() -> None:
    sleep = Recorder()
    inner = scripted([{"error": "429", "retry_after": 5}, "ok"], backoff_base_s=0.0)
    r = await with_retries(inner, sleep=sleep).generate(HI)
    assert r.message.content == "ok" and sleep.delays == [5]
    assert backoff_delay(1, 10.0, 10.0, random.Random(1), retry_after=0.01) >= 0.01
    assert backoff_delay(3, 0.0, 10.0, random.Random(1)) == 0.0


async def test_gives_up_after_max_retries() -> None:
    sleep = Recorder()
    inner = scripted([{"error": "500"}] * 3 + ["never"], max_retries=2, backoff_base_s=0)
    with pytest.raises(RetryableModelError):
        await with_retries(inner, sleep=sleep).generate(HI)
    assert len(sleep.delays) == 2 and inner.remaining == ["never"]


@pytest.mark.parametrize("item", [{"error": "400"}, {"error": "context_overflow"}])
async def test_terminal_errors_are_never_retried(item: dict[str, str]) -> None:
    sleep, stats = Recorder(), RetryStats()
    inner = scripted([item, "unused"], backoff_base_s=0)
    with pytest.raises(TerminalModelError) as exc:
        await with_retries(inner, sleep=sleep, observer=stats).generate(HI)
    assert sleep.delays == [] and stats.retries == 0
    assert isinstance(exc.value, ContextOverflowError) == (item["error"] == "context_overflow")


async def test_per_call_timeout_becomes_retryable() -> None:
    slow = scripted(["late", "late"], timeout_s=0.05, max_retries=1, backoff_base_s=0,
                    args={"latency_ms": 5000})
    with pytest.raises(RetryableModelError, match="timed out after"):
        await with_retries(slow).generate(HI)
    # The timed-out call did not consume its item (it was cancelled mid-sleep).
    assert slow.cursor == 0


async def test_openai_429_with_retry_after_then_success_and_500() -> None:
    sleep, stats = Recorder(), RetryStats()
    with FakeOpenAIServer(script=["first", "second"]) as srv:
        srv.inject("429", retry_after=3)
        srv.inject("500")
        base = create_model(ModelConfig(model="openai/fake", base_url=srv.base_url,
                                        backoff_base_s=0.0))
        model = with_retries(base, sleep=sleep, observer=stats)
        r = await model.generate(HI)
        r2 = await model.generate(HI)
        await model.aclose()
    assert (r.message.content, r2.message.content) == ("first", "second")
    assert sleep.delays == [3.0, 0.0]
    assert stats.retries == 2 and stats.rate_limited == 1
    assert len(srv.chat_requests) == 4


async def test_openai_terminal_400_is_not_retried() -> None:
    sleep = Recorder()
    with FakeOpenAIServer(script=["x"]) as srv:
        srv.inject("400")
        model = with_retries(create_model(ModelConfig(model="openai/fake",
                                                      base_url=srv.base_url)), sleep=sleep)
        with pytest.raises(TerminalModelError):
            await model.generate(HI)
        await model.aclose()
    assert sleep.delays == [] and len(srv.chat_requests) == 1


def _gate(parties: int) -> Any:
    """A responder that holds requests until ``parties`` of them are in flight together."""
    barrier = threading.Barrier(parties)

    def respond(request: dict[str, Any]) -> str:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)
        return "ok"

    return respond


async def test_concurrency_limit_is_honoured_per_endpoint() -> None:
    limit = 3
    with FakeOpenAIServer(_gate(limit)) as srv:
        cfg = ModelConfig(model="openai/fake", base_url=srv.base_url, max_concurrency=limit)
        pool = EndpointPool()
        model = RetryingModel(create_model(cfg), pool=pool)
        results = await asyncio.gather(*[model.generate(HI) for _ in range(3 * limit)])
        await model.aclose()
    assert all(r.message.content == "ok" for r in results)
    assert srv.max_in_flight == limit
    assert pool.in_flight() == 0 and pool.limit_of(cfg) == limit


async def test_pools_are_independent_and_default_limit_applies() -> None:
    cfg = ModelConfig(model="scripted", args={"latency_ms": 1})
    pool_a, pool_b = EndpointPool(default_limit=1), EndpointPool()
    seen: list[int] = []

    class Probe(ScriptedModel):
        async def generate(self, messages: list[Message], tools: Any = None,
                           **params: Any) -> Any:
            seen.append(pool_a.in_flight(cfg))
            return await super().generate(messages, tools, **params)

    a = RetryingModel(Probe(cfg, script=["x"] * 4), pool=pool_a)
    b = RetryingModel(Probe(cfg, script=["x"] * 4), pool=pool_b)
    await asyncio.gather(*[a.generate(HI) for _ in range(4)], *[b.generate(HI) for _ in range(4)])
    # Pool A never had more than one call in flight; pool B's calls did not count against it.
    assert max(seen) == 1
    assert pool_a.limit_of(cfg) == 1 and pool_b.limit_of(cfg) is None


async def test_for_episode_keeps_the_wrapper() -> None:
    from types import SimpleNamespace

    from toolgym.models import EpisodeInfo

    stats = RetryStats()
    model = with_retries(scripted([{"error": "500"}, "ok"], backoff_base_s=0), observer=stats)
    ep = model.for_episode(EpisodeInfo(SimpleNamespace(id="1"), None, 0, 0, "agent"))
    assert isinstance(ep, RetryingModel) and ep is not model
    assert (await ep.generate(HI)).message.content == "ok"
    assert stats.retries == 1
    # Provider extras stay reachable through the wrapper.
    ep.assert_complete()
