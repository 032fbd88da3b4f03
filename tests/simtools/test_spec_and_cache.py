"""Tool specs, failure options, the prompt and the tool cache, through the public API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from toolgym.errors import ConfigError, DataError
from toolgym.simtools import (
    CachedResult,
    SimTool,
    ToolCache,
    ToolCacheMissError,
    argument_problem,
    draw_failure,
    load_sim_tools,
    parse_failure_option,
    parse_failure_options,
    parse_tool_output,
    sim_prompt,
    tool_cache_key,
)

SEARCH = SimTool(name="search", description="Search.",
                 parameters={"type": "object", "properties": {
                     "q": {"type": "string"}, "n": {"type": "integer"}}, "required": ["q"]})


def test_specs_load_from_yaml_with_one_line_errors(tmp_path: Path) -> None:
    good = tmp_path / "tools.yaml"
    good.write_text("""
- name: search_papers
  description: Search arXiv.
  parameters:
    type: object
    properties: {query: {type: string}}
    required: [query]
  returns: 'JSON {"papers": [...]}'
  failures: {no_answer: 0.1, partial: 0.1}
  prompt: "You are arXiv. Query: {{query}}. Earlier: {{history}}"
""")
    (tool,) = load_sim_tools(good)
    assert tool.failures == {"no_answer": 0.1, "partial": 0.1}
    assert tool.openai_parameters()["additionalProperties"] is False
    cases = {
        "- name: 'bad name'\n  description: x\n": "invalid tool name 'bad name'",
        "- name: t\n  description: x\n  failures: {oops: 0.1}\n": "unknown failure 'oops'",
        "- name: t\n  description: x\n  failures: {error: 0.7, timeout: 0.7}\n":
            "sum to 1.4",
        "- name: t\n  description: x\n  prompt: '{{nope}}'\n": "unknown prompt placeholder",
        "- name: t\n  description: x\n  parameters: {type: string}\n":
            "must be an object schema",
        "- name: t\n  description: x\n- name: t\n  description: y\n": "duplicate tool name",
        "name: t\n": "expected a list",
    }
    for text, message in cases.items():
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(DataError) as info:
            load_sim_tools(bad)
        assert message in str(info.value) and "\n" not in str(info.value)
        assert str(info.value).startswith(str(bad))


def test_failure_options() -> None:
    assert parse_failure_option("search_internet=none:0.1,partial:0.1") == (
        "search_internet", {"no_answer": 0.1, "partial": 0.1})
    assert parse_failure_option("*=error:0.05,timeout:0.05") == (
        "*", {"error": 0.05, "timeout": 0.05})
    assert parse_failure_option("off") == ("*", {})
    assert parse_failure_option("search=off") == ("search", {})
    assert parse_failure_options([]) is None
    assert parse_failure_options(["a=none:0.2", "a=error:0.1"]) == {"a": {"error": 0.1}}
    for bad, message in [("search", "expected TOOL=KIND:P"), ("s=none", "not KIND:PROBABILITY"),
                         ("s=none:x", "not KIND:PROBABILITY"), ("s=oops:0.1", "unknown failure"),
                         ("s=none:1.5", r"in \[0, 1\]"), ("s=none:0.6,error:0.6", r"sum to 1\.2")]:
        with pytest.raises(ConfigError, match=message):
            parse_failure_option(bad)


def test_draws_are_deterministic_and_follow_the_rates() -> None:
    rates = {"no_answer": 0.1, "partial": 0.1}
    draws = [draw_failure(7, "search", n, rates) for n in range(4000)]
    assert draws == [draw_failure(7, "search", n, rates) for n in range(4000)]
    assert draws != [draw_failure(8, "search", n, rates) for n in range(4000)]
    share = {k: draws.count(k) / len(draws) for k in ("no_answer", "partial")}
    assert 0.08 < share["no_answer"] < 0.12 and 0.08 < share["partial"] < 0.12
    assert draws.count(None) + draws.count("no_answer") + draws.count("partial") == 4000
    assert all(draw_failure(1, "t", n, {}) is None for n in range(50))


def test_argument_problems() -> None:
    assert argument_problem(SEARCH, {"q": "x", "n": 3}) is None
    assert argument_problem(SEARCH, {"n": 3}) == "missing argument 'q'"
    assert argument_problem(SEARCH, {"q": "x", "z": 1}) == "unknown argument 'z'"
    assert argument_problem(SEARCH, {"q": 1}) == ".q: expected string, got integer 1"
    assert argument_problem(SEARCH, ["q"]) == "arguments must be a JSON object"


def test_prompt_holds_the_spec_history_and_call_block() -> None:
    history = [("search", {"q": "a"}, "A result", False), ("add", {"a": 1}, "x" * 2000, True)]
    system, user = sim_prompt(SEARCH, {"q": "b"}, "partial", history)
    assert system.role == "system" and "ERROR: <message>" in (system.content or "")
    text = user.content or ""
    assert '1. search({"q": "a"}) -> A result' in text
    assert '2. add({"a": 1}) -> [error] ' + "x" * 1500 + " [...]" in text
    assert text.index("# Call") > text.index("# Earlier tool results")
    assert '{"answer": "partial", "arguments": {"q": "b"}, "tool": "search"}' in text
    assert "only part of what was asked" in text
    templated = SimTool(name="search", description="Search.", parameters=SEARCH.parameters,
                        prompt="Pretend to be a search engine for {{q}} ({{answer}}).")
    (_, user2) = sim_prompt(templated, {"q": "cats"}, "full", [])
    assert (user2.content or "").startswith("Pretend to be a search engine for cats (full).")
    assert "# Call" in (user2.content or "")


def test_tool_output_parsing() -> None:
    assert parse_tool_output("```json\n{\"a\": 1}\n```") == ('{"a": 1}', False)
    assert parse_tool_output("ERROR: unknown city") == ("Error: unknown city", True)
    assert parse_tool_output("error:") == ("Error: the tool failed", True)
    assert parse_tool_output(None) == ("", False)
    assert parse_tool_output("  plain text  ") == ("plain text", False)


def test_cache_keys_are_canonical_and_stateful_keys_include_history() -> None:
    k = tool_cache_key(SEARCH, {"q": "x", "n": 1}, "full", None)
    assert k == tool_cache_key(SEARCH, {"n": 1.0, "q": "x"}, "full", None)
    assert k != tool_cache_key(SEARCH, {"q": "x", "n": 2}, "full", None)
    assert k != tool_cache_key(SEARCH, {"q": "x", "n": 1}, "partial", None)
    with_history = tool_cache_key(SEARCH, {"q": "x", "n": 1}, "full",
                                  [("search", {"q": "y"}, "r", False)])
    assert with_history != k
    assert with_history != tool_cache_key(SEARCH, {"q": "x", "n": 1}, "full",
                                          [("search", {"q": "y"}, "other", False)])
    changed = SimTool(name="search", description="Search the web.",
                      parameters=SEARCH.parameters)
    assert tool_cache_key(changed, {"q": "x", "n": 1}, "full", None) != k


async def test_cache_modes_and_one_call_per_missing_key(tmp_path: Path) -> None:
    calls: list[str] = []

    async def compute() -> tuple[CachedResult, dict[str, str]]:
        calls.append("call")
        await asyncio.sleep(0.01)
        return CachedResult("result", False), {"tool": "search"}

    cache = ToolCache(tmp_path / "c", "record")
    results = await asyncio.gather(*(cache.fetch("ab" * 32, lambda: "search(x)", compute)
                                     for _ in range(5)))
    assert calls == ["call"]  # concurrent rollouts share one model call
    assert sorted(hit for _, hit in results) == [False, True, True, True, True]
    assert (cache.hits, cache.misses) == (4, 1)
    entry = json.loads((tmp_path / "c" / "ab" / f"{'ab' * 32}.json").read_text())
    assert (entry["content"], entry["error"], entry["tool"]) == ("result", False, "search")
    frozen = ToolCache(tmp_path / "c", "frozen")
    assert await frozen.fetch("ab" * 32, lambda: "x", compute) == (CachedResult("result"), True)
    with pytest.raises(ToolCacheMissError, match=r"has no result for search\(y\)"):
        await frozen.fetch("cd" * 32, lambda: "search(y)", compute)
    # A corrupt entry is a miss, never a crash.
    (tmp_path / "c" / "ab" / f"{'ab' * 32}.json").write_text("{not json")
    with pytest.raises(ToolCacheMissError):
        await frozen.fetch("ab" * 32, lambda: "x", compute)
    replay = ToolCache(tmp_path / "r", "replay")
    assert await replay.fetch("ef" * 32, lambda: "x", compute) == (CachedResult("result"), False)
    assert not (tmp_path / "r").exists()  # replay never writes
    with pytest.raises(ConfigError):
        ToolCache(tmp_path / "c", "off")


async def test_a_failed_call_lets_the_waiting_rollouts_try_themselves(tmp_path: Path) -> None:
    attempts: list[int] = []

    async def flaky() -> tuple[CachedResult, dict[str, str]]:
        attempts.append(1)
        await asyncio.sleep(0.01)
        if len(attempts) == 1:
            raise RuntimeError("boom")
        return CachedResult("ok"), {}

    cache = ToolCache(tmp_path / "c", "record")
    outcomes = await asyncio.gather(*(cache.fetch("aa" * 32, lambda: "x", flaky)
                                      for _ in range(3)), return_exceptions=True)
    assert isinstance(outcomes[0], RuntimeError)
    assert [o for o in outcomes[1:]] == [(CachedResult("ok"), False), (CachedResult("ok"), True)]
    assert len(attempts) == 2
