"""Scale-out without a cluster: shards and merge, sweeps, Slurm scripts, vLLM readiness."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.errors import ConfigError
from toolgym.runner._shard import merge_runs, parse_shard, shard_from_env, shard_pairs

cli = CliRunner()


def test_shards_are_disjoint_and_cover_the_run() -> None:
    tasks = list("abcdefg")
    pairs = shard_pairs(tasks, 3, None)
    shards = [shard_pairs(tasks, 3, f"{i}/4") for i in range(4)]
    assert sorted(p for s in shards for p in s) == sorted(pairs)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert shard_from_env({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "8"}) == "5/8"
    assert shard_from_env({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "4",
                           "SLURM_ARRAY_TASK_MIN": "4"}) == "3/4"
    assert shard_from_env({}) is None
    for bad in ("4/4", "1", "-1/3", "a/b"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


def test_sharded_then_merged_equals_unsharded(tmp_path: Path) -> None:
    common = dict(domain="airline", agent_model={"model": "oracle", "args": {"error_rate": 0.4}},
                  tasks="0-9", trials=2, seed=3)
    whole = toolgym.run(out=tmp_path / "whole", **common)
    for i in range(3):
        res = cli.invoke(app, ["run", "--agent-arg", "error_rate=0.4", "--tasks", "0-9",
                               "--trials", "2", "--seed", "3", "--shard", f"{i}/3",
                               "--display", "none", "--no-report", "--out",
                               str(tmp_path / f"s{i}")])
        assert res.exit_code == 0, res.output
    sizes = [len(toolgym.load_run(tmp_path / f"s{i}").results) for i in range(3)]
    assert sorted(sizes) == [6, 7, 7]
    res = cli.invoke(app, ["merge", *(str(tmp_path / f"s{i}") for i in range(3)), "--out",
                           str(tmp_path / "merged")])
    assert res.exit_code == 0, res.output
    merged = toolgym.load_run(tmp_path / "merged")
    for key in ("avg_reward", "pass_k", "pass1_ci", "n_rollouts", "terminations"):
        assert merged.summary[key] == whole.summary[key], key
    assert merged.summary["status"] == "complete"
    assert sorted(r.key for r in merged.results) == sorted(r.key for r in whole.results)
    # A missing shard is reported, and another run's shard refused.
    report = merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "partial")
    assert len(report.missing) == sizes[2] and report.summary["status"] == "interrupted"
    toolgym.run(out=tmp_path / "other", **{**common, "seed": 4, "shard": "0/3"})
    with pytest.raises(ConfigError, match="not a shard of the same run"):
        merge_runs([tmp_path / "s0", tmp_path / "other"], tmp_path / "bad")


def test_slurm_array_environment_picks_the_shard(tmp_path: Path) -> None:
    res = cli.invoke(app, ["run", "--tasks", "0-4", "--display", "none", "--no-report",
                           "--out", str(tmp_path / "r")],
                     env={"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2"})
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["config"]["shard"] == "1/2"
    assert len(toolgym.load_run(tmp_path / "r").results) == 2


SWEEP = """
[sweep]
out = "runs"

[base]
domain = "airline"
user = "scripted"
tasks = "0-3"

[grid]
agent_model = ["oracle", "flaky"]
agent_model_args = [{{}}, {{ error_rate = 0.5 }}]

[endpoints.flaky]
model = "oracle"
args = {{ error_rate = 0.9 }}

[serve.big]
model = "Org/Big-Model"
port = 8007

