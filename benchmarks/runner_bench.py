"""Rollout-engine performance figures (issue: rollout engine).

Workload: the 50 tau2 airline tasks (../shared/tau2/airline; the built-in
airline tasks when it is missing), oracle agent behaviour, scripted user.

(a) framework time per agent step, in-process (oracle provider, no latency);
(b) the same with the agent served over loopback HTTP (openai provider ->
    FakeOpenAIServer playing the gold actions);
(c) loopback HTTP with 200 ms latency per call at concurrency 10: wall time
    against the latency-bound ideal;
(d) 1,000 rollouts with an in-process simulated latency of 200 ms at
    concurrency 200: wall time against the ideal, and peak memory.

Targets: (a) <= 1 ms median; (b) <= 5 ms; (c) >= 90 %; (d) >= 90 %.

Run: python benchmarks/runner_bench.py [--only abcd] [--repeat N]  (--help for details)
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import toolgym

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "tau2" / "airline"
DATA_DIR = SHARED if SHARED.exists() else None


@contextlib.contextmanager
def _server_process(latency_ms: float) -> Iterator[str]:
    """The loopback server in its own process (as a real model server would be)."""
    cmd = [sys.executable, "-m", "toolgym.testing", "--domain", "airline",
           "--latency-ms", str(latency_ms)]
    if DATA_DIR:
        cmd += ["--data-dir", str(DATA_DIR)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait()


def _run(out: Path, **kwargs: Any) -> tuple[toolgym.RunData, float]:
    t0 = time.perf_counter()
    run = toolgym.run(domain="airline", data_dir=DATA_DIR, user="scripted", out=out, **kwargs)
    return run, time.perf_counter() - t0


def _per_step(run: toolgym.RunData, latency_s: float = 0.0) -> list[float]:
    """Per rollout: (duration - simulated model latency) / agent steps."""
    return [(r.timings.duration_s - latency_s * r.steps) / r.steps
            for r in run.results if r.steps]


def _ideal(run: toolgym.RunData, latency_s: float, concurrency: int) -> float:
    calls = [r.steps for r in run.results]
    return max(sum(calls) * latency_s / concurrency, max(calls) * latency_s)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/runner_bench.py",
        description="Rollout-engine performance figures: (a) framework time per agent step "
                    "in-process, (b) the same over loopback HTTP, (c) loopback HTTP with 200 ms "
                    "latency at concurrency 10, (d) 1,000 rollouts with 200 ms simulated "
                    "latency at concurrency 200. Run directories go to a temporary directory "
                    "that is removed afterwards.")
    parser.add_argument("--only", default="abcd", metavar="LETTERS",
                        help="which measurements to run, e.g. 'ab' (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the selected measurements N times (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the options and print the selected figures."""
    args = _parser().parse_args(argv)
    if not args.only or set(args.only) - set("abcd"):
        _parser().error(f"--only takes letters among a, b, c, d; got {args.only!r}")
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="toolgym-bench-") as tmp:
            _once(args.only, Path(tmp))


def _once(only: str, tmp: Path) -> None:
    print(f"data: {DATA_DIR or 'built-in airline'}")

    _run(tmp / "warm", agent_model="oracle", tasks="0-2")  # imports, DB parse
    domain = toolgym.load_domain("airline", data_dir=DATA_DIR)
    if "a" in only:
        _bench_a(tmp)
    if "b" in only:
        _bench_b(tmp)
    if "c" in only:
        _bench_c(tmp)
    if "d" in only:
        _bench_d(tmp, len(domain.tasks))


def _bench_a(tmp: Path) -> None:
    run, wall = _run(tmp / "a", agent_model="oracle", concurrency=1)
    steps = sum(r.steps for r in run.results)
    per = _per_step(run)
    print(f"(a) in-process: {len(run.results)} rollouts, {steps} agent steps, wall {wall:.2f} s;"
          f" per step median {statistics.median(per) * 1e3:.3f} ms, overall "
          f"{wall / steps * 1e3:.3f} ms   [target: median <= 1 ms]")


def _bench_b(tmp: Path) -> None:
    with _server_process(0) as base_url:
        model = {"model": "openai/fake-model", "base_url": base_url}
        _run(tmp / "bw", agent_model=model, tasks="0-2")
        run, wall = _run(tmp / "b", agent_model=model, concurrency=1)
        steps = sum(r.steps for r in run.results)
        per = _per_step(run)
        ok = sum(r.reward == 1.0 for r in run.results)
        calls = [m.latency_s for r in run.results for m in r.messages
                 if m.role == "assistant" and m.latency_s]
        model_s = sum(calls)
        print(f"(b) loopback HTTP: {steps} agent steps, wall {wall:.2f} s; per step median "
              f"{statistics.median(per) * 1e3:.3f} ms, overall {wall / steps * 1e3:.3f} ms "
              f"({ok}/{len(run.results)} rollouts reward 1)   [target: <= 5 ms]\n"
              f"    of which the HTTP model call (SDK + client + server): median "
              f"{statistics.median(calls) * 1e3:.3f} ms; everything else: "
              f"{(wall - model_s) / steps * 1e3:.3f} ms per step")


def _bench_c(tmp: Path) -> None:
    with _server_process(200) as base_url:
        model = {"model": "openai/fake-model", "base_url": base_url}
        run, wall = _run(tmp / "c", agent_model=model, concurrency=10)
        ideal = _ideal(run, 0.2, 10)
        print(f"(c) loopback HTTP, 200 ms latency, concurrency 10: wall {wall:.2f} s, ideal "
              f"{ideal:.2f} s -> efficiency {ideal / wall:.1%}   [target: >= 90 %]")


def _bench_d(tmp: Path, n_tasks: int) -> None:
    model = {"model": "oracle", "args": {"latency_ms": 200}}
    trials = 1000 // n_tasks
    run, wall = _run(tmp / "d", agent_model=model, concurrency=200, trials=trials)
    ideal = _ideal(run, 0.2, 200)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(d) {len(run.results)} rollouts, in-process 200 ms latency, concurrency 200: "
          f"wall {wall:.2f} s, ideal {ideal:.2f} s -> efficiency {ideal / wall:.1%}   "
          f"[target: >= 90 %]; peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
