"""One `toolgym run` process, measured from the outside (issue: scale-out).

Workload: the 50 tau2 airline tasks (../shared/tau2/airline; the built-in
airline tasks when it is missing), the agent served over loopback HTTP by a
server that replays the gold actions with 200 ms per call, scripted user,
concurrency 10. The server runs in this process (its threads), `toolgym run`
in a child process, so the child's CPU is toolgym's alone.

Figures:
- start-up: process start to the first request the server sees (the
  preflight's, by default) and to the first rollout request;
- framework CPU per model call: (child CPU of the whole run - child CPU of a
  one-task run) / (model calls of the whole run - those of the one-task run),
  so start-up and data loading cancel out;
- whole-process efficiency: the latency-bound ideal (max of total calls x
  200 ms / concurrency and the longest rollout's calls x 200 ms) over the
  child's wall time, start-up and exit included.

Targets (issue): start-up <= 0.3 s, <= 2 ms of CPU per call, >= 95 % of the
ideal.

Run: python benchmarks/process_bench.py [--repeat N] [--latency-ms MS]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import toolgym
from toolgym.testing import FakeOpenAIServer, roleplay_responder

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "tau2" / "airline"
DATA_DIR = SHARED if SHARED.exists() else None
CONCURRENCY = 10


def _child(server: FakeOpenAIServer, out: Path, tasks: str | None, preflight: bool
           ) -> dict[str, Any]:
    """Run `toolgym run` in a child process; its wall, CPU and first-request times."""
    cmd = [sys.executable, "-m", "toolgym", "run", "--domain", "airline", "--agent-model",
           "openai/fake-model", "--agent-base-url", server.base_url, "--user", "scripted",
           "--concurrency", str(CONCURRENCY), "--display", "none", "--no-report",
           "--out", str(out)]
    if DATA_DIR:
        cmd += ["--data-dir", str(DATA_DIR)]
    if tasks:
        cmd += ["--tasks", tasks]
    if not preflight:
        cmd.append("--no-preflight")
    seen = len(server.requests)
    # Bytecode caching as on a user's machine (some sandboxes turn it off, which
    # recompiles every toolgym module at each start); the warm-up run writes it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NO_COLOR"] = "1"
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        assert proc.stderr is not None
        sys.exit(f"toolgym run failed ({proc.returncode}): {proc.stderr.read().decode()}")
    requests = server.requests[seen:]
    chats = [r for r in requests if r.path.endswith("/chat/completions")
             and not any(k.lower() == "x-toolgym-preflight" and v == "1"
                        for k, v in r.headers.items())]
    run = toolgym.load_run(out)
    steps = [r.steps for r in run.results]
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "first_request": requests[0].at - t0 if requests else float("nan"),
            "first_rollout_request": chats[0].at - t0 if chats else float("nan"),
            "calls": len(chats), "steps": steps,
            "rewards": sum(r.reward == 1.0 for r in run.results), "rollouts": len(steps)}


def _once(server: FakeOpenAIServer, tmp: Path, latency_s: float) -> dict[str, float]:
    full = _child(server, tmp / "full", None, preflight=True)
    bare = _child(server, tmp / "bare", None, preflight=False)
    one = _child(server, tmp / "one", "0", preflight=False)
    steps = full["steps"]
    ideal = max(sum(steps) * latency_s / CONCURRENCY, max(steps) * latency_s)
    cpu_per_call = (bare["cpu"] - one["cpu"]) / (bare["calls"] - one["calls"])
    return {"startup_first_request": full["first_request"],
            "startup_first_rollout_request": full["first_rollout_request"],
            "startup_no_preflight": bare["first_rollout_request"],
            "cpu_per_call_ms": cpu_per_call * 1e3, "wall": full["wall"], "ideal": ideal,
            "efficiency": ideal / full["wall"], "efficiency_no_preflight": ideal / bare["wall"],
            "calls": full["calls"], "rollouts": full["rollouts"], "rewards": full["rewards"],
            "child_cpu": full["cpu"]}


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run the measurements, print the figures."""
    parser = argparse.ArgumentParser(prog="python benchmarks/process_bench.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="measurements to take; medians are printed (default: %(default)s)")
    parser.add_argument("--latency-ms", type=float, default=200.0, metavar="MS",
                        help="server latency per call (default: %(default)s)")
    args = parser.parse_args(argv)
    domain = toolgym.load_domain("airline", data_dir=DATA_DIR)
    figures: list[dict[str, float]] = []
    with FakeOpenAIServer(roleplay_responder(domain.tasks), latency_ms=args.latency_ms) as srv:
        with tempfile.TemporaryDirectory(prefix="toolgym-bench-") as tmp:
            _child(srv, Path(tmp) / "warm", "0", preflight=False)  # bytecode, page cache
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="toolgym-bench-") as tmp:
                figures.append(_once(srv, Path(tmp), args.latency_ms / 1000.0))

    def med(key: str) -> float:
        return statistics.median(f[key] for f in figures)

    f = figures[-1]
    print(f"data: {DATA_DIR or 'built-in airline'}; {f['rollouts']:.0f} rollouts, "
          f"{f['calls']:.0f} agent calls, {f['rewards']:.0f} reward 1; "
          f"{args.latency_ms:.0f} ms per call, concurrency {CONCURRENCY}; "
          f"medians of {len(figures)}")
    print(f"start-up to the first request: {med('startup_first_request'):.3f} s (preflight), "
          f"to the first rollout request {med('startup_first_rollout_request'):.3f} s; "
          f"with --no-preflight {med('startup_no_preflight'):.3f} s   [target: <= 0.3 s]")
    print(f"framework CPU per model call: {med('cpu_per_call_ms'):.2f} ms   "
          f"[target: <= 2 ms]")
    print(f"whole process: wall {med('wall'):.2f} s, ideal {med('ideal'):.2f} s -> "
          f"{med('efficiency'):.1%} ({med('efficiency_no_preflight'):.1%} with "
          f"--no-preflight)   [target: >= 95 %]")
    print(json.dumps({k: round(med(k), 4) for k in figures[0]}, sort_keys=True))


if __name__ == "__main__":
    main()
