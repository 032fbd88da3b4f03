"""Generating requests with a model (``toolgym synth requests``).

Requests are asked for in batches: each batch draws a topic at random (from
the run's seed), asks the generator model for ``batch_size`` requests of one
kind (single-step, or multi-step with a given number of steps) over the
domain's tools, and keeps those that pass a validated parse: known tools,
arguments that fit the tools' schemas, the right number of steps, a request
text not seen before (case, spacing and punctuation ignored). A batch whose
reply does not parse is asked again once with the reason. Batches run
concurrently; their results are merged in batch order, so a deterministic
model gives the same file every time. Every request keeps its metadata
(topic, kind, generator model, batch, seed).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolgym._io import loads_json
from toolgym.errors import ConfigError
from toolgym.messages import Message, Usage
from toolgym.models._base import EpisodeInfo, Model
from toolgym.simtools._requests import AssistantRequest, Step, normalise_request

__all__ = ["GENERATOR_ROLE", "GenerationResult", "generate_requests", "parse_steps_option"]

GENERATOR_ROLE = "generator"
#: Tools a generated plan never lists as a step (the converter adds final_answer).
_IMPLICIT = frozenset({"final_answer"})

_SYSTEM = """You write realistic test requests for an AI assistant that acts through tools.
Each request is what a real person would type to their assistant: concrete, specific,
self-contained, in natural language, and different from the others. With each request you
give the plan a good assistant would follow: the tool calls, in order, with their arguments.
Answer with JSON only."""

_FORMAT = """Answer with JSON only, in this shape:
{"requests": [{"request": "<what the user writes>",
               "intended_steps": [{"tool": "<tool name>", "arguments": {...}}, ...]}, ...]}
Each request must need exactly {steps} tool call(s) (do not list final_answer: the
assistant always ends with it). Arguments must fit the tool's parameters."""


@dataclass
class GenerationResult:
    """What :func:`generate_requests` produced."""

    requests: list[AssistantRequest]
    wanted: dict[str, int]
    """Requests asked for, by kind."""
    batches: int = 0
    rejected: int = 0
    """Generated requests refused by the validated parse (unknown tool, bad arguments...)."""
    duplicates: int = 0
    failed_batches: int = 0
    """Batches whose reply never parsed."""
    usage: Usage = field(default_factory=Usage)
    reasons: list[str] = field(default_factory=list)
    """The first few rejection reasons, for people."""

    @property
    def complete(self) -> bool:
        """Whether every requested count was reached."""
        have = {k: sum(r.kind == k for r in self.requests) for k in self.wanted}
        return all(have[k] >= n for k, n in self.wanted.items())

    def meta(self) -> dict[str, Any]:
        """The summary written beside the requests."""
        return {
            "wanted": self.wanted,
            "generated": {k: sum(r.kind == k for r in self.requests) for k in self.wanted},
            "batches": self.batches, "failed_batches": self.failed_batches,
            "rejected": self.rejected, "duplicates": self.duplicates,
            "usage": self.usage.model_dump(mode="json"),
        }


def parse_steps_option(text: str) -> tuple[int, int]:
    """``460x6`` -> (460 requests, 6 steps each); ``460`` -> (460, 6)."""
    count, sep, steps = text.lower().replace(" ", "").partition("x")
    try:
        n, s = int(count), int(steps) if sep else 6
    except ValueError:
        raise ConfigError(f"--multi-step {text!r}: expected COUNTxSTEPS, e.g. 460x6") from None
    if n < 0 or s < 2:
        raise ConfigError(f"--multi-step {text!r}: the count must be >= 0 and the steps >= 2")
    return n, s


