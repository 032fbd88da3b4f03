"""The simulated-tool options of ``toolgym run`` and ``toolgym synth requests``, offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

#: The ``cli_main`` fixture (tests/cli/conftest.py): argv -> (status, stdout, stderr).
CliMain = Callable[[list[str]], tuple[int, str, str]]

RUN = ["run", "--domain", "assistant", "--agent-model", "oracle", "--user", "scripted",
       "--display", "none", "--no-report"]


def test_the_assistant_domain_runs_with_nothing_configured(tmp_path: Path,
                                                           cli_main: CliMain) -> None:
    code, out, err = cli_main([*RUN, "--tool-sim-model", "oracle", "--tasks", "0-9",
                               "--out", str(tmp_path / "run")])
    assert code == 0, err
    assert "tool-sim: " in out and "simulated calls" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_rollouts"] == 10 and summary["judge_needed"] == 10
    assert summary["tool_sim"]["calls"] > 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["tool_sim"]["model"] == "oracle" and config["tool_failures"] is None


def test_record_then_frozen_from_the_cli(tmp_path: Path, cli_main: CliMain) -> None:
    cache = tmp_path / "cache"
    base = [*RUN, "--tasks", "20-24", "--trials", "2",
            "--tool-failures", "search_internet=none:0.2,partial:0.3", "--tool-cache",
            str(cache)]
    code, _, err = cli_main([*base, "--tool-sim-model", "oracle", "--out",
                             str(tmp_path / "rec")])
    assert code == 0, err
    code, out, err = cli_main([*base, "--tool-cache-mode", "frozen", "--out",
                               str(tmp_path / "frozen")])
    assert code == 0, err
    assert ", 0 model calls; cache " in out and " / 0 misses" in out

    def tool_texts(run: Path) -> list[str]:
        rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
        return sorted(json.dumps([m["content"] for m in row["messages"] if m["role"] == "tool"])
                      + row["task_id"] + str(row["trial"]) for row in rows)

    assert tool_texts(tmp_path / "frozen") == tool_texts(tmp_path / "rec")
    # A frozen run over tasks never recorded: every rollout ends on a clear error.
    code, out, err = cli_main([*RUN, "--tasks", "0", "--tool-cache", str(cache),
                               "--tool-cache-mode", "frozen", "--out", str(tmp_path / "miss")])
    assert code == 3
    assert "frozen tool cache" in err and "has no result for" in err


def test_bad_simulated_tool_options_are_one_line(tmp_path: Path, cli_main: CliMain) -> None:
    cases = [
        (["--tool-sim-model", "oracle", "--tool-failures", "search_internet"], 2,
         "expected TOOL=KIND:P"),
        (["--tool-sim-model", "oracle", "--tool-failures", "nope=none:0.1"], 1,
         "not a simulated tool of this domain"),
        ([], 1, "give --tool-sim-model"),
        (["--tool-sim-model", "oracle", "--tool-cache-mode", "frozen"], 2, "needs tool_cache_dir"),
        (["--tool-sim-model", "oracle", "--tool-cache-mode", "sometimes", "--tool-cache",
          str(tmp_path)], 2, "tool_cache_mode"),
    ]
    for extra, status, message in cases:
        code, _, err = cli_main([*RUN, *extra, "--out", str(tmp_path / "x")])
        assert code == status, (extra, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli_main(["run", "--domain", "airline", "--tool-sim-model", "oracle",
                             "--display", "none", "--out", str(tmp_path / "y")])
    assert code == 1 and "has no simulated tools" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_endpoints_check_lists_the_tool_sim_role(cli_main: CliMain) -> None:
    code, out, _ = cli_main(["endpoints", "check", "--domain", "assistant",
                             "--tool-sim-model", "oracle"])
    assert code == 0 and "tool-sim endpoint" in out


def test_synth_requests_writes_a_runnable_request_file(tmp_path: Path,
                                                       cli_main: CliMain) -> None:
    topics = tmp_path / "topics.txt"
    topics.write_text("# topics\nbirds\n\nbridges\nbirds\n")
    out_file = tmp_path / "requests.json"
    code, out, err = cli_main(["synth", "requests", "--domain", "assistant", "--single-step",
                               "4", "--multi-step", "6x3", "--topics", str(topics),
                               "--generator-model", "oracle", "--batch-size", "3",
                               "--out", str(out_file)])
    assert code == 0, err
    assert "wrote 10 requests" in out and "4 single-step, 6 multi-step" in out
    data = json.loads(out_file.read_text())
    assert data["meta"]["generated"] == {"single": 4, "multi": 6}
    assert data["meta"]["generator"] == "oracle" and data["meta"]["multi_steps"] == 3
    assert {r["topic"] for r in data["requests"]} <= {"birds", "bridges"}
    assert all(len(r["intended_steps"]) == (1 if r["kind"] == "single" else 3)
               for r in data["requests"])
    code, _, err = cli_main(["validate", "--domain", "assistant", "--tasks-file",
                             str(out_file)])
    assert code == 0, err
    code, _, err = cli_main([*RUN, "--tasks-file", str(out_file), "--tool-sim-model",
                             "oracle", "--out", str(tmp_path / "run")])
    assert code == 0, err
    rows = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(rows) == 10


def test_synth_requests_usage_errors(tmp_path: Path, cli_main: CliMain) -> None:
    base = ["synth", "requests", "--generator-model", "oracle", "--out", str(tmp_path / "r.json")]
    code, _, err = cli_main(base)
    assert code == 2 and "nothing to generate" in err
    code, _, err = cli_main([*base, "--multi-step", "5x"])
    assert code == 1 and "--multi-step" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    code, _, err = cli_main([*base, "--single-step", "2", "--topics", str(empty)])
    assert code == 1 and "no topics" in err
    code, _, err = cli_main([*base, "--single-step", "2", "--domain", "airline"])
    assert code == 1 and "ships no topics" in err
    assert not (tmp_path / "r.json").exists()


def test_resume_reconnects_the_tool_sim_role(tmp_path: Path, cli_main: CliMain) -> None:
    out = tmp_path / "run"
    code, _, err = cli_main([*RUN, "--tool-sim-model", "oracle", "--tasks", "0",
                             "--out", str(out)])
    assert code == 0, err
    code, _, err = cli_main(["resume", str(out), "--tool-sim-arg", "timeout_s=200",
                             "--display", "none", "--no-report"])
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["tool_sim"]["timeout_s"] == 200
    code, _, err = cli_main(["resume", str(out), "--tool-sim-arg", "temperature=0",
                             "--display", "none"])
    assert code == 2 and "--tool-sim-arg temperature: a resume changes only client" in err
