"""Requests as tasks, and generating them with a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.errors import ConfigError, DataError
from toolgym.messages import Message
from toolgym.models import ModelConfig, build_model
from toolgym.models._scripted import ScriptedModel
from toolgym.simtools import (
    AssistantRequest,
    generate_requests,
    parse_requests,
    parse_steps_option,
    request_to_task,
    task_to_request,
)
from toolgym.tasks import RewardType


def test_a_request_becomes_a_task_that_needs_a_judge() -> None:
    req = AssistantRequest(request="Email Sam the score.", topic="sports", kind="multi",
                           intended_steps=[{"tool": "search_internet",  # type: ignore[list-item]
                                            "arguments": {"query": "score"}},
                                           {"tool": "send_email",
                                            "arguments": {"to": ["s@x.org"], "subject": "s",
                                                          "body": "b"}}],
                           details="Sam is s@x.org")
    task = request_to_task(req, index=4, write_tools=["send_email"])
    assert task.id == "req-4" and task.tags == ["multi", "topic:sports"]
    assert [a.name for a in task.gold_actions] == ["search_internet", "send_email",
                                                   "final_answer"]
    assert all(a.compare_args == [] for a in task.gold_actions)
    assert task.reward_basis == [RewardType.NL_ASSERTION]
    criteria = task.evaluation_criteria.nl_assertions  # type: ignore[union-attr]
    assert criteria is not None and "Email Sam the score." in criteria[0]
    assert any("send_email" in c for c in criteria)
    instructions = task.user_scenario.instructions
    assert instructions.reason_for_call == "Email Sam the score."  # type: ignore[union-attr]
    assert instructions.known_info == "Sam is s@x.org"  # type: ignore[union-attr]
    back = task_to_request(task)
    assert back is not None and (back.request, back.topic, back.kind) == (
        req.request, "sports", "multi")
    assert [s.tool for s in back.intended_steps] == ["search_internet", "send_email"]


def test_request_files_mix_requests_and_tasks_and_fail_in_one_line() -> None:
    raw = {"requests": [
        {"request": "What is 2+2?", "kind": "single",
         "intended_steps": [{"tool": "calculate", "arguments": {"expression": "2+2"}}]},
        {"id": "t", "user_scenario": {"instructions": "Say hi."}},
    ]}
    tasks = parse_requests(raw, "f.json")
    assert [t.id for t in tasks] == ["req-0", "t"]
    for bad, message in [
        ([{"kind": "single"}], "f.json: request #0: field request: Field required"),
        ([{"request": "x", "kind": "triple"}], "field kind"),
        ([{"request": "x", "intended_steps": [{"name": "a"}]}], "field intended_steps.0.tool"),
        ([{"id": "a", "request": "x"}, {"id": "a", "request": "y"}], "duplicate id 'a'"),
        ({"nothing": 1}, "expected a JSON array of requests"),
        (["x"], "request #0: expected an object"),
    ]:
        with pytest.raises(DataError) as info:
            parse_requests(bad, "f.json")
        assert message in str(info.value) and "\n" not in str(info.value)


def test_steps_option() -> None:
    assert parse_steps_option("460x6") == (460, 6)
    assert parse_steps_option("12") == (12, 6)
    for bad in ("x6", "5x1", "axb"):
        with pytest.raises(ConfigError, match="--multi-step"):
            parse_steps_option(bad)


TOOLS = toolgym.load_domain("assistant").openai_tools()


async def test_the_oracle_generator_fills_every_count_with_metadata() -> None:
    model = build_model("oracle")
    result = await generate_requests(model, TOOLS, ["chess", "tea", "rivers"], single=12,
                                     multi=23, multi_steps=4, batch_size=5, seed=2,
                                     concurrency=3)
    assert result.complete and (result.rejected, result.duplicates) == (0, 0)
    singles = [r for r in result.requests if r.kind == "single"]
    multis = [r for r in result.requests if r.kind == "multi"]
    assert (len(singles), len(multis)) == (12, 23)
    assert all(len(r.intended_steps) == 1 for r in singles)
    assert all(len(r.intended_steps) == 4 for r in multis)
    assert len({r.request for r in result.requests}) == 35
    assert {r.topic for r in result.requests} <= {"chess", "tea", "rivers"}
    assert len({r.topic for r in result.requests}) > 1  # drawn at random per batch
    assert all(r.provenance and r.provenance["generator"] == "oracle"
               and r.provenance["seed"] == 2 for r in result.requests)
    again = await generate_requests(build_model("oracle"), TOOLS, ["chess", "tea", "rivers"],
                                    single=12, multi=23, multi_steps=4, batch_size=5, seed=2,
                                    concurrency=1)
    assert [r.model_dump() for r in again.requests] == [r.model_dump() for r in result.requests]
    # The requests are runnable tasks of the domain (their steps fit the tool schemas).
    domain = toolgym.load_domain("assistant")
    from toolgym.evaluation import check_tasks

    tasks = parse_requests([r.model_dump(mode="json") for r in result.requests], "gen")
    assert check_tasks(domain, tasks).malformed == []


def _reply(*items: dict[str, Any]) -> str:
    return "Sure!\n```json\n" + json.dumps({"requests": list(items)}) + "\n```"


def _item(text: str, *steps: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"request": text,
            "intended_steps": [{"tool": t, "arguments": a} for t, a in steps]}


async def test_invalid_and_duplicate_requests_are_refused() -> None:
    calc = ("calculate", {"expression": "1+1"})
    seen_prompts: list[str] = []

    def record(messages: list[Message], tools: Any) -> Any:
        seen_prompts.append(messages[-1].content or "")
        return "not json at all"

    script: list[Any] = [
        _reply(_item("Add one and one.", calc),
               _item("add one and ONE!", calc),                       # duplicate
               _item("Use a tool that does not exist.", ("teleport", {})),
               _item("Wrong arguments.", ("calculate", {"expr": "1"})),
               _item("Two steps for a single.", calc, calc),
               _item("Final answer does not count.", calc,
                     ("final_answer", {"answer": "x"}))),
        record, "still not json",                                     # a batch that fails
        _reply(_item("Multiply three by four.", ("calculate", {"expression": "3*4"}))),
    ]
    model = ScriptedModel.from_items(script)
    result = await generate_requests(model, TOOLS, ["maths"], single=3, batch_size=3,
                                     concurrency=1)
    assert [r.request for r in result.requests] == [
        "Add one and one.", "Final answer does not count.", "Multiply three by four."]
    assert (result.duplicates, result.rejected, result.failed_batches) == (1, 3, 1)
    assert result.complete and result.usage.calls == 4
    assert any("unknown tool 'teleport'" in r for r in result.reasons)
    assert any("2 step(s) instead of 1" in r for r in result.reasons)
    # The second batch was told what exists already and why its first reply failed.
    assert "Add one and one." in seen_prompts[0]


async def test_generation_stops_after_the_batch_limit() -> None:
    model = ScriptedModel.from_items(["{}"] * 20)
    result = await generate_requests(model, TOOLS, ["x"], single=2, batch_size=2,
                                     max_batches=3, attempts=1)
    assert not result.complete and result.batches == 3 and result.failed_batches == 3
    with pytest.raises(ConfigError, match="no topics"):
        await generate_requests(model, TOOLS, [], single=1)


def test_http_generator_counts_its_usage(tmp_path: Path) -> None:
    from toolgym.testing import FakeOpenAIServer

    def respond(request: dict[str, Any]) -> Any:
        body = request["messages"][-1]["content"]
        topic = json.loads(body.rsplit("```json\n", 1)[1].split("\n```")[0])["topic"]
        return {"content": _reply(_item(f"Explain {topic}.", ("search_wikipedia",
                                                               {"query": topic}))),
                "usage": {"prompt_tokens": 100, "completion_tokens": 20}}

    import asyncio

    with FakeOpenAIServer(respond) as server:
        model = build_model(ModelConfig(model="openai/fake-model", base_url=server.base_url,
                                        api_key_env="NO_SUCH_KEY_VAR"))
        result = asyncio.run(generate_requests(model, TOOLS, ["tides", "owls"], single=2,
                                               batch_size=1, seed=4))
    assert result.complete and result.usage.prompt_tokens >= 200
    assert {r.request for r in result.requests} <= {"Explain tides.", "Explain owls."}
