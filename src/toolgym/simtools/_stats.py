"""What simulated tools did in a run: calls, cache hits, injected failures.

Computed from the saved tool messages (their ``sim`` field), so the figures
are a function of the set of results, like every other statistic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from toolgym.simtools._spec import FAILURE_KINDS

if TYPE_CHECKING:
    from toolgym.runner._results import RolloutResult

__all__ = ["injected_outcomes", "sim_line", "sim_summary"]


def injected_outcomes(result: RolloutResult) -> list[str | None]:
    """The injected failure of each simulated call of a rollout, in order (None: none)."""
    return [m.sim.injected for m in result.messages if m.role == "tool" and m.sim is not None]


def sim_summary(results: Iterable[RolloutResult],
                scorings: Mapping[str, Mapping[tuple[str, int], bool | None]] | None = None
                ) -> dict[str, Any]:
    """``{"calls", "model_calls", "cache": {"hits", "misses"}, "injected": {kind: n},
    "by_tool": {tool: {"calls", "injected": {...}}}, "rollouts_with_injection",
    "strata": {none|<kind>: {"rollouts", "rewarded", "avg_reward"}}}``.

    ``strata`` stratifies the outcome by injected failure: ``none`` holds the
    rollouts without any, each kind the rollouts with at least one of it
    (``avg_reward`` over the rollouts with a reward; None while they wait for
    a judge). With ``scorings`` (scoring name -> {(task id, trial): success}),
    ``strata_by_scoring`` gives each scoring's success rate per stratum too.
    """
    calls = 0
    cache: Counter[str] = Counter()
    injected: Counter[str] = Counter()
    by_tool: dict[str, dict[str, Any]] = {}
    with_injection = 0
    model_calls = 0
    strata: dict[str, list[float | None]] = {k: [] for k in ("none", *FAILURE_KINDS)}
    keys: dict[str, list[tuple[str, int]]] = {k: [] for k in strata}
    for r in results:
        usage = r.usage.get("tool-sim")
        model_calls += usage.calls if usage is not None else 0
        any_injected = False
        kinds: set[str] = set()
        for m in r.messages:
            if m.role != "tool" or m.sim is None:
                continue
            calls += 1
            tool = by_tool.setdefault(m.name or "?", {"calls": 0, "injected": Counter()})
            tool["calls"] += 1
            if m.sim.cache is not None:
                cache[m.sim.cache] += 1
            if m.sim.injected is not None:
                injected[m.sim.injected] += 1
                tool["injected"][m.sim.injected] += 1
                any_injected = True
                kinds.add(m.sim.injected)
        with_injection += any_injected
        for kind in kinds or {"none"}:
            strata[kind].append(r.reward)
            keys[kind].append(r.key)
    out: dict[str, Any] = {
        "calls": calls,
        "model_calls": model_calls,
        "cache": {"hits": cache["hit"], "misses": cache["miss"]},
        "injected": {k: injected[k] for k in FAILURE_KINDS},
        "by_tool": {name: {"calls": t["calls"],
                           "injected": {k: t["injected"][k] for k in FAILURE_KINDS
                                        if t["injected"][k]}}
                    for name, t in sorted(by_tool.items())},
        "rollouts_with_injection": with_injection,
        "strata": {kind: _stratum(rewards) for kind, rewards in strata.items()},
    }
    if scorings:
        out["strata_by_scoring"] = {
            name: {kind: _scored([verdicts.get(k) for k in keys[kind]]) for kind in keys}
            for name, verdicts in sorted(scorings.items())}
    return out


def _scored(verdicts: list[bool | None]) -> dict[str, Any]:
    judged = [v for v in verdicts if v is not None]
    return {"rollouts": len(verdicts), "scored": len(judged),
            "success_rate": sum(judged) / len(judged) if judged else None}


def _stratum(rewards: list[float | None]) -> dict[str, Any]:
    scored = [x for x in rewards if x is not None]
    return {"rollouts": len(rewards), "rewarded": len(scored),
            "avg_reward": sum(scored) / len(scored) if scored else None}


def sim_line(stats: dict[str, Any]) -> str:
    """One line for people: ``tool-sim: 120 simulated calls, 40 model calls; cache 80 hits /
    40 misses; injected: no_answer 12, partial 9``."""
    cache = stats.get("cache") or {}
    injected = {k: v for k, v in (stats.get("injected") or {}).items() if v}
    parts = [f"tool-sim: {stats.get('calls', 0)} simulated calls, "
             f"{stats.get('model_calls', 0)} model calls"]
    if cache.get("hits") or cache.get("misses"):
        parts.append(f"cache {cache.get('hits', 0)} hits / {cache.get('misses', 0)} misses")
    parts.append("injected: " + (", ".join(f"{k} {v}" for k, v in injected.items())
                                 if injected else "none"))
    return "; ".join(parts)
