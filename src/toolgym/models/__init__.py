"""Models: providers, retries, pricing, response cache and endpoint config.

Build a model with :func:`create_model` (one provider call per
``generate``) or :func:`build_model` (plus retries, concurrency limits and an
optional cache). Providers: ``openai/<model>`` (any OpenAI-compatible
server), ``litellm/<provider>/<model>`` (optional extra), ``scripted`` and
``oracle``.
"""

from toolgym.models._base import (
    ContextOverflowError,
    EpisodeInfo,
    Model,
    ModelConfig,
    ModelError,
    ModelResponse,
    RetryableModelError,
    TerminalModelError,
    WrappedModel,
    create_model,
    model_providers,
    register_provider,
)
from toolgym.models._cache import CachedModel, ResponseCache, cache_key
from toolgym.models._endpoints import EndpointsConfig, load_dotenv, load_endpoints, resolve_model
from toolgym.models._litellm import LiteLLMModel
from toolgym.models._openai import OpenAIModel
from toolgym.models._oracle import OracleMistake, OracleModel, OraclePlan, oracle_plan
from toolgym.models._pricing import (
    DEFAULT_PRICES,
    PRICES_AS_OF,
    Price,
    compute_cost,
    lookup_price,
    price_for_config,
)
from toolgym.models._retry import (
    EndpointPool,
    RetryingModel,
    RetryObserver,
    RetryStats,
    build_model,
    with_retries,
)
from toolgym.models._scripted import USER_STOP_TOKEN, ScriptedModel, load_script
from toolgym.models._toolparse import parse_arguments, recover_text_tool_calls

__all__ = [
    "DEFAULT_PRICES",
    "PRICES_AS_OF",
    "USER_STOP_TOKEN",
    "CachedModel",
    "ContextOverflowError",
    "EndpointPool",
    "EndpointsConfig",
    "EpisodeInfo",
    "LiteLLMModel",
    "Model",
    "ModelConfig",
    "ModelError",
    "ModelResponse",
    "OpenAIModel",
    "OracleMistake",
    "OracleModel",
    "OraclePlan",
    "Price",
    "ResponseCache",
    "RetryObserver",
    "RetryStats",
    "RetryableModelError",
    "RetryingModel",
    "ScriptedModel",
    "TerminalModelError",
    "WrappedModel",
    "build_model",
    "cache_key",
    "compute_cost",
    "create_model",
    "load_dotenv",
    "load_endpoints",
    "load_script",
    "lookup_price",
    "model_providers",
    "oracle_plan",
    "parse_arguments",
    "price_for_config",
    "recover_text_tool_calls",
    "register_provider",
    "resolve_model",
    "with_retries",
]
