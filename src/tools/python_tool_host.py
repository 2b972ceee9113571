"""Luna's Python tool host: serves an extension's Luna-style tools over MCP on stdio.

Usage: python3 luna_tool_host.py <extension_dir>

Imports every `tools/*_tools.py` of the extension, offers each callable in its `TOOLS`
list as an MCP tool (name = function name, description = docstring, input schema from
the signature, or from the matching Pydantic model when Pydantic is installed), and
speaks JSON-RPC 2.0, one message per line, on stdin/stdout. Standard library only.

A module that fails to import is fatal: the traceback goes to stderr and the host exits
with 78 (EX_CONFIG), which Luna shows as the extension's tools being misconfigured.

Calls run on worker threads, so a slow tool does not hold up pings or other calls. A
tool returning `(success, text)` becomes a text result with `isError` = not success;
any other return value is sent as JSON text; an exception is an error result.
"""

import enum
import importlib.util
import inspect
import json
import os
import sys
import threading
import traceback
import typing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

IMPORT_FAILED = 78
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
WORKERS = 8

# The protocol owns stdout; anything a tool prints goes to stderr (Luna's log).
_protocol_out = sys.stdout
sys.stdout = sys.stderr
_write_lock = threading.Lock()


def send(message):
    line = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    with _write_lock:
        _protocol_out.write(line + "\n")
        _protocol_out.flush()


def load_tools(extension_dir):
    """Imports the tools modules; returns {name: (function, module)}."""
    tools = {}
    for path in sorted((extension_dir / "tools").glob("*_tools.py")):
        module_name = f"luna_tools_{extension_dir.name}_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            print(f"luna tool host: cannot import tools/{path.name}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            sys.exit(IMPORT_FAILED)
        for function in getattr(module, "TOOLS", []):
            if callable(function):
                tools[function.__name__] = (function, module)
    return tools


# --- input schemas -------------------------------------------------------------------

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}

