"""Test helpers: a loopback OpenAI-compatible server with fault injection."""

from toolgym.testing._roleplay import roleplay_responder
from toolgym.testing._server import (
    FakeOpenAIServer,
    Fault,
    RecordedRequest,
    Responder,
    oracle_responder,
    scripted_responder,
)

__all__ = [
    "FakeOpenAIServer",
    "Fault",
    "RecordedRequest",
    "Responder",
    "oracle_responder",
    "roleplay_responder",
    "scripted_responder",
]
