"""Saved run records: one :class:`RolloutResult` per line of ``results.jsonl``."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from toolgym.evaluation._types import RewardBreakdown
from toolgym.messages import Message, Usage

__all__ = ["RolloutResult", "Termination", "Timings", "failure_reason"]


class Termination(StrEnum):
    """Why an episode ended."""

    USER_STOP = "user_stop"
    AGENT_STOP = "agent_stop"
    TRANSFER = "transfer"
    MAX_STEPS = "max_steps"
    TOO_MANY_ERRORS = "too_many_errors"
    CONTEXT_OVERFLOW = "context_overflow"
    MODEL_ERROR = "model_error"
    TIMEOUT = "timeout"
    COST_LIMIT = "cost_limit"
    #: An unexpected exception in the rollout (a bug in a component, not the
    #: agent's behaviour): recorded, counted as an infrastructure error.
    INTERNAL_ERROR = "internal_error"
    #: Abandoned by a second Ctrl-C. Such rollouts are never written to
    #: results.jsonl (resume runs them again); the value names them in logs.
    CANCELLED = "cancelled"

    @property
    def normal(self) -> bool:
        """Ended by the user or agent (the only endings whose reward is graded)."""
        return self in (Termination.USER_STOP, Termination.AGENT_STOP, Termination.TRANSFER)

    @property
    def infrastructure(self) -> bool:
        """Ended by infrastructure trouble rather than by the agent's behaviour."""
        return self in (Termination.MODEL_ERROR, Termination.INTERNAL_ERROR,
                        Termination.CANCELLED)


class Timings(BaseModel):
    """Wall-clock facts about one rollout."""

    started_at: str = Field(description="ISO-8601 UTC start time.")
    finished_at: str = Field(description="ISO-8601 UTC end time.")
    duration_s: float = Field(description="Total wall time.")
    agent_s: float = Field(0.0, description="Time inside agent model calls.")
    user_s: float = Field(0.0, description="Time inside user model calls.")
    env_s: float = Field(0.0, description="Time inside tools.")
    eval_s: float = Field(0.0, description="Time spent grading.")


class RolloutResult(BaseModel):
    """One finished rollout (a task x trial), as written to results.jsonl."""

    task_id: str = Field(description="Task id.")
    trial: int = Field(description="Trial index, 0-based.")
    seed: int = Field(description="Seed used by every seeded component of this rollout.")
    messages: list[Message] = Field(description="Full conversation, system prompt first.")
    reward: float | None = Field(description="Final reward (None when judge_needed).")
    breakdown: RewardBreakdown = Field(description="How the reward was computed.")
    termination: Termination = Field(description="Why the episode ended.")
    steps: int = Field(0, description="Agent steps (model calls) taken.")
    usage: dict[str, Usage] = Field(default_factory=dict, description="Usage per model role.")
    timings: Timings = Field(description="Timing facts.")
    error: str | None = Field(None, description="Infrastructure error text, if any (secrets "
                              "masked).")
    error_status: int | None = Field(
        None, description="HTTP status of the infrastructure error, when the endpoint gave one "
        "(401, 403 and 404 are configuration errors).")
    retries: dict[str, int] = Field(
        default_factory=dict,
        description="Model calls retried during this rollout, by cause: 429, 5xx, timeout, "
        "connection, malformed.")
    annotations: list[dict[str, Any]] = Field(
        default_factory=list, description="Judge annotations {judge, turn, text, verdict}."
    )

    @property
    def key(self) -> tuple[str, int]:
        """The (task id, trial) pair identifying this rollout within a run."""
        return (self.task_id, self.trial)

    @property
    def infra_error(self) -> bool:
        """Whether infrastructure trouble decided the outcome.

        True when the episode ended on a model or internal error, or when its
        judge failed (the reward is unknown): such rollouts are not final and
        ``--retry-errors`` runs them again.
        """
        return self.termination.infrastructure or self.breakdown.status == "judge_failed"

    @property
    def success(self) -> bool:
        """Reward counted as a pass (reward == 1 within float noise)."""
        return self.reward is not None and self.reward >= 1.0 - 1e-6


def failure_reason(result: RolloutResult) -> str | None:
    """Why a rollout did not pass, in a few words (None when it passed).

    Examples: ``DB mismatch``, ``missing action book_reservation``,
    ``max_steps``, ``needs a judge``, or the infrastructure error text.
    """
    if result.success:
        return None
    if result.termination.infrastructure:
        return result.error or result.termination.value
    b = result.breakdown
    if b.status == "judge_failed":
        return "judge failed"
    if not result.termination.normal:
        return f"ended: {result.termination.value}"
    if b.status == "judge_needed":
        return "needs a judge (NL assertions)"
    if b.status == "error":
        return "evaluation error"
    reasons: list[str] = []
    if b.db is not None and not b.db.match:
        reasons.append("DB mismatch")
    missing = [a.name for a in b.actions if not a.matched]
    if missing:
        reasons.append("missing action " + ", ".join(dict.fromkeys(missing)))
    unsaid = [c.info for c in b.communicate if not c.found]
    if unsaid:
        reasons.append("did not say " + ", ".join(repr(u) for u in unsaid[:2]))
    if any(not e.met for e in b.env_assertions):
        reasons.append("env assertion failed")
    if any(n.met is False for n in b.nl_assertions):
        reasons.append("NL assertion failed")
    return "; ".join(reasons) or "reward below 1"
