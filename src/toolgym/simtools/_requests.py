"""Requests: the tasks of simulated-tool domains, and turning them into toolgym tasks.

A request is what a user asks an assistant, with the steps a good planner
would take: ``{request, topic, intended_steps: [{tool, arguments}], kind:
single|multi}`` (plus optional ``id``, ``persona``, ``details`` and
``provenance``). :func:`request_to_task` makes a :class:`~toolgym.tasks.Task`
of it: the user's scenario is the request (``details`` are what the user
can tell when asked), the gold actions are the intended steps followed by
``final_answer`` (compared by tool name only: they are a plan, not ground
truth), and the evaluation is a set of natural-language criteria built from
the request, so a run without a judge reports ``judge_needed`` and a judge
(``--judge-model``, or ``toolgym judge RUN --judge rater``) grades it. The
request's own fields stay on the task (``task.request``, ``task.topic``,
``task.intended_steps``, ``task.kind``).

Task files of such domains may hold requests, tasks, or both
(:func:`parse_requests`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolgym._io import check_depth
from toolgym.errors import DataError
from toolgym.tasks import (
    Action,
    Description,
    EvaluationCriteria,
    RewardType,
    StructuredInstructions,
    Task,
    UserScenario,
    parse_tasks,
)

__all__ = [
    "USER_INSTRUCTIONS",
    "AssistantRequest",
    "Step",
    "parse_requests",
    "request_criteria",
    "request_to_task",
    "task_to_request",
]

#: How the simulated user plays a request.
USER_INSTRUCTIONS = (
    "Give the assistant your request, as written. When it asks you something, answer from "
    "what you know (your details, if any); if you do not know, say so and ask it to use its "
    "best judgement. Do not add new requests.")

#: The gold final_answer's text (the oracle agent states it; only the tool name is compared).
ORACLE_ANSWER = "Here is the answer to your request, from the results above."


class Step(BaseModel):
    """One intended step of a request: a tool call."""

    model_config = ConfigDict(extra="forbid")

    tool: str = Field(description="Tool name.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Its arguments.")
    purpose: str | None = Field(None, description="Why the step is taken (optional).")


class AssistantRequest(BaseModel):
    """A request to an assistant with its intended steps (one item of a request file)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="Task id (assigned from the position when absent).")
    request: str = Field(min_length=1, description="What the user asks, in their words.")
    topic: str | None = Field(None, description="The topic the request was written for.")
    kind: Literal["single", "multi"] = Field("multi", description="single- or multi-step.")
    intended_steps: list[Step] = Field(default_factory=list,
                                       description="The tool calls a good plan makes.")
    persona: str | None = Field(None, description="Who the user is, in prose.")
    details: str | None = Field(None, description="What the user can tell when asked.")
    provenance: dict[str, Any] | None = Field(
        None, description="Where it came from (generator model, batch, seed...).")


def request_criteria(request: AssistantRequest, write_tools: Iterable[str] = ()) -> list[str]:
    """The natural-language criteria a judge grades a request's episode on."""
    out = [
        f"The assistant's final answer responds to the user's request: \"{request.request}\"",
        "Every fact in the final answer is supported by the tool results in the "
        "conversation or is common knowledge; nothing is invented.",
        "When a tool returned no answer, a partial answer or an error, the assistant tried "
        "again, used another tool, or told the user what it could not find.",
    ]
    writes = sorted({s.tool for s in request.intended_steps} & set(write_tools))
    if writes:
        out.append(f"The assistant carried out the actions the request asks for "
                   f"({', '.join(writes)}) with the details the request gives.")
    return out


