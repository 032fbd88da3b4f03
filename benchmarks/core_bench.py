"""Core performance figures (issue: domains, tasks, environment, evaluation).

Prints, on the tau2 airline data (../shared/tau2/airline) or the built-in
airline domain when that is missing:

* reset time (fork a fresh database for a task), median and p95;
* evaluation of one finished trajectory (gold replay cached per task, as in
  a run), median and p95, plus the first (uncached) evaluation;
* ``toolgym validate`` over all tasks, wall time (in-process and as a CLI
  subprocess, including interpreter start and DB parsing).

Targets: reset median <= 5 ms; evaluation <= 20 ms; validate <= 5 s.

Run: python benchmarks/core_bench.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from toolgym.domains import load_domain
from toolgym.env import Environment
from toolgym.evaluation import Evaluator
from toolgym.evaluation._validate import validate_tasks
from toolgym.messages import Message, ToolCall

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "tau2" / "airline"


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[int(0.95 * (len(xs) - 1))]
    return f"median {statistics.median(xs) * 1e3:.3f} ms, p95 {p95 * 1e3:.3f} ms (n={len(xs)})"


def _gold_messages(domain: Any, task: Any) -> list[Message]:
    env = Environment(domain, task)
    msgs = [Message.system("policy"), Message.user("hi")]
    for i, a in enumerate(task.gold_actions):
        call = ToolCall(id=str(i), name=a.name, arguments=a.arguments)
        msgs.append(Message.assistant(tool_calls=[call]))
        msgs.append(Environment.tool_message(env.execute(call)))
    msgs.append(Message.assistant("done"))
    return msgs


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="python benchmarks/core_bench.py",
        description="Core performance figures on the tau2 airline data (../shared/tau2/airline)"
                    " or the built-in airline domain: built-in DB generation, reset, evaluation "
                    "of one trajectory, and toolgym validate over all tasks (in-process and as a"
                    " CLI subprocess). Takes no options besides --help.")


def main(argv: list[str] | None = None) -> None:
    """Print the figures."""
    _parser().parse_args(argv)
    from toolgym.domains.airline._generate import generate_airline_db
    from toolgym.domains.retail._generate import generate_retail_db

    for name, gen in (("airline", generate_airline_db), ("retail", generate_retail_db)):
        s = time.perf_counter()
        gen(0)
        print(f"built-in {name} DB generation: {(time.perf_counter() - s) * 1e3:.0f} ms")
    data_dir = SHARED if SHARED.exists() else None
    label = str(data_dir) if data_dir else "built-in airline"
    t0 = time.perf_counter()
    domain = load_domain("airline", data_dir=data_dir)
    print(f"data: {label}; load + parse: {(time.perf_counter() - t0) * 1e3:.0f} ms")

    env = Environment(domain)
    times = []
    for _ in range(3):
        for task in domain.tasks:
            s = time.perf_counter()
            env.reset(task)
            times.append(time.perf_counter() - s)
    print(f"reset: {_ms(times)}   [target: median <= 5 ms]")

    convos = [(t, _gold_messages(domain, t)) for t in domain.tasks]
    ev = Evaluator(domain)
    first = []
    for task, msgs in convos:
        s = time.perf_counter()
        ev.evaluate(task, msgs)
        first.append(time.perf_counter() - s)
    warm = []
    for _ in range(3):
        for task, msgs in convos:
            s = time.perf_counter()
            ev.evaluate(task, msgs)
            warm.append(time.perf_counter() - s)
    print(f"evaluate one trajectory (replay + gold cached per task): {_ms(warm)}   "
          "[target: <= 20 ms]")
    print(f"evaluate one trajectory, first time (gold replay included): {_ms(first)}")

    s = time.perf_counter()
    fresh = load_domain("airline", data_dir=data_dir)
    fresh.snapshot._cache = None  # measure the digest cache build too
    results = validate_tasks(fresh)
    print(f"validate {len(results)} tasks in-process (digest cache build included): "
          f"{time.perf_counter() - s:.2f} s   [target: <= 5 s]")
    cmd = [sys.executable, "-m", "toolgym", "validate", "--domain", "airline"]
    if data_dir:
        cmd += ["--data-dir", str(data_dir)]
    s = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(f"`toolgym validate` subprocess wall: {time.perf_counter() - s:.2f} s "
          f"(exit {proc.returncode}: {proc.stdout.strip()})")


if __name__ == "__main__":
    main()
