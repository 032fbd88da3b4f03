"""Saved evaluation records: the reward and its breakdown."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from toolgym.messages import Usage
from toolgym.tasks import RewardType

__all__ = [
    "ActionCheck",
    "CommunicateCheck",
    "DBCheck",
    "EnvAssertionCheck",
    "NLAssertionCheck",
    "RewardBreakdown",
]


class DBCheck(BaseModel):
    """Final database vs the gold database."""

    match: bool = Field(description="Whether the canonical contents are equal.")
    diff: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Differing records: {table, key, predicted, expected} (capped).",
    )
    gold_errors: list[str] = Field(
        default_factory=list, description="Gold actions that failed during the gold replay."
    )


class ActionCheck(BaseModel):
    """Whether one gold action was matched by a call in the conversation."""

    action_id: str | None = Field(None, description="Gold action id.")
    name: str = Field(description="Gold tool name.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Gold arguments.")
    compare_args: list[str] | None = Field(None, description="Keys compared (None = all).")
    matched: bool = Field(description="A matching call was found.")
    closest: dict[str, Any] | None = Field(
        None, description="The same-name call whose arguments differed least, if any."
    )
    differing_args: list[str] = Field(
        default_factory=list, description="Compared keys where the closest call differed."
    )


class CommunicateCheck(BaseModel):
    """Whether one required piece of information appeared in an assistant message."""

    info: str = Field(description="The required string.")
    found: bool = Field(description="Found (case-insensitive, commas removed).")


class EnvAssertionCheck(BaseModel):
    """One environment assertion."""

    func_name: str = Field(description="Toolkit function called.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Its arguments.")
    expected: Any = Field(None, description="Expected value.")
    actual: Any = Field(None, description="Value obtained (or the error text).")
    met: bool = Field(description="Whether actual == expected.")
    message: str | None = Field(None, description="The assertion's message.")


class NLAssertionCheck(BaseModel):
    """One natural-language assertion graded by a judge model."""

    assertion: str = Field(description="The statement.")
    met: bool | None = Field(None, description="Verdict; None when no judge graded it.")
    justification: str | None = Field(None, description="The judge's reasoning.")
    turn: int | None = Field(None, description="Message index the judge pointed at, if any.")


class RewardBreakdown(BaseModel):
    """The reward of one episode and everything that went into it."""

    reward: float | None = Field(
        description="Final reward (product over reward_basis); None when it cannot be "
        "computed yet (e.g. an NL assertion needs a judge)."
    )
    status: Literal["ok", "judge_needed", "judge_failed", "not_scored", "error"] = Field(
        "ok", description="ok, judge_needed (NL assertions without a judge), judge_failed "
        "(the judge model failed: reward unknown), not_scored (episode ended abnormally: "
        "reward 0), error (evaluation itself failed)."
    )
    reward_basis: list[RewardType] = Field(default_factory=list, description="Components used.")
    components: dict[str, float | None] = Field(
        default_factory=dict, description="Every computed component, in basis or diagnostic."
    )
    db: DBCheck | None = Field(None, description="DB check details.")
    actions: list[ActionCheck] = Field(default_factory=list, description="Action check details.")
    communicate: list[CommunicateCheck] = Field(default_factory=list, description="Info checks.")
    env_assertions: list[EnvAssertionCheck] = Field(default_factory=list, description="Env checks.")
    nl_assertions: list[NLAssertionCheck] = Field(default_factory=list, description="NL checks.")
    notes: list[str] = Field(default_factory=list, description="Human-readable remarks.")
    judge_usage: Usage | None = Field(None, description="Usage of the judge model calls.")