def _tool_lines(tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        fn = t.get("function", t)
        if fn.get("name") in _IMPLICIT:
            continue
        out.append({"name": fn["name"], "description": fn.get("description", ""),
                    "parameters": fn.get("parameters") or {}})
    return out


def _prompt(topic: str, kind: str, count: int, steps: int, batch: int,
            tools: list[dict[str, Any]], avoid: Sequence[str]) -> list[Message]:
    spec = {"topic": topic, "kind": kind, "count": count, "steps": steps, "batch": batch,
            "tools": tools}
    lines = [f"Write {count} {'single' if steps == 1 else f'{steps}-step'} request(s) about "
             f"the topic: {topic}.",
             "# Tools\n" + "\n".join(f"- {t['name']}: {t['description']} Parameters: "
                                     f"{json.dumps(t['parameters'])}" for t in tools)]
    if avoid:
        lines.append("# Already written (write different ones)\n"
                     + "\n".join(f"- {a}" for a in avoid[-10:]))
    lines.append(_FORMAT.replace("{steps}", str(steps)))
    lines.append(f"# Batch\n```json\n{json.dumps(spec, ensure_ascii=False)}\n```")
    return [Message.system(_SYSTEM), Message.user("\n\n".join(lines))]


def _parse(text: str) -> list[Any]:
    """The request items of a reply (a fenced block, or the outermost braces)."""
    text = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the reply")
    data = loads_json(text[start: end + 1])  # JSONDecodeError is a ValueError
    items = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("expected {\"requests\": [...]}")
    return items


async def _ask(model: Model, prompt: list[Message], attempts: int
               ) -> tuple[list[Any] | None, Usage]:
    """The parsed items of a batch (None when no reply parsed) and what the asks cost.

    Model errors propagate: a failing generator endpoint stops the generation.
    """
    usage = Usage()
    for _ in range(max(1, attempts)):
        response = await model.generate(prompt)
        usage = usage + response.usage
        text = response.message.content or ""
        try:
            return _parse(text), usage
        except ValueError as exc:
            prompt = [*prompt, Message(role="assistant", content=text),
                      Message.user(f"Your answer could not be used: {exc}. Answer again, "
                                   "exactly in the requested format.")]
    return None, usage


def _check(item: Any, steps: int, tools: dict[str, dict[str, Any]]) -> tuple[Any, str | None]:
    """(request text and steps, or None with the reason it is refused)."""
    from toolgym.evaluation._schema import schema_problem

    if not isinstance(item, dict) or not isinstance(item.get("request"), str) \
            or not item["request"].strip():
        return None, "a request without text"
    raw_steps = item.get("intended_steps")
    if not isinstance(raw_steps, list):
        return None, "no intended_steps list"
    parsed: list[Step] = []
    for s in raw_steps:
        if not isinstance(s, dict) or not isinstance(s.get("tool"), str):
            return None, "a step without a tool name"
        if s["tool"] in _IMPLICIT:
            continue
        tool = tools.get(s["tool"])
        if tool is None:
            return None, f"unknown tool {s['tool']!r}"
        args = s.get("arguments") if s.get("arguments") is not None else {}
        problem = schema_problem(args, {"additionalProperties": False, **tool["parameters"]})
        if problem is not None:
            return None, f"{s['tool']} arguments do not fit: {problem}"
        parsed.append(Step(tool=s["tool"], arguments=args))
    if len(parsed) != steps:
        return None, f"{len(parsed)} step(s) instead of {steps}"
    return (item["request"].strip(), parsed), None


async def generate_requests(
    model: Model,
    tools: Sequence[dict[str, Any]],
    topics: Sequence[str],
    *,
    single: int = 0,
    multi: int = 0,
    multi_steps: int = 6,
    batch_size: int = 10,
    seed: int = 0,
    concurrency: int = 4,
    attempts: int = 2,
    max_batches: int | None = None,
    domain: Any = None,
    on_batch: Callable[[GenerationResult], None] | None = None,
) -> GenerationResult:
    """Generate requests through a model (see the module docstring).

    Args:
        model: The generator model (already wrapped with retries).
        tools: The domain's tools (OpenAI definitions).
        topics: Topics to draw from, one per batch.
        single: Single-step requests wanted.
        multi: Multi-step requests wanted.
        multi_steps: Steps of each multi-step request.
        batch_size: Requests asked for per batch.
        seed: Seeds the topic draws (and names the requests' provenance).
        concurrency: Batches in flight at once.
        attempts: Asks per batch until its reply parses.
        max_batches: Stop after this many batches (default: three times what
            the counts need), even when short of requests.
        domain: The domain (given to the model's ``for_episode``).
        on_batch: Called after each wave of batches with the result so far.

    Returns:
        The requests (singles first, then multi-step ones) and the counts.
    """
    if not topics:
        raise ConfigError("no topics to draw from")
    if batch_size < 1 or concurrency < 1:
        raise ConfigError("batch size and concurrency must be at least 1")
    catalogue = {t["name"]: t for t in _tool_lines(tools)}
    if not catalogue:
        raise ConfigError("the domain has no tools to plan with")
    wanted = {"single": single, "multi": multi}
    result = GenerationResult(requests=[], wanted={k: v for k, v in wanted.items() if v})
    bound = model.for_episode(EpisodeInfo(None, domain, 0, seed, GENERATOR_ROLE))
    rng = random.Random(seed)
    limit = max_batches if max_batches is not None else 3 * sum(
        math.ceil(n / batch_size) for n in wanted.values())
    seen: set[str] = set()
    by_kind: dict[str, list[AssistantRequest]] = {"single": [], "multi": []}
    gate = asyncio.Semaphore(concurrency)

    async def one(kind: str, steps: int, count: int, batch: int, topic: str
                  ) -> tuple[list[Any] | None, Usage]:
        prompt = _prompt(topic, kind, count, steps, batch, list(catalogue.values()),
                         [r.request for r in by_kind[kind]])
        async with gate:
            return await _ask(bound, prompt, attempts)

    while result.batches < limit:
        wave: list[tuple[str, int, int, int, str]] = []
        for kind, steps in (("single", 1), ("multi", multi_steps)):
            missing = wanted[kind] - len(by_kind[kind])
            while missing > 0 and result.batches + len(wave) < limit \
                    and len(wave) < concurrency * 2:
                count = min(batch_size, missing)
                wave.append((kind, steps, count, result.batches + len(wave), rng.choice(
                    list(topics))))
                missing -= count
        if not wave:
            break
        outcomes = await asyncio.gather(*(one(*w) for w in wave))
        result.batches += len(wave)
        for (kind, steps, _count, batch, topic), (items, usage) in zip(
                wave, outcomes, strict=True):
            result.usage = result.usage + usage
            if items is None:
                result.failed_batches += 1
                continue
            for item in items:
                if len(by_kind[kind]) >= wanted[kind]:
                    break
                checked, reason = _check(item, steps, catalogue)
                if checked is None:
                    result.rejected += 1
                    if reason and len(result.reasons) < 10:
                        result.reasons.append(reason)
                    continue
                text, plan = checked
                norm = normalise_request(text)
                if norm in seen:
                    result.duplicates += 1
                    continue
                seen.add(norm)
                n = len(by_kind[kind]) + 1
                by_kind[kind].append(AssistantRequest(
                    id=f"{kind}-{n:04d}", request=text, topic=topic, kind=kind,
                    intended_steps=plan,
                    provenance={"generator": model.name, "batch": batch, "seed": seed}))
        result.requests = by_kind["single"] + by_kind["multi"]
        if on_batch is not None:
            on_batch(result)
    result.requests = by_kind["single"] + by_kind["multi"]
    return result
