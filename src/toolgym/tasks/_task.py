"""Task models: the tau2 task JSON schema plus toolgym's optional fields."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class StructuredInstructions(_Model):
    """The object form of a user scenario's instructions (tau2)."""

    domain: str | None = Field(None, description="Domain name the scenario belongs to.")
    reason_for_call: str = Field(description="Why the user is calling.")
    known_info: str | None = Field(None, description="What the user knows and may say.")
    unknown_info: str | None = Field(None, description="What the user does not know.")
    task_instructions: str | None = Field(None, description="How the user should behave.")

    def as_text(self) -> str:
        """The instructions as one prompt-ready block of text."""
        parts = [
            ("Domain", self.domain),
            ("Reason for call", self.reason_for_call),
            ("Known info", self.known_info),
            ("Unknown info", self.unknown_info),
            ("Task instructions", self.task_instructions),
        ]
        return "\n".join(f"{k}:\n{v}\n" for k, v in parts if v)


class UserScenario(_Model):
    """What the simulated user gets."""

    persona: str | None = Field(None, description="Who the user is, in prose.")
    instructions: StructuredInstructions | str = Field(description="The user's goal.")

    def instructions_text(self) -> str:
        """Instructions as plain text, whatever their form."""
        if isinstance(self.instructions, str):
            return self.instructions
        return self.instructions.as_text()


class Description(_Model):
    """Authors' notes on a task (not shown to the agent)."""

    purpose: str | None = Field(None, description="What the task tests.")
    relevant_policies: str | None = Field(None, description="Policy sections involved.")
    notes: str | None = Field(None, description="Free-form notes.")


class Action(_Model):
    """One gold tool call."""

    action_id: str | None = Field(None, description="Identifier, e.g. '3_1'.")
    requestor: Literal["assistant", "user"] = Field(
        "assistant", description="Who makes the call; absent means the assistant."
    )
    name: str = Field(description="Tool name.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")
    info: str | None = Field(None, description="Authors' note on the action.")
    compare_args: list[str] | None = Field(
        None, description="Argument names compared by the action check; null means all."
    )
    depends_on: list[str] | None = Field(
        None,
        description="Action ids this action depends on, for the graph judge; taken as "
        "written ([] means no parents). Null: the judge derives them (see the README).",
    )
    checkers: dict[str, Any] | None = Field(
        None,
        description="Graph judge argument checkers for this action: argument -> checker "
        "name or {name, ...parameters}; they override the defaults and the judge's "
        "checkers file.",
    )


class EnvAssertion(_Model):
    """A toolkit function whose result must equal ``assert_value`` at the end."""

    env_type: Literal["assistant", "user"] = Field("assistant", description="Which side's env.")
    func_name: str = Field(description="Toolkit function to call.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Its arguments.")
    assert_value: Any = Field(True, description="Expected return value.")
    message: str | None = Field(None, description="Shown when the assertion fails.")


class RewardType(StrEnum):
    """Components a task's reward can be built from."""

    DB = "DB"
    ENV_ASSERTION = "ENV_ASSERTION"
    COMMUNICATE = "COMMUNICATE"
    NL_ASSERTION = "NL_ASSERTION"
    ACTION = "ACTION"


class EvaluationCriteria(_Model):
    """Ground truth for a task."""

    actions: list[Action] | None = Field(None, description="Reference tool calls, in order.")
    env_assertions: list[EnvAssertion] | None = Field(None, description="End-state checks.")
    communicate_info: list[str] | None = Field(
        None, description="Strings the agent must say (case-insensitive substring)."
    )
    nl_assertions: list[str] | None = Field(None, description="Statements an LLM judge checks.")
    reward_basis: list[RewardType] = Field(
        default_factory=lambda: [RewardType.DB, RewardType.COMMUNICATE],
        description="Components multiplied into the final reward.",
    )


class InitAction(_Model):
    """A toolkit call applied when the task's initial state is built."""

    env_type: Literal["assistant", "user"] = Field("assistant", description="Which side.")
    func_name: str = Field(description="Function to call.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Its arguments.")


class InitializationData(_Model):
    """Data deep-merged into the database before the episode."""

    agent_data: dict[str, Any] | None = Field(None, description="Merged into the agent DB.")
    user_data: dict[str, Any] | None = Field(None, description="Merged into the user DB.")


class InitialState(_Model):
    """How to build the starting state of a task."""

    initialization_data: InitializationData | None = Field(None, description="DB overrides.")
    initialization_actions: list[InitAction] | None = Field(None, description="Setup calls.")
    message_history: list[dict[str, Any]] | None = Field(
        None, description="Earlier messages (tool calls are replayed)."
    )


class Task(_Model):
    """A user goal plus the ground truth to grade an episode against."""

    id: str = Field(description="Task id, unique within a task set.")
    description: Description | None = Field(None, description="Authors' notes.")
    user_scenario: UserScenario = Field(description="What the simulated user gets.")
    ticket: str | None = Field(None, description="Task statement for agent-only runs.")
    initial_state: InitialState | None = Field(None, description="Starting state, if any.")
    evaluation_criteria: EvaluationCriteria | None = Field(None, description="Ground truth.")
    annotations: Any = Field(None, description="Ignored (tau2 airline).")
    issues: Any = Field(None, description="Ignored authors' notes (tau2 retail).")
    # toolgym's optional fields
    difficulty: str | None = Field(None, description="e.g. easy / medium / hard.")
    provenance: str | None = Field(None, description="Where the task came from.")
    tags: list[str] = Field(default_factory=list, description="Free labels.")

    @property
    def gold_actions(self) -> list[Action]:
        """The reference actions (empty when none are given)."""
        ec = self.evaluation_criteria
        return list(ec.actions or []) if ec else []

    @property
    def reward_basis(self) -> list[RewardType]:
        """The reward components of this task."""
        ec = self.evaluation_criteria
        return list(ec.reward_basis) if ec else []
