"""toolgym optimize starts from the texts a run with a prompt pack sends, not toolgym's."""

from __future__ import annotations

from pathlib import Path

import toolgym
from toolgym.optimize import OptimizeConfig, optimize, resolve_splits
from toolgym.optimize._evaluate import Evaluator, Ledger
from toolgym.prompts import extract_tau2, load_prompt_pack
from toolgym.runner._api import build_config


def _config(data_dir: Path, pack_dir: Path, components: list[str]) -> OptimizeConfig:
    domain = toolgym.load_domain("airline", data_dir=data_dir)
    train, val, test = resolve_splits(domain, train_split="train", test_split="test",
                                      val_frac=0.3)
    run = build_config("airline", agent_model="oracle", data_dir=data_dir,
                       prompt_pack=pack_dir)
    return OptimizeConfig(run=run, components=components, train_ids=train, val_ids=val,
                          test_ids=test, budget=50,
                          reflection={"model": "oracle", "args": {"role": "reflection"}})


def test_the_seed_candidate_is_the_packs_prompt_and_tool_texts(
        tau2_standin: Path, tmp_path: Path, tau2_airline_dir: Path) -> None:
    pack_dir = tmp_path / "pack"
    extract_tau2(tau2_standin, pack_dir)
    pack = load_prompt_pack(pack_dir)
    domain = toolgym.load_domain("airline", data_dir=tau2_airline_dir)
    cfg = _config(tau2_airline_dir, pack_dir, ["system_prompt", "tool:get_user_details"])
    seed = optimize(cfg, tmp_path / "opt", dry_run=True, log=lambda s: None).best_candidate

    assert seed["system_prompt"] == pack.agent_system_prompt(domain.policy)
    pack_tools = {t["function"]["name"]: t["function"]["description"]
                  for t in pack.tools_for("airline") or []}
    assert seed["tool:get_user_details"] == pack_tools["get_user_details"]
    own = {t["function"]["name"]: t["function"]["description"] for t in domain.openai_tools()}
    assert seed["tool:get_user_details"] != own["get_user_details"]


def test_an_optimized_policy_is_framed_by_the_packs_agent_prompt(
        tau2_standin: Path, tmp_path: Path, tau2_airline_dir: Path) -> None:
    pack_dir = tmp_path / "pack"
    extract_tau2(tau2_standin, pack_dir)
    pack = load_prompt_pack(pack_dir)
    cfg = _config(tau2_airline_dir, pack_dir, ["policy"])
    evaluator = Evaluator(cfg.run, tmp_path / "opt", 1, "reward", None, Ledger())
    run = evaluator.config_for({"policy": "Only ever help with baggage."}, ["0"], 1)
    assert run.agent.system_prompt_file is not None
    sent = Path(run.agent.system_prompt_file).read_text(encoding="utf-8")
    assert sent == pack.agent_system_prompt("Only ever help with baggage.")