[endpoints.big]
model = "openai/Org/Big-Model"
base_url_file = "{urls}/big.url"
"""


def test_a_sweep_runs_every_configuration_and_reports(tmp_path: Path) -> None:
    f = tmp_path / "sweep.toml"
    f.write_text(SWEEP.format(urls=tmp_path / "urls"))
    res = cli.invoke(app, ["sweep", str(f), "--shard", "0/2"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    res = cli.invoke(app, ["sweep", str(f), "--shard", "1/2"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == ["agent_model=flaky__agent_model_args=error_rate-0.5",
                     "agent_model=flaky__agent_model_args=none",
                     "agent_model=oracle__agent_model_args=error_rate-0.5",
                     "agent_model=oracle__agent_model_args=none"]
    assert "4 configurations" not in res.stdout and "2 of 4 run here" in res.stdout
    assert res.stdout.count("complete") == 4
    cfg = json.loads((tmp_path / "runs" / names[1] / "config.json").read_text())
    assert cfg["config"]["agent"]["model"]["args"] == {"error_rate": 0.9}  # the alias
    res = cli.invoke(app, ["sweep", "report", str(f), "-o", str(tmp_path / "s.html")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "s.html").read_text()
    assert all(n in html for n in names)


def test_slurm_scripts_render_and_parse(tmp_path: Path) -> None:
    f = tmp_path / "sweep.toml"
    f.write_text(SWEEP.format(urls=tmp_path / "urls"))
    res = cli.invoke(app, ["slurm", "render", str(f), "--out", str(tmp_path / "slurm")])
    assert res.exit_code == 0, res.output
    scripts = ["server_big.sbatch", "sweep.sbatch", "submit.sh"]
    for name in scripts:
        proc = subprocess.run(["bash", "-n", str(tmp_path / "slurm" / name)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, (name, proc.stderr)
    sweep = (tmp_path / "slurm" / "sweep.sbatch").read_text()
    assert "#SBATCH --array=0-3" in sweep and f"toolgym sweep {f}" in sweep
    assert "--wait-only --model Org/Big-Model" in sweep
    server = (tmp_path / "slurm" / "server_big.sbatch").read_text()
    assert "--url-file " + str(tmp_path / "urls" / "big.url") in server
    # Edited templates are kept and used.
    tmpl = tmp_path / "slurm" / "templates" / "sweep.sbatch.tmpl"
    tmpl.write_text(tmpl.read_text().replace("--partition=${partition}", "--partition=mine"))
    cli.invoke(app, ["slurm", "render", str(f), "--out", str(tmp_path / "slurm")])
    assert "--partition=mine" in (tmp_path / "slurm" / "sweep.sbatch").read_text()
    tmpl.write_text("${nope}")
    res = cli.invoke(app, ["slurm", "render", str(f), "--out", str(tmp_path / "slurm")])
    assert res.exit_code == 1 and "unknown placeholder ${nope}" in res.stderr


# ------------------------------------------------------------ serve vllm

STAND_IN = """#!{python}
# A stand-in `vllm` executable: `vllm serve MODEL --port P ...` starts the loopback server.
import os, sys, time
args = sys.argv[1:]
model = args[1]
port = int(args[args.index("--port") + 1])
mode = os.environ.get("FAKE_VLLM_MODE", "ready")
print("starting vllm stand-in", mode, flush=True)
if mode == "crash":
    print("CUDA out of memory", flush=True)
    sys.exit(1)
if mode == "never":
    time.sleep(600)
time.sleep(float(os.environ.get("FAKE_VLLM_DELAY", "0.5")))
from toolgym.testing import FakeOpenAIServer
name = model if mode != "wrong" else "other-model"
with FakeOpenAIServer(script=["OK"], model_name=name, port=port) as s:
    print("serving", s.base_url, flush=True)
    time.sleep(600)
"""


@pytest.fixture
def fake_vllm(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "vllm"
    exe.write_text(STAND_IN.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(tmp_path: Path, env: dict[str, str], mode: str, *extra: str
           ) -> subprocess.CompletedProcess[str]:
    port = _free_port()
    return subprocess.run(
        [sys.executable, "-m", "toolgym", "serve", "vllm", "--model", "org/m", "--port",
         str(port), "--log", str(tmp_path / "v.log"), "--poll", "0.2", "--timeout", "20",
         "--url-file", str(tmp_path / "url"), *extra],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, **env, "FAKE_VLLM_MODE": mode})


def test_serve_vllm_returns_when_ready(tmp_path: Path, fake_vllm: dict[str, str]) -> None:
    proc = _serve(tmp_path, fake_vllm, "ready")
    try:
        assert proc.returncode == 0, proc.stderr
        url = proc.stdout.strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert (tmp_path / "url").read_text().strip() == url
        assert "ready in" in proc.stderr
        res = cli.invoke(app, ["serve", "vllm", "--wait-only", "--model", "org/m",
                               "--base-url", url, "--timeout", "5", "--poll", "0.1"])
        assert res.exit_code == 0 and res.stdout.strip() == url
    finally:
        pid = int(proc.stderr.split("(pid ")[1].split(")")[0]) if "(pid " in proc.stderr \
            else None
        if pid:
            os.kill(pid, 9)


def test_serve_vllm_failures_show_the_log(tmp_path: Path, fake_vllm: dict[str, str]) -> None:
    crash = _serve(tmp_path, fake_vllm, "crash")
    assert crash.returncode == 1 and "exited with status 1" in crash.stderr
    assert "CUDA out of memory" in crash.stderr  # the log's last lines
    never = _serve(tmp_path, fake_vllm, "never", "--timeout", "2")
    assert never.returncode == 1 and "was not ready after 2 s: not answering" in never.stderr
    wrong = _serve(tmp_path, fake_vllm, "wrong", "--timeout", "4")
    assert wrong.returncode == 1 and "serves other-model, not 'org/m'" in wrong.stderr


def test_serve_vllm_without_vllm_says_how_to_install(tmp_path: Path) -> None:
    res = cli.invoke(app, ["serve", "vllm", "--model", "m"], env={"PATH": str(tmp_path)})
    assert res.exit_code == 1 and "pip install vllm" in res.stderr
