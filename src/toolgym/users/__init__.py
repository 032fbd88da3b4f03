"""User simulators: ``llm``, ``react``, ``verify``, ``reflection``, ``scripted``, ``human``.

Build one with :func:`create_user` (by registered name) or instantiate a
class directly; add your own with :func:`register_user`. See
:mod:`toolgym.users._llm` for what the user model sees and for the
confirm-then-stop mitigation.
"""

from toolgym.users._base import (
    OUT_OF_SCOPE,
    STOP,
    STOP_MARKERS,
    TRANSFER,
    UserContext,
    UserReply,
    UserSimulator,
    create_user,
    register_user,
    stop_marker,
    user_strategies,
)
from toolgym.users._human import HumanUser
from toolgym.users._llm import (
    LLMUser,
    ReActUser,
    ReflectionUser,
    VerifyUser,
    strip_premature_stop,
    user_view,
    visible_turns,
)
from toolgym.users._scripted import ScriptedUser

__all__ = [
    "OUT_OF_SCOPE",
    "STOP",
    "STOP_MARKERS",
    "TRANSFER",
    "HumanUser",
    "LLMUser",
    "ReActUser",
    "ReflectionUser",
    "ScriptedUser",
    "UserContext",
    "UserReply",
    "UserSimulator",
    "VerifyUser",
    "create_user",
    "register_user",
    "stop_marker",
    "strip_premature_stop",
    "user_strategies",
    "user_view",
    "visible_turns",
]
