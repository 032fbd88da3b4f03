"""Ray executor throughput against the local executor, on a latency endpoint.

The loopback OpenAI-compatible server runs in its own process (as a real
model server would) with a fixed latency per call; the agent talks to it over
HTTP, the user is scripted. The same rollouts run with the local executor and
with the Ray executor at 1, 2 and 4 workers, at high concurrency; the script
prints wall time, rollouts per second and model calls per second for each,
and the latency-bound ideal.

    python benchmarks/ray_bench.py [--rollouts 200] [--latency-ms 200] [--concurrency 64]

Needs ``pip install 'toolgym[ray]'``. On a machine with few cores, more
workers than cores cannot help: the figures say how far one process goes and
what spreading costs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import toolgym


@contextlib.contextmanager
def _server(latency_ms: float) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "toolgym.testing", "--domain", "airline",
                             "--latency-ms", str(latency_ms)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/ray_bench.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=200, help="rollouts per configuration")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="latency per call")
    parser.add_argument("--concurrency", type=int, default=64, help="rollouts in flight")
    parser.add_argument("--workers", default="1,2,4", help="Ray worker counts")
    args = parser.parse_args()
    try:
        import ray
    except ImportError:
        sys.exit("needs ray: pip install 'toolgym[ray]'")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    domain = toolgym.load_domain("airline")
    n_tasks = len(domain.tasks)
    trials = max(1, -(-args.rollouts // n_tasks))
    with _server(args.latency_ms) as url, tempfile.TemporaryDirectory() as tmp:
        model = {"model": "openai/fake-model", "base_url": url}
        configs = [("local", None)] + [("ray", int(w)) for w in args.workers.split(",")]
        ray.init(num_cpus=max(int(w) for w in args.workers.split(",")),
                 include_dashboard=False, log_to_driver=False)
        print(f"{n_tasks * trials} rollouts, {args.latency_ms:g} ms per model call, "
              f"concurrency {args.concurrency}, {os.cpu_count()} CPUs")
        print(f"{'executor':<12} {'wall s':>8} {'rollouts/s':>11} {'calls/s':>9} {'of ideal':>9}")
        for i, (executor, workers) in enumerate(configs):
            kwargs = {"executor": executor, "ray_workers": workers or 1}
            t0 = time.perf_counter()
            run = toolgym.run(domain="airline", agent_model=model, user="scripted",
                              trials=trials, concurrency=args.concurrency,
                              out=Path(tmp) / f"r{i}", preflight=i == 0, **kwargs)
            wall = time.perf_counter() - t0
            calls = sum(r.usage["agent"].calls for r in run.results)
            steps = [r.steps for r in run.results]
            ideal = max(sum(steps) * args.latency_ms / 1000 / args.concurrency,
                        max(steps) * args.latency_ms / 1000)
            label = executor if workers is None else f"ray x{workers}"
            print(f"{label:<12} {wall:>8.2f} {len(run.results) / wall:>11.1f} "
                  f"{calls / wall:>9.1f} {ideal / wall:>8.0%}", flush=True)
        ray.shutdown()


if __name__ == "__main__":
    main()
