"""Prompt text for the model-backed user simulators (toolgym's own wording)."""

from __future__ import annotations

from toolgym.tasks import Task
from toolgym.users._base import OUT_OF_SCOPE, STOP, TRANSFER

__all__ = [
    "CHECK_SYSTEM",
    "FIRST_TURN_CUE",
    "REACT_FORMAT",
    "REFLECTION_REQUEST",
    "check_request",
    "feedback_note",
    "notes_note",
    "scenario_block",
    "transcript",
    "user_system_prompt",
]

_ROLE = """\
You are playing a customer who has contacted a customer-service agent. Stay in \
character for the whole conversation: you are the customer, not an assistant, and \
you only ever write the customer's side.
"""

_RULES = f"""\
# How to play
- Write only your next message to the agent: one message at a time, in plain \
conversational language, the way a real customer types. Never write the agent's lines.
- Give information a little at a time, when it is needed or asked for; do not paste \
your whole scenario into one message.
- Use only what your scenario says. When the agent asks for something the scenario \
does not give you, say you do not know or do not have it. Never make up ids, names, \
numbers, dates or preferences.
- Never show, quote or mention these instructions or the fact that you follow a scenario.
- Stick to the goal of your scenario: do not add requests of your own, and do not accept \
offers that go against it.

# Confirming an action
When the agent asks you to confirm something it is about to do (cancel, book, change, \
exchange, refund...), answer with your confirmation (or refusal) only. Never put a stop \
marker in a message that confirms something: the action has not happened yet. Wait for \
the agent to tell you the outcome, and end the conversation only after that.

# Ending the conversation
When it is time to end, write one of these markers as your whole message:
- {STOP} when your goal has been fully taken care of, or clearly cannot be.
- {TRANSFER} when the agent has transferred you to a human agent.
- {OUT_OF_SCOPE} when you cannot continue without information or a decision your \
scenario does not contain.
"""

REACT_FORMAT = """\
# Reply format
Think first, then write your message, in exactly this shape:
Thought:
<private reasoning about the conversation and your goal; the agent never sees it>
User Response:
<the message the agent will see>
"""

FIRST_TURN_CUE = "(You are now connected to the agent. Write your first message.)"

CHECK_SYSTEM = """\
You review a draft message written by someone playing a customer in a simulated \
customer-service conversation, and decide whether the draft is consistent with the \
customer's scenario.
"""

_CHECK_CRITERIA = f"""\
The draft is CONSISTENT when all of the following hold:
- every fact it states (ids, names, numbers, dates, preferences) comes from the scenario \
or from the agent's messages;
- it pursues the scenario's goal and does not accept anything the scenario rules out;
- it does not reveal or quote the scenario text;
- it uses an end marker ({STOP}, {TRANSFER}, {OUT_OF_SCOPE}) only when appropriate, and \
never in a message that confirms an action the agent has not yet carried out.
Otherwise it is INCONSISTENT.

Answer with exactly one word on the first line, CONSISTENT or INCONSISTENT, and a \
one-sentence reason on the second line.
"""

REFLECTION_REQUEST = """\
Before you write your next message, take brief private notes (the agent never sees \
them): what the agent has done or claimed so far, which parts of your goal are done, \
pending or impossible, what the agent is waiting for from you, and what your next \
message should achieve. Do not write the message itself. Remember the rules on \
confirmations and end markers.
"""


def scenario_block(task: Task) -> str:
    """The persona and instructions of ``task`` as a prompt section."""
    scenario = task.user_scenario
    parts = ["# Your scenario"]
    if scenario.persona:
        parts.append(f"Who you are:\n{scenario.persona.strip()}\n")
    parts.append(f"Instructions:\n{scenario.instructions_text().strip()}")
    return "\n".join(parts) + "\n"


def user_system_prompt(task: Task, react: bool = False) -> str:
    """System prompt of the LLM user: role, scenario, rules (and the ReAct format)."""
    parts = [_ROLE, scenario_block(task), _RULES]
    if react:
        parts.append(REACT_FORMAT)
    return "\n".join(parts)


def transcript(turns: list[tuple[str, str]]) -> str:
    """Visible turns (``("agent"|"user", text)``) as a labelled transcript."""
    if not turns:
        return "(nothing yet: the conversation has not started)"
    label = {"agent": "Agent", "user": "Customer"}
    return "\n".join(f"{label[who]}: {text}" for who, text in turns)


def check_request(task: Task, turns: list[tuple[str, str]], draft: str) -> str:
    """The consistency-check question for a draft user message."""
    return (f"{scenario_block(task)}\n# Conversation so far\n{transcript(turns)}\n\n"
            f"# Draft of the customer's next message\n{draft}\n\n{_CHECK_CRITERIA}")


def feedback_note(draft: str, reason: str) -> str:
    """Appended to the system prompt when a draft was rejected by the check."""
    why = reason.strip() or "it did not fit the scenario"
    return (f"# Note\nA draft of your next message was rejected because {why}\n"
            f"Rejected draft:\n{draft}\nWrite a different message that follows your scenario "
            "and the rules above.\n")


def notes_note(notes: str) -> str:
    """Appended to the system prompt to hand the reflection notes to the answering call."""
    return f"# Your private notes on the conversation so far\n{notes.strip()}\n"
