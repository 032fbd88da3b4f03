"""Framework cost of a simulated tool call (issue: simulated tools).

Workload: the built-in assistant domain, one episode's simulator, a
``search_internet`` call after six earlier tool results (so the prompt holds a
realistic history), executed through ``Environment.execute_simulated``:

(a) ``oracle`` tool-sim, no cache: argument check, failure draw, history,
    prompt, the in-process oracle's answer, parsing;
(b) record mode, every call a miss: (a) plus the cache key and an atomic write;
(c) frozen mode, every call a hit: key, read, no model;
(d) for reference, the code tool ``calculate`` through ``Environment.execute``;
(e) a whole offline run of the domain (oracle agent, oracle tool-sim, scripted
    user): wall time and framework time per agent step.

Run: python benchmarks/simtools_bench.py [--calls N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/simtools_bench.py",
        description="Framework cost of a simulated tool call: oracle without cache, cache "
                    "miss (record), cache hit (frozen), a code tool for reference, and a whole "
                    "offline assistant run. Cache and run directories go to a temporary "
                    "directory that is removed afterwards.")
    parser.add_argument("--calls", type=int, default=400, help="calls per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="repeat each measurement")
    return parser


async def _per_call(env: Any, calls: list[Any], messages: list[Any], simulated: bool
                    ) -> list[float]:
    out = []
    for call in calls:
        t0 = time.perf_counter()
        if simulated:
            await env.execute_simulated(call, messages)
        else:
            env.execute(call)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _fmt(samples: list[float]) -> str:
    qs = statistics.quantiles(samples, n=20)
    return f"median {statistics.median(samples):.3f} ms, p95 {qs[18]:.3f} ms"


def main() -> None:
    args = _parser().parse_args()
    import toolgym
    from toolgym.env import Environment
    from toolgym.messages import Message, ToolCall
    from toolgym.models import build_model
    from toolgym.simtools import tool_simulator_factory
    from toolgym.users import UserContext, create_user

    domain = toolgym.load_domain("assistant")
    task = domain.task("multi-001")
    user = create_user("scripted", UserContext(task=task, model=None, seed=0))
    history: list[Message] = [Message.system("policy"), Message.user(task.model_extra["request"])]
    for i in range(6):
        history.append(Message.assistant(tool_calls=[ToolCall(
            id=f"h{i}", name="search_internet", arguments={"query": f"earlier {i}"})]))
        history.append(Message(role="tool", tool_call_id=f"h{i}", name="search_internet",
                               content='{"results": [{"title": "t", "url": "u", '
                                       '"snippet": "' + "fact " * 40 + '"}]}'))

    def calls(tag: str) -> list[ToolCall]:
        return [ToolCall(id=f"c{i}", name="search_internet",
                         arguments={"query": f"{tag} query number {i}"})
                for i in range(args.calls)]

    def env_for(cache_dir: Path | None, mode: str) -> Any:
        make = tool_simulator_factory(domain, build_model("oracle"), failures={"*": {}},
                                      cache_dir=cache_dir, cache_mode=mode)  # type: ignore[arg-type]
        assert make is not None
        return Environment(domain, task, make(task, 0, 0, user))

    results: dict[str, list[float]] = {k: [] for k in "abcd"}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            results["a"] += asyncio.run(_per_call(env_for(None, "off"), calls(f"a{rep}"),
                                                  history, True))
            cache = Path(tmp) / f"cache{rep}"
            batch = calls(f"b{rep}")
            results["b"] += asyncio.run(_per_call(env_for(cache, "record"), batch, history,
                                                  True))
            results["c"] += asyncio.run(_per_call(env_for(cache, "frozen"), batch, history,
                                                  True))
            code = [ToolCall(id=f"k{i}", name="calculate",
                             arguments={"expression": f"({i} + 2) * 3.5"})
                    for i in range(args.calls)]
            results["d"] += asyncio.run(_per_call(env_for(None, "off"), code, history, False))
        print(f"(a) oracle tool-sim, no cache: {_fmt(results['a'])} per simulated call")
        print(f"(b) cache miss (record: oracle + write): {_fmt(results['b'])}")
        print(f"(c) cache hit (frozen, no model): {_fmt(results['c'])}")
        print(f"(d) code tool calculate, for reference: {_fmt(results['d'])}")
        walls, per_step = [], []
        for rep in range(args.repeat):
            t0 = time.perf_counter()
            run = toolgym.run(domain="assistant", agent_model="oracle", tool_sim_model="oracle",
                              user="scripted", concurrency=8, out=Path(tmp) / f"run{rep}")
            walls.append(time.perf_counter() - t0)
            per_step += [r.timings.duration_s / r.steps * 1000 for r in run.results if r.steps]
        steps = sum(r.steps for r in run.results)
        sim_calls = run.summary["tool_sim"]["calls"]
        print(f"(e) assistant run, {len(run.results)} rollouts, {steps} agent steps, "
              f"{sim_calls} simulated calls: wall median {statistics.median(walls):.2f} s; "
              f"per step {_fmt(per_step)}")


if __name__ == "__main__":
    main()
