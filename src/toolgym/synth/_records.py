"""What synthetic-task files and validation reports hold (pydantic, saved to disk).

A generated task is a tau2 task plus top-level ``user_id``, ``method`` and
``scenario_type`` and a ``synth`` block (:class:`SynthInfo`): how it was made
and what its validation needs (the facts the user must be told, the
context of a cancellation reason). Loaders that do not know these fields
ignore them (tau2's task model does; toolgym keeps them as extras).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "RULE_NAMES",
    "Reason",
    "SynthInfo",
    "TaskVerdict",
    "ValidationReport",
]

#: Validation rules, in the order they are applied.
RULE_NAMES = ("schema", "replay", "determinism", "no_effect", "duplicate", "facts", "policy",
              "solvability")

Rule = Literal["schema", "replay", "determinism", "no_effect", "duplicate", "facts", "policy",
               "solvability", "rewrite", "generation"]


class SynthInfo(BaseModel):
    """How a synthetic task was made, and what validating it needs."""

    model_config = ConfigDict(extra="allow")

    generator: str = Field(description="'template', 'llm' or 'tau-bench' (imported).")
    seed: int | None = Field(None, description="Generator seed (None for imports).")
    toolgym_version: str = Field(description="toolgym version that wrote the task.")
    rules: str = Field(description="Policy rule profile applied: 'toolgym', 'tau2', 'retail'.")
    parts: list[str] = Field(default_factory=list,
                             description="Scenario type of each intent, in order.")
    facts: list[str] = Field(default_factory=list,
                             description="Strings the user's instructions must contain.")
    contexts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Per intent, facts the policy check needs that the actions do not show "
                    "(cancel_reason, reservation_id, refused).")
    refusal: bool = Field(False, description="Every intent is a request the policy forbids.")
    traps: list[str] = Field(default_factory=list, description="Policy traps of the task.")
    structural_difficulty: str | None = Field(
        None, description="Label from the structure alone (before any pass rate).")
    pass_rate: float | None = Field(None, description="Empirical pass rate of the "
                                                      "solvability run, if one was made.")
    solve_trials: int | None = Field(None, description="Trials of that run.")
    solve_model: str | None = Field(None, description="Reference agent model of that run.")
    rewritten_by: str | None = Field(None, description="Generator model that rewrote the "
                                                       "instructions, if any.")


class Reason(BaseModel):
    """Why a task was rejected (or what happened to it)."""

    rule: Rule = Field(description="The validation rule (or 'rewrite' / 'generation').")
    message: str = Field(description="One line for people.")


class TaskVerdict(BaseModel):
    """The validation outcome of one task."""

    task_id: str = Field(description="The task id ('#<index>' when it had none).")
    kept: bool = Field(description="Whether the task passed every rule.")
    reasons: list[Reason] = Field(default_factory=list,
                                  description="Why it was rejected (empty when kept).")
    notes: list[Reason] = Field(default_factory=list,
                                description="Events that did not reject it (a rewrite "
                                            "that lost a fact and was undone).")
    scenario_type: str | None = Field(None, description="The task's scenario type.")
    state_digest: str | None = Field(
        None, description="SHA-256 of the records the gold actions change (their JSON "
                          "dumps); equal on every replay.")


class ValidationReport(BaseModel):
    """Kept and rejected tasks with the reason for each, plus statistics."""

    domain: str = Field(description="Domain name.")
    rules: str = Field(description="Rule profile the policy check applied.")
    checked: int = Field(0, description="Tasks checked.")
    kept: int = Field(0, description="Tasks that passed.")
    rejected: int = Field(0, description="Tasks that failed at least one rule.")
    by_rule: dict[str, int] = Field(default_factory=dict,
                                    description="Rejected tasks per rule.")
    verdicts: list[TaskVerdict] = Field(default_factory=list, description="One per task.")
    stats: dict[str, Any] = Field(default_factory=dict,
                                  description="Counts of the kept tasks (see task_stats).")
    usage: dict[str, Any] | None = Field(None, description="Generator model usage (llm, "
                                                           "rewrite), if any.")

    def add(self, verdict: TaskVerdict) -> None:
        """Count a verdict in."""
        self.verdicts.append(verdict)
        self.checked += 1
        if verdict.kept:
            self.kept += 1
            return
        self.rejected += 1
        for rule in dict.fromkeys(r.rule for r in verdict.reasons):
            self.by_rule[rule] = self.by_rule.get(rule, 0) + 1

    @property
    def rate(self) -> float:
        """Share of checked tasks kept (1.0 when none were checked)."""
        return self.kept / self.checked if self.checked else 1.0