# Input schemas are JSON Schema 2020-12 (MCP's dialect): named object types go to `$defs`.
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def type_schema(annotation, defs):
    """The JSON schema of one parameter annotation (unknown types accept anything); named
    object types (TypedDicts, Pydantic models) are added to `defs` and referred to."""
    if annotation is inspect.Parameter.empty or annotation is typing.Any:
        return {}
    if annotation in _SIMPLE:
        return {"type": _SIMPLE[annotation]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    if typing.is_typeddict(annotation):
        return typed_dict_schema(annotation, defs)
    model_schema = pydantic_schema(annotation, defs)
    if model_schema is not None:
        return model_schema
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        options = [type_schema(arg, defs) for arg in args if arg is not type(None)]
        if type(None) in args:
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    if annotation in (list, tuple, set) or origin in (list, tuple, set):
        schema = {"type": "array"}
        if args and args[-1] is not Ellipsis:
            schema["items"] = type_schema(args[0], defs)
        return schema
    if annotation is dict or origin is dict:
        return {"type": "object"}
    return {}


def typed_dict_schema(annotation, defs):
    """A TypedDict: an object with exactly its keys (the required ones required)."""
    name = annotation.__name__
    if name not in defs:
        defs[name] = {}  # taken before its fields are described: a recursive type refers to it
        hints = typing.get_type_hints(annotation)
        required = [key for key in hints if key in getattr(annotation, "__required_keys__", hints)]
        schema = {
            "type": "object",
            "properties": {key: type_schema(hint, defs) for key, hint in hints.items()},
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        defs[name] = schema
    return {"$ref": f"#/$defs/{name}"}


def pydantic_schema(annotation, defs):
    """A Pydantic model: its own schema, with its nested models moved to the root's `$defs`."""
    try:
        from pydantic import BaseModel
    except ImportError:
        return None
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return None
    schema = closed(annotation.model_json_schema())
    defs.update(schema.pop("$defs", {}))
    defs[annotation.__name__] = schema
    return {"$ref": f"#/$defs/{annotation.__name__}"}


def closed(schema):
    """`additionalProperties: false` on every object with declared properties, `$defs` too:
    a tool takes the fields it names, no others."""
    if isinstance(schema, dict):
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            closed(value)
    elif isinstance(schema, list):
        for value in schema:
            closed(value)
    return schema


def matching_model(function, module, parameter_names):
    """The module's Pydantic model for this tool: `<function>Args`, or the one model
    whose fields are exactly the function's parameters."""
    try:
        from pydantic import BaseModel
    except ImportError:
        return None
    models = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    ]
    named = [model for model in models if model.__name__ == f"{function.__name__}Args"]
    if named:
        return named[0]
    same_fields = [model for model in models if set(model.model_fields) == set(parameter_names)]
    return same_fields[0] if len(same_fields) == 1 else None


def input_schema(function, module):
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        hints = {}
    parameters = [
        parameter
        for parameter in signature.parameters.values()
        if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    model = matching_model(function, module, [parameter.name for parameter in parameters])
    if model is not None and parameters:
        schema = closed(model.model_json_schema())
        schema.setdefault("type", "object")
        return {"$schema": SCHEMA_DIALECT, **schema}
    properties, required, defs = {}, [], {}
    for parameter in parameters:
        schema = type_schema(hints.get(parameter.name, parameter.annotation), defs)
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
        elif isinstance(parameter.default, (str, int, float, bool, type(None))):
            schema = dict(schema, default=parameter.default)
        properties[parameter.name] = schema
    schema = {"$schema": SCHEMA_DIALECT, "type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if defs:
        schema["$defs"] = defs
    return schema


def describe(name, function, module):
    return {
        "name": name,
        "description": inspect.getdoc(function) or name,
        "inputSchema": input_schema(function, module),
    }


# --- calls ---------------------------------------------------------------------------


def text_result(text, is_error=False):
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


def run_tool(function, arguments):
    try:
        value = function(**arguments)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        return text_result(f"{type(error).__name__}: {error}", is_error=True)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        success, content = value
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)
        return text_result(text, is_error=not success)
    if isinstance(value, str):
        return text_result(value)
    return text_result(json.dumps(value, ensure_ascii=False, default=str))


def system_prompts(tools):
    """The modules' `SYSTEM_PROMPT`s (what a model is told about their tools), one per module."""
    modules = {module.__name__: module for _, module in tools.values()}
    prompts = [getattr(module, "SYSTEM_PROMPT", None) for _, module in sorted(modules.items())]
    return "\n".join(prompt.strip() for prompt in prompts if isinstance(prompt, str) and prompt.strip())


def serve(tools, extension_name):
    instructions = system_prompts(tools)
    listing = [describe(name, function, module) for name, (function, module) in tools.items()]
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="tool")
    # Calls Luna cancelled (its caller went away): a Python thread cannot be stopped, but the
    # answer is not sent (MCP: a cancelled request gets none).
    cancelled = set()

    def answer_call(request_id, params):
        name = params.get("name")
        arguments = params.get("arguments") or {}
        if name not in tools:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": f"unknown tool: {name}"}})
            return
        if not isinstance(arguments, dict):
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": "arguments must be an object"}})
            return
        result = run_tool(tools[name][0], arguments)
        if request_id in cancelled:
            cancelled.discard(request_id)
            return
        send({"jsonrpc": "2.0", "id": request_id, "result": result})

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            continue
        method, request_id = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if request_id is None:
            # Notifications need no answer.
            if method == "notifications/cancelled" and "requestId" in params:
                cancelled.add(params["requestId"])
                print(f"call {params['requestId']} cancelled: {params.get('reason', 'no reason given')}", file=sys.stderr, flush=True)
            continue
        if method == "initialize":
            requested = params.get("protocolVersion")
            version = requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
            result = {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": f"luna-tool-host:{extension_name}", "version": "1"},
            }
            if instructions:
                result["instructions"] = instructions
        elif method == "ping":
            result = {}
        elif method == "tools/list":
            result = {"tools": listing}
        elif method == "tools/call":
            pool.submit(answer_call, request_id, params)
            continue
        else:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": f"method not found: {method}"}})
            continue
        send({"jsonrpc": "2.0", "id": request_id, "result": result})
    # Luna closed the channel: leave now, even if a tool is still running on a thread.
    sys.stderr.flush()
    os._exit(0)


def main():
    if len(sys.argv) != 2:
        print("usage: luna_tool_host.py <extension_dir>", file=sys.stderr)
        sys.exit(64)
    extension_dir = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(extension_dir / "tools"))
    sys.path.insert(0, str(extension_dir))
    serve(load_tools(extension_dir), extension_dir.name)


if __name__ == "__main__":
    main()
