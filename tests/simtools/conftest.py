"""A small simulated-tool domain and a tool-sim model that records its calls.

``simtest`` has one simulated read tool (``lookup``), one simulated stateful
write tool (``book``), one code tool (``add``), ``ask_user`` and
``final_answer``. The ``recorder`` provider answers simulated calls from the
prompt's call block and records every prompt in :data:`CALLS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from toolgym.domains import ToolKind, Toolkit, tool
from toolgym.messages import Message
from toolgym.models import Model, ModelConfig, ModelResponse, register_provider
from toolgym.models._base import local_response
from toolgym.simtools import SimTool, register_sim_domain
from toolgym.simtools._prompt import parse_call_block

#: Every prompt the recorder model received: (tool, answer, user message text).
CALLS: list[tuple[str, str, str]] = []

LOOKUP = SimTool(
    name="lookup", description="Facts about a city.",
    parameters={"type": "object", "properties": {
        "city": {"type": "string", "description": "The city."},
        "detail": {"type": "string", "description": "What to know."}},
        "required": ["city"]},
    returns="one sentence of facts", errors=["unknown city"], no_answer="Nothing found.")
BOOK = SimTool(
    name="book", description="Book something.", kind=ToolKind.WRITE, stateful=True,
    parameters={"type": "object", "properties": {"item": {"type": "string"}},
                "required": ["item"]},
    returns='JSON {"booking_id", "status"}',
    result_schema={"type": "object", "properties": {"booking_id": {"type": "string"},
                                                    "status": {"type": "string"}}})


class CodeTools(Toolkit[Any]):
    """The test domain's code tool."""

    @tool(ToolKind.READ)
    def add(self, a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: The first.
            b: The second.
        """
        return a + b


def _step(tool_name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool": tool_name, "arguments": arguments}


REQUESTS = [
    {"id": "paris", "request": "Tell me about Paris and add 2 and 3.", "topic": "travel",
     "kind": "multi",
     "intended_steps": [_step("lookup", city="Paris"), _step("add", a=2, b=3),
                        _step("lookup", city="Paris", detail="museums"),
                        _step("book", item="Louvre tickets")]},
    {"id": "rome", "request": "Tell me about Rome.", "topic": "travel", "kind": "single",
     "intended_steps": [_step("lookup", city="Rome")]},
    {"id": "many", "request": "Look up six cities.", "topic": "travel", "kind": "multi",
     "intended_steps": [_step("lookup", city=c) for c in
                        ("Oslo", "Lima", "Kyiv", "Doha", "Pune", "Baku")]},
]

register_sim_domain("simtest", tools=[LOOKUP, BOOK], policy="Answer with final_answer.",
                    tasks=REQUESTS, toolkit=CodeTools, description="test domain")


class RecorderModel(Model):
    """Answers a simulated call with a line naming the tool, arguments and answer kind."""

    async def generate(self, messages: list[Message], tools: list[dict[str, Any]] | None = None,
                       **params: Any) -> ModelResponse:
        text = messages[-1].content or ""
        block = parse_call_block(text)
        assert block is not None, text
        CALLS.append((block["tool"], block["answer"], text))
        args = json.dumps(block["arguments"], sort_keys=True)
        return local_response(Message(role="assistant",
                                      content=f"{block['tool']} {args} {block['answer']}"))


@register_provider("recorder")
def _recorder(config: ModelConfig) -> Model:
    """Test provider: records simulated-tool prompts."""
    return RecorderModel(config)


@pytest.fixture(autouse=True)
def clear_calls() -> Iterator[list[tuple[str, str, str]]]:
    """The recorder's calls, empty at the start of each test."""
    CALLS.clear()
    yield CALLS
    CALLS.clear()
