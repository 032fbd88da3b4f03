"""End-to-end runs through the Python API and the CLI, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import toolgym
from toolgym.errors import ConfigError
from toolgym.runner import RunConfig, load_run


def _strip_times(path: Path) -> list[dict[str, object]]:
    rows = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        row.pop("timings")
        for m in row["messages"]:
            m.pop("latency_s", None)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["task_id"], r["trial"]))


def test_oracle_scores_one_on_builtin_airline(tmp_path: Path) -> None:
    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted", trials=1,
                      concurrency=8, out=tmp_path / "run")
    assert len(run.results) == len(toolgym.load_domain("airline").tasks)
    assert all(r.reward == 1.0 for r in run.results), [
        (r.task_id, r.breakdown.notes, r.termination) for r in run.results if r.reward != 1.0]
    assert run.summary["avg_reward"] == 1.0
    assert run.summary["complete"] is True
    # A run's repr is one short line (asyncio renders it when a finished task is shown).
    assert repr(run) == (f"RunData(path={str(tmp_path / 'run')!r}, domain='airline', "
                         f"rollouts={len(run.results)}, status='complete')")


def test_seeded_offline_run_is_reproducible(tmp_path: Path) -> None:
    kwargs = dict(domain="retail", agent_model={"model": "oracle",
                                                "args": {"error_rate": 0.5}},
                  user="scripted", trials=2, concurrency=4, tasks="0-7", seed=3)
    toolgym.run(out=tmp_path / "a", **kwargs)
    toolgym.run(out=tmp_path / "b", **kwargs)
    a = _strip_times(tmp_path / "a" / "results.jsonl")
    b = _strip_times(tmp_path / "b" / "results.jsonl")
    assert a == b
    rewards = [r["reward"] for r in a]
    assert 0.0 in rewards and 1.0 in rewards  # mistakes happen, and not always


def test_rerun_resumes_and_changed_config_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    toolgym.run(domain="airline", agent_model="oracle", user="scripted", trials=1,
                tasks="0-3", out=out)
    lines_before = (out / "results.jsonl").read_text().splitlines()
    # Remove one line: the rerun must run exactly that rollout again.
    (out / "results.jsonl").write_text("\n".join(lines_before[:-1]) + "\n")
    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted", trials=1,
                      tasks="0-3", out=out)
    keys = [r.key for r in run.results]
    assert len(keys) == len(set(keys)) == 4
    with pytest.raises(ConfigError, match="trials"):
        toolgym.run(domain="airline", agent_model="oracle", user="scripted", trials=2,
                    tasks="0-3", out=out)


def test_torn_last_line_is_repaired_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0-2", out=out)
    data = (out / "results.jsonl").read_bytes()
    lines = data.splitlines(keepends=True)
    (out / "results.jsonl").write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    assert len(load_run(out).results) == 2  # the torn line is ignored by readers
    run = toolgym.resume(out)
    expected = [(t.id, 0) for t in toolgym.load_domain("airline").tasks[:3]]
    assert sorted(r.key for r in run.results) == expected
    # On disk: every line whole, each (task, trial) exactly once, nothing skipped.
    on_disk = (out / "results.jsonl").read_bytes().split(b"\n")
    assert on_disk[-1] == b""
    records = [json.loads(line) for line in on_disk[:-1]]
    assert sorted((r["task_id"], r["trial"]) for r in records) == expected
    assert load_run(out).problems == []


def test_config_json_has_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret-value-123")
    cfg = {"model": "oracle", "api_key_env": "MY_KEY"}
    toolgym.run(domain="airline", agent_model=cfg, user="scripted", tasks="0", out=tmp_path / "r")
    for f in (tmp_path / "r").iterdir():
        assert "sk-secret-value-123" not in f.read_text()
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    RunConfig.model_validate(saved["config"])
    assert saved["config"]["agent"]["model"]["api_key_env"] == "MY_KEY"


def test_model_names_with_slashes_make_safe_run_dirs() -> None:
    from toolgym.runner._run import model_slug

    assert model_slug("openai/Qwen/Qwen3-32B") == "openai-Qwen-Qwen3-32B"
    assert "/" not in model_slug("a/../../b")


def test_task_selection_errors_are_clear() -> None:
    from toolgym.runner import parse_task_ranges

    assert parse_task_ranges("0-3,7") == [0, 1, 2, 3, 7]
    with pytest.raises(ConfigError, match="invalid task range"):
        parse_task_ranges("3-x")
    with pytest.raises(ConfigError, match="out of range"):
        toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="999",
                    out="unused-dir-never-created")


def test_lone_surrogates_from_a_model_do_not_lose_the_rollout(tmp_path: Path) -> None:
    from toolgym.runner._store import ResultsWriter, read_results

    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0",
                      out=tmp_path / "r")
    result = run.results[0].model_copy(deep=True)
    result.messages[-1].content = "bad \ud800 text"
    writer = ResultsWriter(tmp_path / "x.jsonl")
    writer.append(result)
    writer.close()
    (back,) = read_results(tmp_path / "x.jsonl")
    assert back.messages[-1].content is not None
    assert back.messages[-1].content.startswith("bad ") and back.task_id == result.task_id


async def test_run_inside_an_event_loop_says_to_use_run_async(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run_async"):
        toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0",
                    out=tmp_path / "r")
    from toolgym.runner import run_async

    data = await run_async(domain="airline", agent_model="oracle", user="scripted", tasks="0",
                           out=tmp_path / "r")
    assert len(data.results) == 1


def test_resume_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = (Path(toolgym.__file__).parent / "domains" / "airline" / "data" / "tasks.json")
    (tmp_path / "mine.json").write_text(json.dumps(json.loads(tasks.read_text())[:2]))
    monkeypatch.chdir(tmp_path)
    toolgym.run(domain="airline", tasks_file="mine.json", agent_model="oracle",
                user="scripted", trials=2, out="r")
    lines = (tmp_path / "r" / "results.jsonl").read_text().splitlines()
    (tmp_path / "r" / "results.jsonl").write_text(lines[0] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = toolgym.resume(tmp_path / "r")
    assert len(run.results) == 4


def test_scripted_model_script_paths_are_saved_absolute(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agent.json").write_text(json.dumps(["Hello!"]))
    toolgym.run(domain="airline", agent_model={"model": "scripted",
                                                "args": {"script": "agent.json"}},
                user="scripted", tasks="0", out="r")
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["config"]["agent"]["model"]["args"]["script"] == str(tmp_path / "agent.json")


def test_system_prompt_frames_the_policy_or_comes_from_a_file(tmp_path: Path) -> None:
    domain = toolgym.load_domain("airline")
    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0",
                      out=tmp_path / "a")
    system = run.results[0].messages[0]
    assert system.role == "system" and domain.policy.strip() in (system.content or "")
    assert (system.content or "").startswith("You are a customer-service agent.")
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Be brief. Follow the rules.")
    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0",
                      system_prompt_file=prompt, out=tmp_path / "b")
    assert run.results[0].messages[0].content == "Be brief. Follow the rules."
    prompt.write_text("Changed.")
    with pytest.raises(ConfigError, match="system_prompt_sha256"):
        toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0",
                    system_prompt_file=prompt, out=tmp_path / "b")


def test_repeated_task_selections_run_each_pair_once(tmp_path: Path) -> None:
    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted",
                      tasks="0,0,0-1", out=tmp_path / "a")
    assert sorted(r.key for r in run.results) == [("0", 0), ("1", 0)]
    assert run.summary["status"] == "complete"
    assert len((tmp_path / "a" / "results.jsonl").read_text().splitlines()) == 2
    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted",
                      task_ids=["1", "1"], out=tmp_path / "b")
    assert [r.key for r in run.results] == [("1", 0)] and run.summary["complete"]


def test_an_empty_task_selection_is_refused_not_taken_as_every_task(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--tasks is empty"):
        toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="",
                    out=tmp_path / "a")
    assert not (tmp_path / "a").exists()
