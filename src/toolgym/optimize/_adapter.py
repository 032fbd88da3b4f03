"""The GEPA adapter: GEPA proposes texts, toolgym evaluates them.

Implements the ``gepa`` adapter protocol (``evaluate``,
``make_reflective_dataset``, ``batch_evaluate``, adapter state, and
``propose_new_texts = None`` defined explicitly: gepa 0.1.4 reads it without
``getattr`` and would otherwise silently propose nothing). A data instance is
a task id; scores are the per-task mean over the evaluation's trials, in
[0, 1]. Trajectories are small dicts (the task's goal, a trimmed transcript,
the feedback), so they pickle cheaply into GEPA's checkpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from toolgym.judges._common import user_goal
from toolgym.optimize._evaluate import EvalLoop, Evaluation, Evaluator
from toolgym.optimize._feedback import trimmed_transcript

__all__ = ["TaskIds", "ToolgymAdapter"]

#: Reflective records per component at most (failures first).
MAX_RECORDS = 8


class TaskIds:
    """A GEPA data loader over task ids (stable ids in GEPA's state and fronts)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)

    def all_ids(self) -> list[str]:
        """Every id."""
        return list(self.ids)

    def fetch(self, ids: Sequence[str]) -> list[str]:
        """The data instances (the ids themselves)."""
        return list(ids)

    def __len__(self) -> int:
        return len(self.ids)


class ToolgymAdapter:
    """GEPA adapter over toolgym evaluations (see the module docstring).

    Args:
        evaluator: Runs evaluations.
        loop: The background event loop they run on.
        tasks: Task id -> task (for the goal shown to the reflection model).
        transcript_chars: Character budget of each trajectory in the reflective dataset.
        on_evaluation: Called with every evaluation (progress, audit trail).
    """

    #: gepa's own LLM reflection proposes the texts (through our reflection model).
    propose_new_texts: Callable[..., dict[str, str]] | None = None

    def __init__(self, evaluator: Evaluator, loop: EvalLoop, tasks: Mapping[str, Any],
                 transcript_chars: int = 6000,
                 on_evaluation: Callable[[Evaluation], None] | None = None) -> None:
        self.evaluator = evaluator
        self.loop = loop
        self.tasks = tasks
        self.transcript_chars = transcript_chars
        self.on_evaluation = on_evaluation

    def _batch(self, ev: Evaluation, batch: list[str]) -> Any:
        from gepa import EvaluationBatch

        if self.on_evaluation is not None:
            self.on_evaluation(ev)
        scores = [ev.scores.get(t, 0.0) for t in batch]
        trajectories = [{
            "task_id": t,
            "goal": user_goal(self.tasks[t]) if t in self.tasks else "",
            "transcript": trimmed_transcript(ev.results.get(t, []), self.transcript_chars),
            "feedback": ev.feedback.get(t, ""),
            "score": ev.scores.get(t, 0.0),
        } for t in batch]
        outputs = [{"task_id": t, "score": ev.scores.get(t, 0.0), "eval": ev.eval_id}
                   for t in batch]
        return EvaluationBatch(outputs=outputs, scores=scores, trajectories=trajectories,
                               num_metric_calls=len(batch) * self.evaluator.trials)

    def evaluate(self, batch: list[str], candidate: dict[str, str],
                 capture_traces: bool = False) -> Any:
        """Evaluate one candidate on a batch of task ids (trajectories always returned)."""
        ev = self.loop.run(self.evaluator.evaluate(dict(candidate), list(batch)))
        return self._batch(ev, list(batch))

    def batch_evaluate(self, items: list[tuple[dict[str, str], list[str]]], **kwargs: Any
                       ) -> list[Any]:
        """Evaluate several (candidate, batch) pairs at once, on the shared endpoint pool."""
        async def all_of() -> list[Evaluation]:
            return list(await asyncio.gather(*(
                self.evaluator.evaluate(dict(c), list(b)) for c, b in items)))

        evs = self.loop.run(all_of())
        return [self._batch(ev, list(b)) for ev, (_, b) in zip(evs, items, strict=True)]

    def make_reflective_dataset(self, candidate: dict[str, str], eval_batch: Any,
                                components_to_update: list[str]
                                ) -> dict[str, list[dict[str, Any]]]:
        """Per component: records of {Inputs, Generated Outputs, Feedback}, failures first.

        A ``tool:<name>`` component gets only the records whose feedback names
        that tool (the others say nothing about its description).
        """
        trajectories = list(eval_batch.trajectories or [])
        trajectories.sort(key=lambda t: t["score"])
        out: dict[str, list[dict[str, Any]]] = {}
        for component in components_to_update:
            chosen = trajectories
            if component.startswith("tool:"):
                name = component.removeprefix("tool:")
                chosen = [t for t in trajectories if f"`{name}`" in t["feedback"]]
            records = [{
                "Inputs": f"Task {t['task_id']}. What the user wants:\n{t['goal']}",
                "Generated Outputs": t["transcript"],
                "Feedback": f"Score {t['score']:.2f}. {t['feedback']}",
            } for t in chosen[:MAX_RECORDS]]
            if records:
                out[component] = records
        return out

    def get_adapter_state(self) -> dict[str, Any]:
        """Nothing to keep: evaluations live on disk and are read back on resume."""
        return {"version": 1}

    def set_adapter_state(self, state: dict[str, Any]) -> None:
        """Accept the (empty) saved state."""