def request_to_task(request: AssistantRequest, *, index: int = 0,
                    write_tools: Iterable[str] = (), final_tool: str | None = "final_answer"
                    ) -> Task:
    """A task playing ``request`` (see the module docstring).

    Args:
        request: The request.
        index: Its position (the id when it has none: ``req-<index>``).
        write_tools: The domain's write tools (a criterion checks they were used).
        final_tool: The tool ending the episode, appended to the gold actions
            when the intended steps do not end with it (None: none).
    """
    steps = list(request.intended_steps)
    actions = [Action(action_id=str(i), name=s.tool, arguments=s.arguments, compare_args=[],
                      info=s.purpose) for i, s in enumerate(steps)]
    if final_tool and (not steps or steps[-1].tool != final_tool):
        actions.append(Action(action_id=str(len(actions)), name=final_tool,
                              arguments={"answer": ORACLE_ANSWER}, compare_args=[]))
    task_id = request.id or f"req-{index}"
    return Task.model_validate({
        "id": task_id,
        "user_scenario": UserScenario(
            persona=request.persona,
            instructions=StructuredInstructions(reason_for_call=request.request,
                                                known_info=request.details,
                                                task_instructions=USER_INSTRUCTIONS)),
        "description": Description(purpose=f"{request.kind}-step request"
                                   + (f" on {request.topic}" if request.topic else "")),
        "evaluation_criteria": EvaluationCriteria(
            actions=actions, nl_assertions=request_criteria(request, write_tools),
            reward_basis=[RewardType.NL_ASSERTION]),
        "tags": [request.kind, *([f"topic:{request.topic}"] if request.topic else [])],
        "provenance": (str(request.provenance.get("generator"))
                       if request.provenance and request.provenance.get("generator")
                       else None),
        # The request's own fields, kept on the task (extra fields are allowed).
        "request": request.request, "topic": request.topic, "kind": request.kind,
        "intended_steps": [s.model_dump(mode="json", exclude_none=True) for s in steps],
        "request_provenance": request.provenance,
    })


def task_to_request(task: Task) -> AssistantRequest | None:
    """The request a task was made from (None for a task that is not one)."""
    extra = task.model_extra or {}
    if "request" not in extra:
        return None
    return AssistantRequest(id=task.id, request=extra["request"], topic=extra.get("topic"),
                            kind=extra.get("kind", "multi"),
                            intended_steps=extra.get("intended_steps") or [],
                            persona=task.user_scenario.persona,
                            provenance=extra.get("request_provenance"))


def _label(i: int, item: Any) -> str:
    rid = item.get("id") if isinstance(item, dict) else None
    return f"request #{i}" + (f" ({rid!r})" if isinstance(rid, str | int) else "")


def parse_requests(raw: Any, source: str, *, write_tools: Sequence[str] = (),
                   final_tool: str | None = "final_answer") -> list[Task]:
    """Tasks from a request file: a list (or ``{"requests": [...]}``) of requests or tasks.

    Items with a ``user_scenario`` are ordinary toolgym tasks; the others are
    requests (:class:`AssistantRequest`), turned into tasks.

    Raises:
        DataError: one line naming the file, the item and the field.
    """
    if isinstance(raw, dict):
        raw = raw.get("requests", raw.get("tasks"))
    if not isinstance(raw, list):
        raise DataError(f"{source}: expected a JSON array of requests (or {{\"requests\": "
                        "[...]}})")
    tasks: list[Task] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if isinstance(item, dict) and "user_scenario" in item:
            task = parse_tasks([item], f"{source}: item #{i}")[0]
        else:
            if not isinstance(item, dict):
                raise DataError(f"{source}: {_label(i, item)}: expected an object")
            check_depth(item, f"{source}: {_label(i, item)}")
            data = dict(item)
            if isinstance(data.get("id"), int) and not isinstance(data.get("id"), bool):
                data["id"] = str(data["id"])
            try:
                request = AssistantRequest.model_validate(data)
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"]) or "(request)"
                raise DataError(f"{source}: {_label(i, item)}: field {loc}: {err['msg']}"
                                ) from None
            task = request_to_task(request, index=i, write_tools=write_tools,
                                   final_tool=final_tool)
        if task.id in seen:
            raise DataError(f"{source}: {_label(i, item)}: duplicate id {task.id!r}")
        seen.add(task.id)
        tasks.append(task)
    return tasks


_NORMAL = re.compile(r"[^a-z0-9]+")


def normalise_request(text: str) -> str:
    """A request's text for de-duplication (case, spacing and punctuation ignored)."""
    return _NORMAL.sub(" ", text.lower()).strip()
