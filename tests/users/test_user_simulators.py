"""User simulators driven by an in-test fake model (and a monkeypatched terminal)."""

from __future__ import annotations

import builtins
import io
from typing import Any

import pytest
from rich.console import Console

from toolgym.errors import ConfigError
from toolgym.messages import Message, ToolCall, Usage
from toolgym.models._base import Model, ModelConfig, ModelResponse
from toolgym.tasks import Task
from toolgym.users import (
    STOP,
    TRANSFER,
    HumanUser,
    LLMUser,
    ScriptedUser,
    UserContext,
    create_user,
    stop_marker,
    strip_premature_stop,
    user_strategies,
)

TASK = Task.model_validate({
    "id": "t1",
    "user_scenario": {
        "persona": "A busy parent who types short messages.",
        "instructions": {
            "domain": "airline",
            "reason_for_call": "You want to cancel reservation ABC123.",
            "known_info": "Your user id is mia_li_3668.",
            "unknown_info": "You do not know your email.",
            "task_instructions": "Accept a refund to the original payment method.",
        },
    },
})
SYSTEM = "agent policy: SECRET-POLICY"


class FakeModel(Model):
    """Returns canned replies in order and records every request."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(ModelConfig(model="fake"))
        self.replies = list(replies)
        self.requests: list[list[Message]] = []
        self.params: list[dict[str, Any]] = []

    async def generate(self, messages: list[Message], tools: list[dict[str, Any]] | None = None,
                       **params: Any) -> ModelResponse:
        assert tools is None
        self.requests.append(list(messages))
        self.params.append(params)
        return ModelResponse(message=Message.assistant(self.replies.pop(0)),
                             usage=Usage(prompt_tokens=100, completion_tokens=10, calls=1,
                                         cost=0.01),
                             latency_s=0.5)


def user(name: str, model: Model | None, **args: Any) -> Any:
    return create_user(name, UserContext(task=TASK, model=model, seed=0, args=args))


def conversation() -> list[Message]:
    call = ToolCall(id="c1", name="get_reservation_details", arguments={"id": "ABC123"})
    return [
        Message.system(SYSTEM),
        Message.assistant("Hi! How can I help you today?"),
        Message.user("I want to cancel ABC123."),
        Message.assistant("Let me check that reservation.", [call]),
        Message(role="tool", content="TOOL-SECRET-DATA", tool_call_id="c1",
                name="get_reservation_details"),
        Message.assistant("Your reservation qualifies. Shall I proceed with the cancellation?"),
    ]


def test_registered_simulators() -> None:
    assert set(user_strategies()) >= {"llm", "react", "verify", "reflection", "scripted",
                                      "human"}


# --- llm -----------------------------------------------------------------------------------

async def test_llm_user_sees_role_flipped_text_only() -> None:
    model = FakeModel(["Hmm, what refund will I get?"])
    u = user("llm", model, temperature=0.7)
    reply = await u.respond(conversation())
    sent = model.requests[0]
    assert model.params[0] == {"temperature": 0.7}
    assert sent[0].role == "system"
    system = sent[0].content or ""
    assert "A busy parent" in system and "cancel reservation ABC123" in system
    assert "mia_li_3668" in system and STOP in system and TRANSFER in system
    assert [(m.role, m.content) for m in sent[1:]] == [
        ("user", "Hi! How can I help you today?"),
        ("assistant", "I want to cancel ABC123."),
        ("user", "Your reservation qualifies. Shall I proceed with the cancellation?"),
    ]
    everything = " ".join(m.content or "" for m in sent)
    assert "TOOL-SECRET-DATA" not in everything
    assert "Let me check that reservation." not in everything
    assert "SECRET-POLICY" not in everything
    assert reply.message.role == "user"
    assert reply.message.content == "Hmm, what refund will I get?"
    assert reply.usage.calls == 1 and reply.latency_s == 0.5


async def test_llm_user_first_turn_has_a_cue() -> None:
    model = FakeModel(["Hi, I need to cancel a flight."])
    await user("llm", model).respond([Message.system(SYSTEM)])
    assert [m.role for m in model.requests[0]] == ["system", "user"]


async def test_llm_user_stop_marker_passes_through() -> None:
    reply = await user("llm", FakeModel(["Thanks, that's all. " + STOP])).respond(conversation())
    assert stop_marker(reply.message.content) == STOP


async def test_confirmation_with_stop_is_kept_going_by_the_guard() -> None:
    # Without the guard the episode would end before the agent cancels.
    unguarded = user("llm", FakeModel(["Yes, please go ahead. " + STOP]), confirm_guard=False)
    reply = await unguarded.respond(conversation())
    assert stop_marker(reply.message.content) == STOP

    guarded = user("llm", FakeModel(["Yes, please go ahead. " + STOP,
                                     "Yes great, thanks! " + STOP]))
    first = await guarded.respond(conversation())
    assert first.message.content == "Yes, please go ahead."
    assert stop_marker(first.message.content) is None
    # Never twice in a row: the next stop ends the episode even with a "yes".
    second = await guarded.respond(conversation())
    assert stop_marker(second.message.content) == STOP


def test_strip_premature_stop_rules() -> None:
    assert strip_premature_stop(f"I confirm. {STOP}") == "I confirm."
    assert strip_premature_stop(f"Thanks, bye! {STOP}") is None
    assert strip_premature_stop(STOP) is None
    assert strip_premature_stop(f"Yes {TRANSFER}") is None
    assert strip_premature_stop("Yes, go ahead.") is None


def test_llm_user_needs_a_model_and_known_args() -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        user("llm", None)
    with pytest.raises(ConfigError, match="max_redrafts"):
        user("llm", FakeModel([]), max_redrafts=3)  # only verify takes it


# --- react ---------------------------------------------------------------------------------

async def test_react_user_shows_only_the_response() -> None:
    model = FakeModel(["Thought:\nI must not reveal my email.\nUser Response:\nYes, cancel it."])
    reply = await user("react", model).respond(conversation())
    assert reply.message.content == "Yes, cancel it."
    assert "User Response:" in (model.requests[0][0].content or "")


# --- verify --------------------------------------------------------------------------------

async def test_verify_regenerates_when_check_says_inconsistent() -> None:
    model = FakeModel([
        "My email is mia@example.com.",             # draft 1 (invented)
        "INCONSISTENT\nThe email is not in the scenario.",
        "I don't remember my email, but my user id is mia_li_3668.",  # draft 2
        "CONSISTENT\nFine.",
    ])
    reply = await user("verify", model).respond(conversation())
    assert reply.message.content == "I don't remember my email, but my user id is mia_li_3668."
    assert len(model.requests) == 4
    check = model.requests[1]
    assert "My email is mia@example.com." in (check[-1].content or "")
    assert "TOOL-SECRET-DATA" not in (check[-1].content or "")
    regen_system = model.requests[2][0].content or ""
    assert "The email is not in the scenario." in regen_system
    assert reply.usage.calls == 4 and reply.usage.prompt_tokens == 400
    assert reply.usage.cost == pytest.approx(0.04)
    assert reply.latency_s == pytest.approx(2.0)


async def test_verify_gives_up_after_max_redrafts() -> None:
    model = FakeModel(["a", "INCONSISTENT: no", "b", "INCONSISTENT: still no", "c"])
    reply = await user("verify", model, max_redrafts=2).respond(conversation())
    assert reply.message.content == "c"
    assert len(model.requests) == 5
    model = FakeModel(["a", "INCONSISTENT: no", "b"])
    reply = await user("verify", model, max_redrafts=1).respond(conversation())
    assert reply.message.content == "b" and len(model.requests) == 3


def test_verify_refuses_the_old_max_retries_name() -> None:
    # max_retries is the model client's setting; the CLI routes it there.
    with pytest.raises(ConfigError, match="max_retries was renamed max_redrafts"):
        user("verify", FakeModel([]), max_retries=2)
    with pytest.raises(ConfigError, match="max_redrafts must be an integer"):
        user("verify", FakeModel([]), max_redrafts=-1)


# --- reflection ----------------------------------------------------------------------------

async def test_reflection_user_reflects_then_answers() -> None:
    model = FakeModel(["NOTES: agent wants confirmation", "Yes, please cancel it."])
    reply = await user("reflection", model).respond(conversation())
    assert reply.message.content == "Yes, please cancel it."
    assert "NOTES: agent wants confirmation" in (model.requests[1][0].content or "")
    assert "NOTES" not in (reply.message.content or "")
    assert reply.usage.calls == 2


# --- scripted ------------------------------------------------------------------------------

async def test_scripted_user_opens_confirms_then_stops() -> None:
    u = user("scripted", None)
    assert isinstance(u, ScriptedUser)
    opening = await u.respond([Message.system(SYSTEM), Message.assistant("Hi, how can I help?")])
    assert opening.message.content == ("You want to cancel reservation ABC123.\n\n"
                                       "Your user id is mia_li_3668.")
    ask_id = [Message.assistant("Could you please provide your user id?")]
    assert (await u.respond(ask_id)).message.content == "Your user id is mia_li_3668."
    confirm = await u.respond(conversation())
    assert confirm.message.content == "Yes, please go ahead."
    done = await u.respond([Message.assistant("Your reservation has been cancelled.")])
    assert done.message.content == STOP
    assert done.usage == Usage()


async def test_scripted_user_fixed_turns_and_confirmation_limit() -> None:
    u = user("scripted", None, turns=["first", "second"], max_confirmations=1)
    assert (await u.respond([])).message.content == "first"
    assert (await u.respond([])).message.content == "second"
    assert (await u.respond(conversation())).message.content == "Yes, please go ahead."
    assert (await u.respond(conversation())).message.content == STOP


def test_scripted_user_rejects_bad_args() -> None:
    with pytest.raises(ConfigError, match="turns"):
        user("scripted", None, turns="hello")
    with pytest.raises(ConfigError, match="allowed"):
        user("scripted", None, temperature=0.5)


# --- human ---------------------------------------------------------------------------------

async def test_human_user_reads_input_and_stops_on_empty_or_eof(
        monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[str | None] = ["  I want to cancel.  ", "", None]

    def fake_input(prompt: str = "") -> str:
        value = answers.pop(0)
        if value is None:
            raise EOFError
        return value

    monkeypatch.setattr(builtins, "input", fake_input)
    out = io.StringIO()
    ctx = UserContext(task=TASK, model=None, seed=0)
    u = HumanUser(ctx, console=Console(file=out, width=120))
    first = await u.respond(conversation())
    assert first.message.content == "I want to cancel."
    printed = out.getvalue()
    assert "Shall I proceed" in printed and "Your scenario" in printed
    assert "TOOL-SECRET-DATA" not in printed
    assert "Hi! How can I help" not in printed  # only messages after the user's last one
    assert (await u.respond(conversation())).message.content == STOP
    assert (await u.respond(conversation())).message.content == STOP


def test_user_view_helpers_are_consistent() -> None:
    u = user("llm", FakeModel([]))
    assert isinstance(u, LLMUser)
    assert STOP in u.system_prompt and "never put a stop" in u.system_prompt.lower()


async def test_real_tau2_tasks_build_prompts_and_openings(tau2_retail_dir: Any) -> None:
    from toolgym.tasks import StructuredInstructions, load_tasks

    tasks = load_tasks(tau2_retail_dir / "tasks.json")
    for task in tasks[:20]:
        instructions = task.user_scenario.instructions
        assert isinstance(instructions, StructuredInstructions)
        ctx = UserContext(task=task, model=FakeModel([]), seed=0)
        prompt = LLMUser(ctx).system_prompt
        assert instructions.reason_for_call.strip() in prompt
        scripted = ScriptedUser(UserContext(task=task, model=None, seed=0))
        opening = (await scripted.respond([Message.assistant("Hi!")])).message.content or ""
        assert opening.startswith(instructions.reason_for_call.strip())
        assert stop_marker(opening) is None
