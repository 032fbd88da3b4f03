"""The litellm provider without litellm installed."""

from __future__ import annotations

import importlib.util

import pytest

from toolgym.errors import MissingDependencyError
from toolgym.models import ModelConfig, create_model, model_providers


@pytest.mark.skipif(importlib.util.find_spec("litellm") is not None,
                    reason="litellm is installed")
def test_missing_litellm_gives_install_hint() -> None:
    assert "litellm" in model_providers()
    with pytest.raises(MissingDependencyError) as exc:
        create_model(ModelConfig(model="litellm/anthropic/claude-sonnet-4"))
    assert exc.value.package == "litellm"
    assert "pip install 'toolgym[litellm]'" in str(exc.value)
