"""Prompt packs: run with another set of prompts (e.g. tau2-bench's own) than toolgym's.

See :mod:`toolgym.prompts._pack` for the pack layout and
:func:`extract_tau2` for building a pack from a local tau2-bench checkout.
"""

from toolgym.prompts._pack import (
    MANIFEST,
    PackManifest,
    PromptPack,
    PromptPackRef,
    find_prompt_pack,
    load_prompt_pack,
    scenario_text,
)
from toolgym.prompts._tau2 import TAU2_LAYOUT, Tau2Extraction, extract_tau2

__all__ = [
    "MANIFEST",
    "TAU2_LAYOUT",
    "PackManifest",
    "PromptPack",
    "PromptPackRef",
    "Tau2Extraction",
    "extract_tau2",
    "find_prompt_pack",
    "load_prompt_pack",
    "scenario_text",
]
