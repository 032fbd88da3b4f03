"""Runs of a simulated-tool domain through the public API: failures, cache, mixing, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.errors import ConfigError
from toolgym.messages import Message
from toolgym.runner import RolloutResult, Termination
from toolgym.simtools import draw_failure

RATES = {"no_answer": 0.3, "partial": 0.2, "error": 0.2, "timeout": 0.1}


def _run(out: Path, **kwargs: Any) -> toolgym.RunData:
    options: dict[str, Any] = {"domain": "simtest", "agent_model": "oracle",
                               "tool_sim_model": "recorder", "user": "scripted",
                               "concurrency": 2}
    options.update(kwargs)
    return toolgym.run(out=out, **options)


def _sim_messages(r: RolloutResult, tool: str | None = None) -> list[Message]:
    return [m for m in r.messages if m.role == "tool" and m.sim is not None
            and (tool is None or m.name == tool)]


def _injected(run: toolgym.RunData) -> dict[tuple[str, int], list[str | None]]:
    return {r.key: [m.sim.injected for m in _sim_messages(r)]  # type: ignore[union-attr]
            for r in run.results}


def test_injected_failures_are_drawn_from_the_seed_and_recorded(
        tmp_path: Path, clear_calls: list[tuple[str, str, str]]) -> None:
    run = _run(tmp_path / "a", trials=3, seed=5, tool_failures={"lookup": RATES})
    seen: set[str | None] = set()
    for r in run.results:
        lookups = _sim_messages(r, "lookup")
        assert lookups, r.task_id
        for n, m in enumerate(lookups):
            assert m.sim is not None
            # The n-th lookup of the rollout got exactly the outcome its seed draws.
            assert m.sim.injected == draw_failure(r.seed, "lookup", n, RATES)
            seen.add(m.sim.injected)
            if m.sim.injected == "no_answer":
                assert (m.content, m.error) == ("Nothing found.", False)
            elif m.sim.injected == "error":
                assert (m.content, m.error) == ("Error: unknown city", True)
            elif m.sim.injected == "timeout":
                assert m.error and "timed out" in (m.content or "")
            else:
                answer = "partial" if m.sim.injected == "partial" else "full"
                assert m.content is not None and m.content.endswith(" " + answer)
        # book has no failures by default (only lookup's were set)
        assert all(m.sim.injected is None for m in _sim_messages(r, "book")
                   if m.sim is not None)
    assert {None, "no_answer", "partial", "error", "timeout"} <= seen
    # Injected no_answer / error / timeout make no model call; partial and none do.
    model_calls = sum(r.usage["tool-sim"].calls for r in run.results if "tool-sim" in r.usage)
    answered = sum(1 for r in run.results for m in _sim_messages(r)
                   if m.sim is not None and m.sim.injected in (None, "partial"))
    assert model_calls == answered == len(clear_calls)
    assert sum(a == "partial" for _, a, _ in clear_calls) == sum(
        1 for r in run.results for m in _sim_messages(r)
        if m.sim is not None and m.sim.injected == "partial")
    stats = run.summary["tool_sim"]
    assert stats["calls"] == sum(len(_sim_messages(r)) for r in run.results)
    assert sum(stats["injected"].values()) == sum(x is not None for v in _injected(run).values()
                                                  for x in v)
    strata = stats["strata"]
    clean = sum(all(x is None for x in v) for v in _injected(run).values())
    assert strata["none"]["rollouts"] == clean == len(run.results) - stats[
        "rollouts_with_injection"]
    assert strata["timeout"]["rollouts"] == sum("timeout" in v for v in _injected(run).values())
    assert all(s["avg_reward"] is None for s in strata.values())  # they wait for a judge


def test_same_seed_same_failures_other_seed_other_failures(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", trials=2, seed=11, tool_failures={"*": RATES})
    b = _run(tmp_path / "b", trials=2, seed=11, tool_failures={"*": RATES})
    c = _run(tmp_path / "c", trials=2, seed=12, tool_failures={"*": RATES})
    assert _injected(a) == _injected(b)
    assert _injected(a) != _injected(c)
    # Trials of one task have their own seeds, hence their own failures.
    assert _injected(a)[("many", 0)] != _injected(a)[("many", 1)]


def test_failures_off_and_validation(tmp_path: Path) -> None:
    run = _run(tmp_path / "off", tool_failures={"*": {}})
    assert all(x is None for v in _injected(run).values() for x in v)
    with pytest.raises(ConfigError, match="not a simulated tool of this domain"):
        _run(tmp_path / "bad", tool_failures={"nope": {"error": 0.1}})
    with pytest.raises(ValueError, match=r"sum to 1\.2"):
        _run(tmp_path / "bad2", tool_failures={"lookup": {"error": 0.6, "timeout": 0.6}})


def _tool_lines(run: toolgym.RunData) -> dict[tuple[str, int], list[str]]:
    """Every tool message of every rollout as JSON, without the cache outcome."""
    out = {}
    for r in run.results:
        lines = []
        for m in r.messages:
            if m.role != "tool":
                continue
            d = m.model_dump(mode="json")
            if d.get("sim"):
                d["sim"].pop("cache")
            lines.append(json.dumps(d, sort_keys=True))
        out[r.key] = lines
    return out


def test_record_then_frozen_rerun_makes_no_call_and_gives_identical_results(
        tmp_path: Path, clear_calls: list[tuple[str, str, str]]) -> None:
    cache = tmp_path / "cache"
    failures = {"lookup": {"partial": 0.3, "no_answer": 0.2}}
    recorded = _run(tmp_path / "rec", trials=2, seed=3, tool_failures=failures,
                    tool_cache_dir=cache, tool_cache_mode="record")
    calls_when_recording = len(clear_calls)
    assert calls_when_recording > 0
    rec_stats = recorded.summary["tool_sim"]["cache"]
    assert rec_stats["misses"] == calls_when_recording  # every miss was one model call
    assert rec_stats["hits"] > 0  # the two trials (and repeated lookups) share entries
    assert len(list(cache.rglob("*.json"))) == rec_stats["misses"]
    clear_calls.clear()
    # Frozen, without any tool-sim model at all: a model call would be impossible.
    frozen = _run(tmp_path / "frozen", trials=2, seed=3, tool_failures=failures,
                  tool_sim_model=None, tool_cache_dir=cache, tool_cache_mode="frozen")
    assert clear_calls == []
    assert all("tool-sim" not in r.usage for r in frozen.results)
    assert all(m.sim.cache == "hit" for r in frozen.results for m in _sim_messages(r)
               if m.sim is not None and m.sim.injected in (None, "partial"))
    assert _tool_lines(frozen) == _tool_lines(recorded)
    assert frozen.summary["tool_sim"]["cache"]["misses"] == 0
    # And frozen with a model configured still never calls it.
    again = _run(tmp_path / "frozen2", trials=2, seed=3, tool_failures=failures,
                 tool_cache_dir=cache, tool_cache_mode="frozen")
    assert clear_calls == [] and _tool_lines(again) == _tool_lines(recorded)


def test_a_frozen_miss_is_a_clear_error(tmp_path: Path) -> None:
    run = _run(tmp_path / "miss", tasks="1", tool_sim_model=None,
               tool_cache_dir=tmp_path / "empty", tool_cache_mode="frozen")
    (r,) = run.results
    assert r.termination is Termination.MODEL_ERROR and r.infra_error
    assert r.error is not None
    assert r.error.startswith("tool-sim model: ToolCacheMissError: frozen tool cache ")
    assert 'lookup({"city": "Rome"})' in r.error and "--tool-cache-mode record" in r.error
    assert run.summary["infra_errors"] == 1


def test_replay_reads_and_calls_on_a_miss_without_writing(
        tmp_path: Path, clear_calls: list[tuple[str, str, str]]) -> None:
    cache = tmp_path / "cache"
    _run(tmp_path / "rec", tasks="1", tool_cache_dir=cache)  # record is the default mode
    assert len(clear_calls) == 1 and len(list(cache.rglob("*.json"))) == 1
    clear_calls.clear()
    run = _run(tmp_path / "replay", tool_cache_dir=cache, tool_cache_mode="replay",
               tool_failures={"*": {}})
    by_task = {r.task_id: r for r in run.results}
    assert [m.sim.cache for m in _sim_messages(by_task["rome"])] == ["hit"]  # type: ignore
    assert len(clear_calls) > 0  # the other tasks missed and called the model
    assert len(list(cache.rglob("*.json"))) == 1  # nothing written


def test_stateful_tools_are_keyed_by_the_episode_history(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run = _run(tmp_path / "a", tasks="0", trials=2, tool_cache_dir=cache,
               tool_failures={"lookup": {"partial": 0.5}}, seed=1)
    # lookup (stateless) results are shared between the trials, book (stateful)
    # results only when everything before it was the same.
    histories = []
    for r in run.results:
        before = [m.content for m in r.messages if m.role == "tool" and m.name != "book"]
        book = _sim_messages(r, "book")[0]
        histories.append((before, book.sim.cache if book.sim else None))
    (h0, c0), (h1, c1) = histories
    assert c0 == "miss"
    assert c1 == ("hit" if h0 == h1 else "miss")
    assert h0 != h1  # seed 1: the trials' lookups got different failures
    assert run.summary["tool_sim"]["cache"]["hits"] >= 1  # a lookup shared between trials


def test_code_and_simulated_tools_mix_and_history_reaches_the_simulator(
        tmp_path: Path, clear_calls: list[tuple[str, str, str]]) -> None:
    run = _run(tmp_path / "mix", tasks="0", tool_failures={"*": {}})
    (r,) = run.results
    tools = [(m.name, m.content, m.sim is not None) for m in r.messages if m.role == "tool"]
    assert tools == [
        ("lookup", 'lookup {"city": "Paris"} full', True),
        ("add", "5", False),
        ("lookup", 'lookup {"city": "Paris", "detail": "museums"} full', True),
        ("book", 'book {"item": "Louvre tickets"} full', True),
        ("final_answer", "Final answer recorded.", False),
    ]
    assert r.termination is Termination.AGENT_STOP
    assert r.usage["tool-sim"].calls == 3
    # The last simulated call saw every earlier result of the episode, code tools too.
    last_prompt = clear_calls[-1][2]
    assert '1. lookup({"city": "Paris"}) -> lookup {"city": "Paris"} full' in last_prompt
    assert '2. add({"a": 2, "b": 3}) -> 5' in last_prompt
    assert "# Earlier tool results in this session\n(none)" in clear_calls[0][2]


def _scripted_agent(*calls: tuple[str, Any]) -> dict[str, Any]:
    items: list[Any] = []
    for name, args in calls:
        items.append({"tool_calls": [{"name": name, "arguments": args}]})
    return {"model": "scripted", "args": {"script": items}}


def test_invalid_arguments_are_refused_before_any_model_call(
        tmp_path: Path, clear_calls: list[tuple[str, str, str]]) -> None:
    agent = _scripted_agent(("lookup", {"city": 5}), ("lookup", {}),
                            ("lookup", {"city": "Oslo", "colour": "red"}),
                            ("lookup", '{"city": '), ("final_answer", {"answer": "done"}))
    run = _run(tmp_path / "bad", tasks="1", agent_model=agent)
    (r,) = run.results
    errors = [m.content for m in r.messages if m.role == "tool" and m.name == "lookup"]
    assert errors[0] == ("Error: invalid arguments for lookup: .city: expected string, got "
                         "integer 5")
    assert errors[1] == "Error: invalid arguments for lookup: missing argument 'city'"
    assert errors[2] == "Error: invalid arguments for lookup: unknown argument 'colour'"
    assert errors[3] is not None and errors[3].startswith("Error: could not parse")
    assert clear_calls == [] and "tool-sim" not in r.usage
    assert r.termination is Termination.AGENT_STOP


def test_ask_user_is_answered_by_the_user_simulator(tmp_path: Path) -> None:
    agent = _scripted_agent(("ask_user", {"question": "Which museum do you prefer?"}),
                            ("final_answer", {"answer": "The Louvre."}))
    user = {"model": "scripted", "args": {"script": [
        "Tell me about Paris.", "The Louvre, please. ###STOP###"]}}
    run = _run(tmp_path / "ask", tasks="0", agent_model=agent, user="llm", user_model=user)
    (r,) = run.results
    answer = next(m for m in r.messages if m.role == "tool" and m.name == "ask_user")
    # The stop marker inside a tool answer is dropped: it must not end the episode.
    assert (answer.content, answer.error, answer.sim) == ("The Louvre, please.", False, None)
    assert r.usage["user"].calls == 2 and r.termination is Termination.AGENT_STOP


def test_tool_sim_model_errors_end_the_rollout_as_infrastructure(tmp_path: Path) -> None:
    sim = {"model": "scripted", "args": {"script": [{"error": "400"}]}}
    run = _run(tmp_path / "err", tasks="1", tool_sim_model=sim)
    (r,) = run.results
    assert r.termination is Termination.MODEL_ERROR
    assert r.error is not None and r.error.startswith("tool-sim model: ")


def test_tool_sim_options_are_checked_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no simulated tools"):
        toolgym.run(domain="airline", tool_sim_model="oracle", out=tmp_path / "a")
    with pytest.raises(ConfigError, match="give --tool-sim-model"):
        _run(tmp_path / "b", tool_sim_model=None)
    with pytest.raises(ValueError, match="needs tool_cache_dir"):
        _run(tmp_path / "c", tool_cache_mode="frozen")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_resume_may_move_the_cache_but_not_change_the_failures(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out, tasks="1", tool_cache_dir=tmp_path / "c1")
    lines = (out / "results.jsonl").read_text()
    (out / "results.jsonl").write_text("")
    again = _run(out, tasks="1", tool_cache_dir=tmp_path / "c1", tool_cache_mode="frozen")
    assert len(again.results) == 1 and (out / "results.jsonl").read_text() != lines
    with pytest.raises(ConfigError, match="tool_failures"):
        _run(out, tasks="1", tool_failures={"lookup": {"error": 0.5}})


def test_simulated_calls_wait_without_blocking_other_rollouts(tmp_path: Path) -> None:
    import time

    sim = {"model": "oracle", "args": {"latency_ms": 100}}
    t0 = time.perf_counter()
    run = _run(tmp_path / "slow", tasks="2", trials=4, concurrency=4, tool_sim_model=sim,
               tool_failures={"*": {}})
    wall = time.perf_counter() - t0
    calls = run.summary["tool_sim"]["model_calls"]
    assert calls == 24
    for r in run.results:  # the waits are counted as tool time
        assert r.timings.env_s >= 6 * 0.1 * 0.9
    assert wall < 0.6 * calls * 0.1  # four rollouts waited at once, not one after another


def test_the_response_cache_replays_tool_sim_calls_per_seed_the_tool_cache_across_seeds(
        tmp_path: Path, clear_calls: list[tuple[str, str, str]]) -> None:
    responses = tmp_path / "responses"
    _run(tmp_path / "a", tasks="1", seed=1, cache_dir=responses)
    assert len(clear_calls) == 1
    again = _run(tmp_path / "b", tasks="1", seed=1, cache_dir=responses)
    assert len(clear_calls) == 1  # answered by the response cache (same trial and seed)
    assert again.results[0].usage["tool-sim"].calls == 1  # usage replayed as recorded
    _run(tmp_path / "c", tasks="1", seed=2, cache_dir=responses)
    assert len(clear_calls) == 2  # another seed samples again
    tools = tmp_path / "tools"
    _run(tmp_path / "d", tasks="1", seed=1, tool_cache_dir=tools)
    _run(tmp_path / "e", tasks="1", seed=2, tool_cache_dir=tools)
    assert len(clear_calls) == 3  # the tool cache is keyed by the call, not the seed


def test_any_endpoint_can_simulate_tools_with_usage_under_tool_sim(tmp_path: Path) -> None:
    from toolgym.simtools._prompt import parse_call_block
    from toolgym.testing import FakeOpenAIServer

    prompts: list[str] = []

    def respond(request: dict[str, Any]) -> Any:
        text = request["messages"][-1]["content"]
        prompts.append(text)
        block = parse_call_block(text)
        assert block is not None
        return {"content": f"ERROR: unknown city {block['arguments']['city']}"
                if block["arguments"]["city"] == "Lima" else f"{block['arguments']['city']}: ok",
                "usage": {"prompt_tokens": 50, "completion_tokens": 5}}

    with FakeOpenAIServer(respond) as server:
        base_url = server.base_url
        sim = {"model": "openai/fake-model", "base_url": base_url,
               "api_key_env": "NO_SUCH_KEY_VAR", "args": {"price_in": 1.0, "price_out": 2.0}}
        run = _run(tmp_path / "http", tasks="2", tool_sim_model=sim, tool_failures={"*": {}})
    (r,) = run.results
    lookups = [(m.content, m.error) for m in _sim_messages(r)]
    assert lookups[:2] == [("Oslo: ok", False), ("Error: unknown city Lima", True)]
    usage = r.usage["tool-sim"]
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (6, 300, 30)
    assert usage.cost is not None and usage.cost > 0
    assert len(prompts) == 6 and "Errors it may raise: unknown city" in prompts[0]
    assert json.loads((tmp_path / "http" / "config.json").read_text())["config"][
        "tool_sim"]["base_url"] == base_url


def test_a_resume_may_reconnect_the_tool_sim_model_but_not_change_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out, tasks="1")
    (out / "results.jsonl").write_text("")
    run = toolgym.resume(out, reconnect={"tool_sim": {"timeout_s": 300.0}})
    assert len(run.results) == 1
    changes = json.loads((out / "config.json").read_text())["changes"]
    assert changes[-1]["changed"] == ["tool-sim.timeout_s: 120.0 -> 300.0"]
    with pytest.raises(ConfigError, match=r"tool_sim\.model"):
        _run(out, tasks="1", tool_sim_model="oracle")
    with pytest.raises(ConfigError, match="cannot change tool_sim model"):
        toolgym.resume(out, reconnect={"tool_sim": {"model": "oracle"}})
