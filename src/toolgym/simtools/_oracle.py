"""Offline doubles for the simulated-tool roles: the ``oracle`` tool-sim and generator.

``--tool-sim-model oracle`` answers every simulated call with a deterministic,
plausible result built from the tool's spec and the call's arguments: the
``result_schema`` filled in (arguments copied into the fields of the same
name, ids and URLs derived from a hash of the call, texts naming the
subject), or a line of text when the spec has no schema. A partial answer
keeps one item of each list and cuts long texts. The same call always gets
the same answer, so runs with it are reproducible to the byte.

``--tool-sim-arg latency_ms=N`` makes each answer take N ms (a stand-in for
a real model's latency). ``--generator-model oracle`` writes requests for ``toolgym synth requests``
from the batch description in its prompt (topic, kind, number of steps,
tools), each with intended steps whose arguments fit the tools' schemas.

Both read only their prompt (the JSON block the prompt always ends with) and
the episode's domain, so they also stand behind any wrapper (retries, the
response cache).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from datetime import datetime, timedelta
from typing import Any

from toolgym.domains._db import canonical_json
from toolgym.messages import Message
from toolgym.models._base import (
    Model,
    ModelConfig,
    ModelResponse,
    TerminalModelError,
    local_response,
)
from toolgym.simtools._prompt import parse_call_block
from toolgym.simtools._spec import SimTool

__all__ = ["OracleRequestGenerator", "OracleToolSim", "oracle_arguments", "oracle_result"]

_TEXT_KEYS = ("snippet", "summary", "text", "body", "content", "answer", "description",
              "extract", "message", "details")


def _subject(arguments: dict[str, Any]) -> str:
    """What the call is about: its first non-empty text argument."""
    for value in arguments.values():
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:80]
    return "the request"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "item"


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, list):
        return [x for x in t if x != "null"] or ["null"]
    if isinstance(t, str):
        return [t]
    if "properties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return ["string"]


class _Filler:
    """Fills a JSON schema with plausible values for one call."""

    def __init__(self, tool: str, arguments: dict[str, Any], partial: bool) -> None:
        self.tool, self.arguments, self.partial = tool, arguments, partial
        self.subject = _subject(arguments)
        digest = hashlib.sha256(f"{tool}:{canonical_json(arguments)}".encode()).hexdigest()
        self.hex = digest[:8]
        self.rng = random.Random(digest)

    def value(self, schema: dict[str, Any], key: str = "", index: int | None = None) -> Any:
        if schema.get("enum"):
            given = self.arguments.get(key)
            return given if given in schema["enum"] else schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        kind = _types(schema)[0]
        given = self.arguments.get(key)
        if given is not None and _fits(given, kind):
            return given
        if kind == "object":
            props = schema.get("properties") or {}
            required = set(schema.get("required") or [])
            names = list(props)
            if self.partial and len(names) > 1:
                keep = max(1, len(names) // 2)
                names = [n for i, n in enumerate(names) if i < keep or n in required]
            return {n: self.value(props[n], n, index) for n in names}
        if kind == "array":
            items: dict[str, Any] = schema["items"] if isinstance(schema.get("items"),
                                                                   dict) else {}
            count = 1 if self.partial else 3
            singular = key[:-1] if key.endswith("s") else key
            return [self.value(items, singular, i) for i in range(count)]
        if kind == "integer":
            return self.rng.randint(1, 100)
        if kind == "number":
            return round(self.rng.uniform(1, 100), 2)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.text(key, index)

    def text(self, key: str, index: int | None) -> str:
        k = key.lower()
        n = "" if index is None else f"-{index + 1}"
        if "url" in k or k == "link":
            return f"https://example.org/{_slug(self.subject)}{n}"
        if k == "id" or k.endswith("_id"):
            return f"{(k.split('_')[0] or 'id')[:3]}_{self.hex}{n.replace('-', '')}"
        if k in ("start", "end") or "date" in k or "time" in k:
            return self._time(k)
        if k == "status":
            return "ok"
        if k in ("title", "name", "headline"):
            return self.subject.capitalize() + ("" if index is None else f" ({index + 1})")
        if any(t in k for t in _TEXT_KEYS):
            text = (f"{self.subject.capitalize()}: the most relevant facts found by "
                    f"{self.tool}{'' if index is None else f' (source {index + 1})'}.")
            return text[: max(12, len(text) // 2)] + "..." if self.partial else text
        return f"{key or 'result'} for {self.subject}"

    def _time(self, key: str) -> str:
        start = self.arguments.get("start")
        try:
            begin = datetime.fromisoformat(str(start)) if start else None
        except ValueError:
            begin = None
        if begin is None:
            begin = datetime(2025, 1, 15, 10, 0)
        if key == "end":
            minutes = self.arguments.get("duration_minutes")
            minutes = minutes if isinstance(minutes, int) and not isinstance(minutes, bool) \
                else 60
            begin += timedelta(minutes=minutes)
        return begin.isoformat(timespec="minutes")


def _fits(value: Any, kind: str) -> bool:
    return {
        "string": isinstance(value, str), "array": isinstance(value, list),
        "object": isinstance(value, dict), "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }.get(kind, False)


def oracle_result(tool: SimTool | None, name: str, arguments: dict[str, Any],
                  answer: str = "full") -> str:
    """The oracle's deterministic answer to one simulated call (see the module docstring)."""
    filler = _Filler(name, arguments, answer == "partial")
    if tool is not None and tool.result_schema:
        return json.dumps(filler.value(tool.result_schema), ensure_ascii=False)
    text = f"{name}: best available answer for {filler.subject} (ref {filler.hex})."
    return text[: len(text) // 2] + "..." if answer == "partial" else text


class OracleToolSim(Model):
    """The ``oracle`` provider in the ``tool-sim`` role (see the module docstring)."""

    def __init__(self, config: ModelConfig, domain: Any = None) -> None:
        super().__init__(config)
        toolkit = getattr(domain, "toolkit_type", None)
        lookup = getattr(toolkit, "sim_tools", None)
        self.tools: dict[str, SimTool] = lookup() if callable(lookup) else {}
        self.latency_s = float(config.args.get("latency_ms", 0)) / 1000.0

    async def generate(self, messages: list[Message], tools: list[dict[str, Any]] | None = None,
                       **params: Any) -> ModelResponse:
        """Answer the call block of the prompt."""
        text = next((m.content for m in reversed(messages) if m.role == "user" and m.content),
                    "")
        block = parse_call_block(text)
        if block is None:
            raise TerminalModelError("oracle tool-sim: the prompt holds no call block")
        name = block["tool"]
        arguments: dict[str, Any] = (block["arguments"] if isinstance(block.get("arguments"),
                                                                      dict) else {})
        content = oracle_result(self.tools.get(name), name, arguments,
                                str(block.get("answer", "full")))
        if self.latency_s > 0:  # --tool-sim-arg latency_ms=200: a model's latency
            await asyncio.sleep(self.latency_s)
        return local_response(Message(role="assistant", content=content), self.latency_s)


# -- the request generator's double ---------------------------------------------------

_ASPECTS = ("the main facts", "recent developments", "the history", "key numbers",
            "practical tips", "common misconceptions", "the best sources", "a short overview",
            "costs and prices", "who the main people are", "what experts recommend",
            "how it compares to alternatives")
_VERBS = ("Find out", "Look up", "Research", "Tell me", "Summarize", "Check")


def oracle_arguments(tool: dict[str, Any], topic: str, aspect: str, k: int) -> dict[str, Any]:
    """Plausible arguments for a tool (an OpenAI tool definition) in a generated request."""
    fn = tool.get("function", tool)
    params = fn.get("parameters") or {}
    props = params.get("properties") or {}
    out: dict[str, Any] = {}
    for name in params.get("required") or list(props)[:1]:
        schema = props.get(name) or {}
        kind = _types(schema)[0]
        n = name.lower()
        if kind == "array":
            out[name] = ["alex@example.com"] if "to" in n or "attendee" in n or "mail" in n \
                else [f"{topic} {aspect}"]
        elif kind in ("integer", "number"):
            out[name] = 30 + k
        elif kind == "boolean":
            out[name] = True
        elif "expression" in n:
            out[name] = f"{12 + k} * {7 + k} + 3"
        elif n in ("start", "date", "when") or "time" in n:
            out[name] = f"2025-03-{10 + k % 18:02d}T15:00:00"
        elif "question" in n:
            out[name] = f"What matters most to you about {topic}?"
        elif "subject" in n or "title" in n:
            out[name] = f"{topic.capitalize()}: {aspect}"
        elif "body" in n:
            out[name] = f"Hello, here is {aspect} about {topic}."
        elif n == "to" or "email" in n or "recipient" in n:
            out[name] = "alex@example.com"
        elif schema.get("enum"):
            out[name] = schema["enum"][0]
        else:
            out[name] = f"{topic} {aspect}"
    return out


class OracleRequestGenerator(Model):
    """The ``oracle`` provider in the ``generator`` role: requests from the batch block."""

    async def generate(self, messages: list[Message], tools: list[dict[str, Any]] | None = None,
                       **params: Any) -> ModelResponse:
        """A JSON object ``{"requests": [...]}`` for the batch described in the prompt."""
        text = next((m.content for m in reversed(messages) if m.role == "user" and m.content),
                    "")
        batch = _batch_block(text)
        if batch is None:
            raise TerminalModelError("oracle generator: the prompt holds no batch block")
        topic = str(batch.get("topic") or "general knowledge")
        steps = max(1, int(batch.get("steps") or 1))
        count = max(1, int(batch.get("count") or 1))
        number = int(batch.get("batch") or 0)
        tools = [t for t in batch.get("tools") or [] if isinstance(t, dict)
                 and t.get("name") not in ("final_answer",)]
        if not tools:
            raise TerminalModelError("oracle generator: the batch lists no tools")
        requests = []
        for i in range(count):
            k = number * count + i
            aspect = _ASPECTS[k % len(_ASPECTS)]
            verb = _VERBS[(k // len(_ASPECTS)) % len(_VERBS)]
            # A plan starts by finding something out, not by asking the user.
            first = [t for t in tools if t.get("name") != "ask_user"] or tools
            chosen = [first[k % len(first)]] + [tools[(k + j) % len(tools)]
                                                for j in range(1, steps)]
            intended = [{"tool": t["name"], "arguments": oracle_arguments(t, topic, aspect, k)}
                        for t in chosen]
            extra = "" if steps == 1 else (
                " and then " + ", ".join(t["name"].replace("_", " ") for t in chosen[1:]))
            requests.append({"request": f"{verb} {aspect} of {topic}{extra} (batch {number + 1}, "
                                        f"request {i + 1}).",
                             "intended_steps": intended})
        return local_response(Message(role="assistant",
                                      content=json.dumps({"requests": requests})))


def _batch_block(text: str) -> dict[str, Any] | None:
    for match in reversed(re.findall(r"```json\s*(\{.*?\})\s*```", text or "", re.DOTALL)):
        try:
            value = json.loads(match)
        except ValueError:
            continue
        if isinstance(value, dict) and "topic" in value and "tools" in value:
            return value
    return None
