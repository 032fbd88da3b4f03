"""Model servers: ``toolgym serve vllm`` starts vLLM and returns once it is usable."""

from toolgym.serve._vllm import ServeError, Server, start_vllm, wait_until_ready

__all__ = ["ServeError", "Server", "start_vllm", "wait_until_ready"]
