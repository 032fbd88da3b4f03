"""The assistant domain's tools: simulated search, calendar and e-mail; real arithmetic.

``search_internet`` and ``search_wikipedia`` are simulated and, by default,
return no answer with probability 0.1 and a partial answer with probability
0.1 (``--tool-failures`` changes that). ``create_event`` and ``send_email``
are simulated and stateful: what they did stays in the simulator's context
and in their cache key. ``calculate`` is real code (the airline/retail
evaluator), ``ask_user`` is answered by the user simulator and
``final_answer`` ends the episode.
"""

from __future__ import annotations

from typing import ClassVar

from toolgym.domains._calculate import calculate as _calculate
from toolgym.domains._toolkit import ToolKind, tool
from toolgym.simtools import AskUserTool, FinalAnswerTool, SimDB, SimTool, SimToolkit

__all__ = ["ASSISTANT_RUBRIC", "ASSISTANT_TOOLS", "AssistantDB", "AssistantTools"]

#: The failures injected into the search tools unless a run says otherwise.
SEARCH_FAILURES = {"no_answer": 0.1, "partial": 0.1}

_SEARCH_RESULT = {
    "type": "object",
    "properties": {
        "results": {"type": "array", "items": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "url": {"type": "string"},
                           "snippet": {"type": "string"}},
            "required": ["title", "url", "snippet"]}},
    },
    "required": ["results"],
}

ASSISTANT_TOOLS: tuple[SimTool, ...] = (
    SimTool(
        name="search_internet",
        description="Search the web. Returns the most relevant pages with a short snippet "
                    "each; the snippets usually hold the facts asked for.",
        parameters={"type": "object", "properties": {
            "query": {"type": "string", "description": "What to search for."},
            "max_results": {"type": "integer", "description": "How many results (1-10, "
                            "default 3)."}},
            "required": ["query"]},
        returns='JSON {"results": [{"title", "url", "snippet"}]}, most relevant first; '
                "each snippet states concrete facts (names, dates, numbers) as a search "
                "engine would show them.",
        result_schema=_SEARCH_RESULT,
        errors=["rate limited, try again later", "query too long"],
        failures=SEARCH_FAILURES,
        no_answer='{"results": []}',
    ),
    SimTool(
        name="search_wikipedia",
        description="Look a subject up in Wikipedia. Returns the best-matching article's "
                    "title, a summary of its lead section and its URL.",
        parameters={"type": "object", "properties": {
            "query": {"type": "string", "description": "The subject to look up."}},
            "required": ["query"]},
        returns='JSON {"title", "summary", "url"}: the summary is the article\'s lead '
                "section in a few sentences, with its key facts.",
        result_schema={"type": "object", "properties": {
            "title": {"type": "string"}, "summary": {"type": "string"},
            "url": {"type": "string"}}, "required": ["title", "summary", "url"]},
        errors=["no article matches the query"],
        failures=SEARCH_FAILURES,
        no_answer='{"title": null, "summary": null, "url": null}',
    ),
    SimTool(
        name="create_event",
        description="Create an event in the user's calendar.",
        kind=ToolKind.WRITE,
        stateful=True,
        parameters={"type": "object", "properties": {
            "title": {"type": "string", "description": "The event's title."},
            "start": {"type": "string", "description": "Start, ISO 8601 local time "
                      "(2025-03-14T15:00)."},
            "duration_minutes": {"type": "integer", "description": "Length in minutes "
                                 "(default 60)."},
            "attendees": {"type": "array", "items": {"type": "string"},
                          "description": "E-mail addresses to invite."},
            "location": {"type": "string", "description": "Where it takes place."}},
            "required": ["title", "start"]},
        returns='JSON {"event_id", "status": "created", "title", "start", "end"}; the '
                "calendar keeps every event created in this session.",
        result_schema={"type": "object", "properties": {
            "event_id": {"type": "string"}, "status": {"type": "string"},
            "title": {"type": "string"}, "start": {"type": "string"},
            "end": {"type": "string"}},
            "required": ["event_id", "status", "title", "start", "end"]},
        errors=["the time slot overlaps an existing event", "invalid start time"],
    ),
    SimTool(
        name="send_email",
        description="Send an e-mail from the user's account.",
        kind=ToolKind.WRITE,
        stateful=True,
        parameters={"type": "object", "properties": {
            "to": {"type": "array", "items": {"type": "string"},
                   "description": "Recipients' e-mail addresses."},
            "subject": {"type": "string", "description": "Subject line."},
            "body": {"type": "string", "description": "The message."}},
            "required": ["to", "subject", "body"]},
        returns='JSON {"message_id", "status": "sent", "to"}; the mailbox keeps every '
                "message sent in this session.",
        result_schema={"type": "object", "properties": {
            "message_id": {"type": "string"}, "status": {"type": "string"},
            "to": {"type": "array", "items": {"type": "string"}}},
            "required": ["message_id", "status", "to"]},
        errors=["invalid recipient address"],
    ),
)

#: The ``rater`` judge's rubric on this domain (the final answer and the steps).
ASSISTANT_RUBRIC: list[dict[str, str]] = [
    {"name": "answer", "description": "The final answer (final_answer) responds to what the "
     "user asked, completely and directly."},
    {"name": "grounded", "description": "Every fact in the final answer comes from the tool "
     "results in the transcript or is common knowledge; nothing is invented."},
    {"name": "steps", "description": "The assistant chose sensible tools with sensible "
     "arguments, in a sensible order, without needless or repeated calls."},
    {"name": "failures", "description": "When a tool returned nothing, a partial answer or "
     "an error, the assistant noticed: it retried, used another tool, or said what it could "
     "not find, instead of pretending."},
    {"name": "actions", "description": "Events and e-mails were created or sent only when "
     "the request asks for them, with the details the request gives (or the user's "
     "answers)."},
]


class AssistantDB(SimDB):
    """The assistant's world is simulated: its database is empty."""


class AssistantTools(SimToolkit[AssistantDB], AskUserTool, FinalAnswerTool):
    """The assistant domain's toolkit (see the module docstring)."""

    simulated = ASSISTANT_TOOLS
    rubric: ClassVar[list[dict[str, str]] | None] = ASSISTANT_RUBRIC

    @tool(ToolKind.READ)
    def calculate(self, expression: str) -> str:
        """Calculate the result of an arithmetic expression.

        Args:
            expression: Numbers with + - * / and parentheses, e.g. "(2 + 3) * 4.5".
        """
        return _calculate(expression)
