"""Tools of the hello extension (Luna-style: functions listed in TOOLS)."""

import json
from typing import Tuple

SYSTEM_PROMPT = "The user can ask for a friendly greeting."


def HELLO_GET_greeting(name: str) -> Tuple[bool, str]:
    """Greet someone by name.
    Example Prompt: say hello to Ada
    Example Response: {"greeting": "Hello, Ada!"}
    Example Args: {"name": "string"}
    """
    if not name.strip():
        return (False, "name must not be empty")
    return (True, json.dumps({"greeting": f"Hello, {name}!"}, ensure_ascii=False))


TOOLS = [HELLO_GET_greeting]
