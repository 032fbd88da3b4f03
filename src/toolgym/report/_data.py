"""Turning a loaded run into what the report page needs.

The page gets, per run, a compact outcome array (one short row per rollout,
enough to draw the task x trial grid and apply filters) and one JSON block
per trajectory that the browser parses only when the trajectory is opened.
Long message texts that repeat across rollouts (the system prompt, mostly)
are stored once in a per-run string table.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toolgym._secrets import redact_secrets
from toolgym.evaluation._metrics import bootstrap_ci, summarize, task_sort_key
from toolgym.runner._results import RolloutResult, Termination
from toolgym.runner._store import RunData

__all__ = [
    "CATEGORIES",
    "TERMINATIONS",
    "RunView",
    "build_run_view",
    "failure_categories",
    "model_call_latencies",
    "script_json",
    "string_index",
    "trajectory_payload",
]

# (key, label): failure categories derived from the reward breakdown. A
# rollout can be in several; the report counts them among rollouts that did
# not pass.
CATEGORIES: list[tuple[str, str]] = [
    ("db", "DB mismatch"),
    ("action", "missing action"),
    ("communicate", "communicate miss"),
    ("nl", "NL assertion failed"),
    ("judge", "judge needed"),
    ("judge_failed", "judge failed"),
    ("env", "env assertion failed"),
    ("abnormal", "abnormal termination"),
    ("eval_error", "evaluation error"),
]
_CAT_BIT = {key: 1 << i for i, (key, _) in enumerate(CATEGORIES)}
TERMINATIONS: list[str] = [t.value for t in Termination]

# A message text at least this long that occurs twice goes in the string table.
_INTERN_MIN_LEN = 200


def failure_categories(r: RolloutResult) -> list[str]:
    """Category keys (see :data:`CATEGORIES`) that apply to a rollout."""
    b = r.breakdown
    cats: list[str] = []
    if b.db is not None and not b.db.match:
        cats.append("db")
    if any(not a.matched for a in b.actions):
        cats.append("action")
    if any(not c.found for c in b.communicate):
        cats.append("communicate")
    if any(n.met is False for n in b.nl_assertions):
        cats.append("nl")
    if b.status == "judge_failed":
        cats.append("judge_failed")
    elif b.status == "judge_needed" or r.reward is None:
        cats.append("judge")
    if any(not e.met for e in b.env_assertions):
        cats.append("env")
    if not r.termination.normal:
        cats.append("abnormal")
    if b.status == "error":
        cats.append("eval_error")
    return cats


def model_call_latencies(results: Sequence[RolloutResult]) -> list[float]:
    """One latency per model call of the agent and the user, in conversation order.

    A message counts the calls recorded in its usage (a scripted user's
    message has none; the greeting is no call). A message that took several
    calls (a verifying user's draft and check) gives each call the mean
    latency, so the count matches the calls of the cost table. A message
    without usage but with a positive latency counts as one call.
    """
    out: list[float] = []
    for r in results:
        for m in r.messages:
            if m.latency_s is None:
                continue
            calls = m.usage.calls if m.usage is not None else (1 if m.latency_s > 0 else 0)
            if calls > 0:
                out.extend([m.latency_s / calls] * calls)
    return out


def _finite(obj: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


_SCRIPT_ESCAPES = str.maketrans({
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
})


def script_json(obj: Any) -> str:
    """JSON text safe to place inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, where their
    ``\\uXXXX`` escapes mean the same thing, so a text like ``</script>``
    can never close the block; U+2028/2029 are escaped for old JS parsers.
    """
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"))
    return text.translate(_SCRIPT_ESCAPES)


def trajectory_payload(r: RolloutResult, strings: dict[str, int] | None = None,
                       scores: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON object the trajectory viewer renders for one rollout.

    Args:
        r: The rollout.
        strings: Interned texts; a message whose content is in it is written
            as ``{"s": index}`` instead of the text.
        scores: ``(scoring name, Score)`` of this rollout: each becomes an
            annotation (the feedback), and each piece of evidence a judge cited
            an annotation at that message.
    """
    messages: list[dict[str, Any]] = []
    for m in r.messages:
        d = m.model_dump(mode="json", exclude_defaults=True)
        if strings and m.content is not None and m.content in strings:
            d["content"] = {"s": strings[m.content]}
        messages.append(d)
    # Error texts may quote a server's reply, and servers echo keys back (a 401).
    breakdown = r.breakdown.model_dump(mode="json")
    breakdown["notes"] = [redact_secrets(n) for n in breakdown.get("notes") or []]
    if breakdown.get("db"):
        breakdown["db"]["gold_errors"] = [redact_secrets(e)
                                          for e in breakdown["db"].get("gold_errors") or []]
    return {
        "task_id": r.task_id,
        "trial": r.trial,
        "seed": r.seed,
        "reward": r.reward,
        "termination": r.termination.value,
        "steps": r.steps,
        "error": redact_secrets(r.error) if r.error is not None else None,
        "timings": r.timings.model_dump(mode="json"),
        "usage": {k: v.model_dump(mode="json") for k, v in r.usage.items()},
        "breakdown": breakdown,
        "annotations": [*r.annotations, *_score_annotations(scores or [])],
        "categories": failure_categories(r),
        "messages": messages,
    }


def _score_annotations(scores: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, s in scores:
        label = f"{name} ({s.judge})" if name != s.judge else name
        text = redact_secrets(s.error) if s.error else (s.feedback or "")
        out.append({"judge": label, "turn": None, "text": text, "verdict": s.success})
        for c in s.details.get("criteria") or []:
            for turn in c.get("evidence") or []:
                passed = bool(c.get("verdict", 0) >= (1 if s.details.get("scale", 2) == 2
                                                      else 4))
                out.append({"judge": f"{label}: {c.get('name')}", "turn": turn,
                            "text": str(c.get("rationale") or ""), "verdict": passed})
    return out


@dataclass
class RunView:
    """Everything the page shows about one run."""

    index: int
    label: str
    run: RunData
    results: list[RolloutResult]
    summary: dict[str, Any]
    reward_ci: tuple[float, float] | None
    rows: list[list[Any]]
    strings: list[str]
    categories: dict[str, list[int]]
    n_failed: int
    durations: list[float]
    latencies: list[float]
    duplicates: int
    trials: int
    live: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """'A: run-name' style label."""
        return f"{self.label}: {self.run.name}"


def _dedupe(results: list[RolloutResult]) -> tuple[list[RolloutResult], int]:
    """Keep the last record per (task, trial) and order by task then trial."""
    last: dict[tuple[str, int], RolloutResult] = {}
    for r in results:
        last[r.key] = r
    ordered = sorted(last.values(), key=lambda r: (task_sort_key(r.task_id), r.trial))
    return ordered, len(results) - len(last)


def _label(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"R{i + 1}"


def run_seed(run: RunData) -> int:
    """The seed a run was made with (0 when its config does not say)."""
    cfg = run.config.get("config")
    seed = cfg.get("seed") if isinstance(cfg, dict) else None
    return seed if isinstance(seed, int) else 0


def build_run_view(run: RunData, index: int, seed: int | None = None) -> RunView:
    """Compute the summary, compact rows and chart data of one run.

    Args:
        run: The loaded run.
        index: Its position in the report.
        seed: Seed of the bootstrap intervals; by default the run's own seed,
            so the report shows the same intervals as its summary.json.
    """
    results, dups = _dedupe(run.results)
    seed = run_seed(run) if seed is None else seed
    trials_cfg = run.config.get("trials")
    trials = trials_cfg if isinstance(trials_cfg, int) and trials_cfg > 0 else None
    summary = summarize(results, trials=trials, seed=seed)
    per_task: dict[str, list[float]] = {}
    for r in sorted(results, key=lambda r: (task_sort_key(r.task_id), r.trial)):
        if r.reward is not None:
            per_task.setdefault(r.task_id, []).append(r.reward)
    reward_ci = bootstrap_ci([sum(v) / len(v) for v in per_task.values()], seed=seed)

    text_counts = Counter(
        m.content for r in results for m in r.messages
        if m.content is not None and len(m.content) >= _INTERN_MIN_LEN
    )
    strings = [t for t, c in text_counts.items() if c > 1]

    rows: list[list[Any]] = []
    cats: dict[str, list[int]] = {k: [] for k, _ in CATEGORIES}
    n_failed = 0
    term_index = {t: i for i, t in enumerate(TERMINATIONS)}
    for i, r in enumerate(results):
        keys = failure_categories(r)
        bits = 0
        for k in keys:
            bits |= _CAT_BIT[k]
        if not r.success:
            n_failed += 1
            for k in keys:
                cats[k].append(i)
        rows.append([r.task_id, r.trial, r.reward, term_index[r.termination.value], bits,
                     1 if r.success else 0])
    durations = [r.timings.duration_s for r in results]
    latencies = model_call_latencies(results)
    max_trials = max((r.trial for r in results), default=-1) + 1
    return RunView(
        index=index, label=_label(index), run=run, results=results, summary=summary,
        reward_ci=reward_ci, rows=rows, strings=strings, categories=cats, n_failed=n_failed,
        durations=durations, latencies=latencies, duplicates=dups,
        trials=max(max_trials, trials or 0),
    )


def string_index(view: RunView) -> dict[str, int]:
    """Text -> position in the run's string table."""
    return {s: i for i, s in enumerate(view.strings)}
