"""The built-in ``assistant`` domain: a planner's tools, mostly simulated.

Requests (``{request, topic, intended_steps, kind}``) are carried out with
simulated ``search_internet``, ``search_wikipedia`` (no answer 0.1, partial
answer 0.1 by default), ``create_event`` and ``send_email`` (stateful), the
real ``calculate``, ``ask_user`` (the user simulator answers) and
``final_answer`` (ends the episode). There is no database truth: tasks are
graded by a judge (NL criteria built from the request, or the ``rater``
with the domain's rubric); without one their status is ``judge_needed``.
"""

from toolgym.domains._domain import DomainSpec, register_domain
from toolgym.domains.assistant._builtin import load_builtin, parse_assistant_tasks
from toolgym.domains.assistant._tools import (
    ASSISTANT_RUBRIC,
    ASSISTANT_TOOLS,
    AssistantDB,
    AssistantTools,
)

SPEC = register_domain(
    DomainSpec(
        name="assistant",
        db_type=AssistantDB,
        toolkit_type=AssistantTools,
        builtin=load_builtin,
        description="personal assistant with simulated search, calendar and e-mail tools",
        parse_tasks=parse_assistant_tasks,
    )
)

__all__ = ["ASSISTANT_RUBRIC", "ASSISTANT_TOOLS", "SPEC", "AssistantDB", "AssistantTools"]
