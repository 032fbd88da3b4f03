"""Agreement of the ``graph`` judge with the ground-truth reward (tau2 airline, offline).

Prints:

* oracle rollouts (50 tasks x 1 trial): how many the graph judge passes;
* rollouts with injected mistakes (oracle ``error_rate=0.5``, 50 tasks x 2
  trials): agreement of graph success with reward == 1, the confusion
  counts, the failure types, and every disagreement;
* probes, built by editing oracle conversations, where the two are expected
  to differ (and why): writes in reverse order, a repeated write, a closing
  message without the facts the task asks to communicate;
* the judge's time per rollout.

Run: python benchmarks/graph_agreement.py [--data-dir ../shared/tau2/airline]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import toolgym
from toolgym.domains._toolkit import ToolKind
from toolgym.evaluation import Evaluator
from toolgym.judges._base import JudgeContext, create_judge
from toolgym.messages import Message
from toolgym.models._oracle import communicate_text

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "tau2" / "airline"


def _score(judge: Any, domain: Any, results: list[Any]) -> tuple[list[Any], float]:
    async def go() -> list[Any]:
        return [await judge.score(domain.task(r.task_id), r) for r in results]

    start = time.perf_counter()
    scores = asyncio.run(go())
    return scores, (time.perf_counter() - start) / max(len(results), 1)


def _write_blocks(messages: list[Message], domain: Any) -> list[tuple[int, int]]:
    """(start, end) of each assistant write call and its answer."""
    specs = domain.toolkit_type.tool_specs()
    out = []
    for i, m in enumerate(messages):
        calls = m.tool_calls or []
        if m.role == "assistant" and len(calls) == 1 and calls[0].name in specs \
                and specs[calls[0].name][0] == ToolKind.WRITE:
            out.append((i, i + 2))
    return out


def _reverse_writes(messages: list[Message], domain: Any, task: Any) -> list[Message] | None:
    blocks = _write_blocks(messages, domain)
    if len(blocks) < 2:
        return None
    first, last = blocks[0][0], blocks[-1][1]
    middle = messages[first:last]
    pairs = [messages[s:e] for s, e in blocks]
    rest = [m for i, m in enumerate(middle, start=first)
            if not any(s <= i < e for s, e in blocks)]
    return [*messages[:first], *rest, *[m for p in reversed(pairs) for m in p],
            *messages[last:]]


def _repeat_last_write(messages: list[Message], domain: Any, task: Any) -> list[Message] | None:
    blocks = _write_blocks(messages, domain)
    if not blocks:
        return None
    s, e = blocks[-1]
    return [*messages[:e], *messages[s:e], *messages[e:]]


def _no_facts(messages: list[Message], domain: Any, task: Any) -> list[Message] | None:
    ec = task.evaluation_criteria
    if not (ec and ec.communicate_info):
        return None
    text = communicate_text(task)
    return [Message.assistant("All done. Anything else?") if m.content == text else m
            for m in messages]


PROBES: dict[str, tuple[Callable[[list[Message], Any, Any], list[Message] | None], str]] = {
    "writes reversed": (_reverse_writes,
                        "graph is stricter: writes on one reservation are ordered even when "
                        "they commute (flights / passengers / baggages updates: same final DB); "
                        "both fail when the order shows in the DB (payment history, new ids)"),
    "last write repeated": (_repeat_last_write,
                            "graph is stricter: an extra successful write always fails the count "
                            "(the copied answer says it succeeded), while the DB check passes "
                            "when the repeat leaves the same state or is refused on replay"),
    "facts not said": (_no_facts,
                       "graph is looser: it ignores what is said when the oracle has no "
                       "message events, while COMMUNICATE fails"),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/graph_agreement.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--error-rate", type=float, default=0.5)
    args = parser.parse_args()
    data_dir = args.data_dir if args.data_dir.exists() else None
    domain = toolgym.load_domain("airline", data_dir=data_dir)
    judge = create_judge(JudgeContext(name="graph", domain=domain))
    evaluator = Evaluator(domain)
    print(f"data: {data_dir or 'built-in airline'} ({len(domain.tasks)} tasks)")
    with tempfile.TemporaryDirectory() as tmp:
        perfect = toolgym.run(domain="airline", data_dir=data_dir, agent_model="oracle",
                              user="scripted", out=Path(tmp) / "perfect")
        scores, per = _score(judge, domain, perfect.results)
        passed = sum(s.success is True for s in scores)
        print(f"oracle rollouts: graph passes {passed}/{len(scores)} "
              f"(judge {per * 1e3:.2f} ms per rollout)")

        mistaken = toolgym.run(domain="airline", data_dir=data_dir,
                               agent_model={"model": "oracle",
                                            "args": {"error_rate": args.error_rate}},
                               user="scripted", trials=args.trials, out=Path(tmp) / "mistaken")
        scores, per = _score(judge, domain, mistaken.results)
        pairs = [(r.success, s.success) for r, s in zip(mistaken.results, scores, strict=True)]
        agree = sum(gt == g for gt, g in pairs)
        confusion = Counter(f"reward==1:{gt} graph:{g}" for gt, g in pairs)
        types = Counter(f["type"] for s in scores for f in s.failures)
        print(f"error_rate {args.error_rate}: agreement {agree}/{len(pairs)} "
              f"({agree / len(pairs):.0%}); {dict(sorted(confusion.items()))}")
        print(f"  failure types: {dict(types)}; judge {per * 1e3:.2f} ms per rollout")
        for r, s in zip(mistaken.results, scores, strict=True):
            if r.success != s.success:
                print(f"  disagreement task {r.task_id} trial {r.trial}: reward {r.reward}, "
                      f"graph {s.success}: {s.feedback}")

        print("probes (edited oracle conversations):")
        for name, (edit, why) in PROBES.items():
            counts: Counter[str] = Counter()
            for r in perfect.results:
                task = domain.task(r.task_id)
                messages = edit(list(r.messages), domain, task)
                if messages is None:
                    continue
                gt = evaluator.evaluate(task, messages).reward == 1.0
                probe = r.model_copy(update={"messages": messages})
                got = asyncio.run(judge.score(task, probe)).success
                counts[f"reward==1:{gt} graph:{got}"] += 1
            print(f"  {name}: {dict(sorted(counts.items()))}\n    {why}")


if __name__ == "__main__":
    main()
