"""Luna's Python tool host: serves an extension's Luna-style tools over MCP on stdio.

Usage: python3 luna_tool_host.py <extension_dir>

Imports every `tools/*_tools.py` of the extension, offers each callable in its `TOOLS`
list as an MCP tool (name = function name, description = docstring, input schema from
the signature, or from the matching Pydantic model when Pydantic is installed), and
speaks JSON-RPC 2.0, one message per line, on stdin/stdout. Standard library only.

A module that fails to import is fatal: the traceback goes to stderr and the host exits
with 78 (EX_CONFIG), which Luna shows as the extension's tools being misconfigured.

Calls run on worker threads, so a slow tool does not hold up pings or other calls. A
tool returning `(success, text)` becomes a text result with `isError` = not success; an
`Image`, `Audio`, `Resource` or `bytes` (or a list of them and strings) becomes those MCP
content blocks; any other return value is sent as JSON text; an exception is an error result.

Tool modules import this host as `luna_tools`. A parameter annotated `luna_tools.Context`
is not part of the input schema: it receives the call's `Context`, which reports progress,
sends log messages, and asks the client (Luna, which relays to the MCP client whose call
this is) for sampling and elicitation.
"""

import base64
import dataclasses
import enum
import importlib.util
import inspect
import itertools
import json
import os
import queue
import sys
import threading
import traceback
import typing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

IMPORT_FAILED = 78
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
WORKERS = 8
# How long a tool waits for the client to answer a sampling or elicitation request.
REQUEST_TIMEOUT = 300
# MCP's log levels (RFC 5424's), least severe first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

# The protocol owns stdout; anything a tool prints goes to stderr (Luna's log).
_protocol_out = sys.stdout
sys.stdout = sys.stderr
_write_lock = threading.Lock()


def send(message):
    line = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    with _write_lock:
        _protocol_out.write(line + "\n")
        _protocol_out.flush()


# --- what tools import from `luna_tools` ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class Image:
    """A tool result: an image, as raw bytes (the host encodes them)."""

    data: bytes
    mime_type: str = "image/png"


@dataclasses.dataclass(frozen=True)
class Audio:
    """A tool result: an audio clip, as raw bytes (the host encodes them)."""

    data: bytes
    mime_type: str = "audio/wav"


@dataclasses.dataclass(frozen=True)
class Resource:
    """A tool result: an embedded resource, its `text` or its `blob` (raw bytes) under `uri`.
    Without a MIME type, text is `text/plain` and a blob `application/octet-stream`."""

    uri: str
    text: typing.Optional[str] = None
    blob: typing.Optional[bytes] = None
    mime_type: typing.Optional[str] = None

    def __post_init__(self):
        # MCP's resource contents are either text or a blob, never both or neither.
        if (self.text is None) == (self.blob is None):
            raise ValueError("a Resource needs exactly one of text and blob")


class Context:
    """What a tool can do while its call runs, for a parameter annotated `Context`.

    Its methods may be called from any thread of the tool. `cancelled` turns true when Luna
    cancels the call: a long tool can check it and stop early (nothing stops it otherwise).
    """

    def __init__(self, client, progress_token):
        self._client = client
        self._progress_token = progress_token
        self.cancelled = False

    def report_progress(self, progress, total=None, message=None):
        """Sends `notifications/progress`, if the caller asked for progress (gave a token)."""
        if self._progress_token is None:
            return
        params = {"progressToken": self._progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    def log(self, level, data, logger=None):
        """Sends `notifications/message` at `level` (one of LOG_LEVELS), unless the client
        asked (logging/setLevel) for more severe messages only. `data` is any JSON value."""
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
        if LOG_LEVELS.index(level) < LOG_LEVELS.index(self._client.log_level):
            return
        params = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})

    def debug(self, data, logger=None):
        self.log("debug", data, logger)

    def info(self, data, logger=None):
        self.log("info", data, logger)

    def notice(self, data, logger=None):
        self.log("notice", data, logger)

    def warning(self, data, logger=None):
        self.log("warning", data, logger)

    def error(self, data, logger=None):
        self.log("error", data, logger)

    def sample(self, prompt_or_messages, max_tokens=1000, system_prompt=None):
        """Asks the client's model (`sampling/createMessage`) and returns the text of its reply.

        A str is one user message; a list holds `{"role": "user"|"assistant", "content": ...}`
        messages whose content is a str (a text block) or an MCP content block. Blocks until
        the answer; the client's refusal raises RuntimeError with its message."""
        params = {"messages": sampling_messages(prompt_or_messages), "maxTokens": max_tokens}
        if system_prompt is not None:
            params["systemPrompt"] = system_prompt
        return reply_text(self._client.request(self, "sampling/createMessage", params))

    def elicit(self, message, requested_schema):
        """Asks the user (`elicitation/create`, form mode) to fill in `requested_schema` (an
        object of primitive properties); returns the client's result: `{"action": "accept"|
        "decline"|"cancel", "content": {...}}`. Blocks like `sample`."""
        params = {"message": message, "requestedSchema": requested_schema}
        return self._client.request(self, "elicitation/create", params)


def sampling_messages(prompt_or_messages):
    """`sample`'s argument as MCP sampling messages."""
    if isinstance(prompt_or_messages, str):
        prompt_or_messages = [{"role": "user", "content": prompt_or_messages}]
    return [
        dict(message, content={"type": "text", "text": message["content"]})
        if isinstance(message.get("content"), str)
        else message
        for message in prompt_or_messages
    ]


def reply_text(result):
    """The text of a sampling answer, whose content is one block or (2025-11-25) a list."""
    content = result.get("content") if isinstance(result, dict) else None
    blocks = content if isinstance(content, list) else [content]
    return "".join(block["text"] for block in blocks if isinstance(block, dict) and block.get("type") == "text")


class Client:
    """The host's client, Luna: the log level it asked for, and the requests the host sent it
    that wait for an answer (each with the call it is for, so cancelling the call ends them)."""

    def __init__(self):
        self.log_level = LOG_LEVELS[0]  # everything, until logging/setLevel says otherwise
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._waiting = {}  # request id -> (Context of the call, queue the answer goes to)

    def request(self, call, method, params):
        """Sends a request to the client and blocks this worker thread until it is answered
        (the stdin loop hands the answer over), the call is cancelled, or REQUEST_TIMEOUT."""
        answer = queue.SimpleQueue()
        with self._lock:
            if call.cancelled:
                raise RuntimeError("the tool call was cancelled")
            # Ids of the host's own, which cannot be mistaken for Luna's (numbers).
            request_id = f"host-{next(self._ids)}"
            self._waiting[request_id] = (call, answer)
        try:
            send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            try:
                result, error = answer.get(timeout=REQUEST_TIMEOUT)
            except queue.Empty:
                self._give_up([request_id], f"the client did not answer {method} within {REQUEST_TIMEOUT} s")
                result, error = answer.get()  # that reason, or an answer that came just before it
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)  # still there only if sending failed
        if error is not None:
            raise RuntimeError(error)
        return result

    def answered(self, message):
        """A response from the client: to the thread waiting for it."""
        with self._lock:
            waiting = self._waiting.pop(message.get("id"), None)
        if waiting is None:
            print(f"answer to {message.get('id')!r}, which no longer waits", file=sys.stderr, flush=True)
            return
        if "error" in message:
            error = message["error"]
            waiting[1].put((None, str(error.get("message") if isinstance(error, dict) else error)))
        else:
            waiting[1].put((message.get("result"), None))

    def cancel(self, call):
        """Luna cancelled `call`: its waiting requests give up, and later ones are refused."""
        with self._lock:
            call.cancelled = True
            given_up = [request_id for request_id, (owner, _) in self._waiting.items() if owner is call]
        self._give_up(given_up, "the tool call was cancelled")

    def _give_up(self, request_ids, reason):
        """Stops waiting for these requests: their threads get `reason` as the error, and the
        client is told (`notifications/cancelled`), so it stops asking its user or model."""
        for request_id in request_ids:
            with self._lock:
                waiting = self._waiting.pop(request_id, None)
            if waiting is None:
                continue  # answered meanwhile
            params = {"requestId": request_id, "reason": reason}
            send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params})
            waiting[1].put((None, reason))


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


def named_parameters(function):
    """The tool's named parameters (not *args, **kwargs), each with its resolved annotation."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        hints = {}
    return [
        (parameter, hints.get(parameter.name, parameter.annotation))
        for parameter in inspect.signature(function).parameters.values()
        if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def context_parameter(function):
    """The name of the tool's parameter annotated `Context`, if it takes one."""
    return next((parameter.name for parameter, hint in named_parameters(function) if hint is Context), None)


def input_schema(function, module):
    # The Context parameter is the host's to fill, never the caller's.
    parameters = [(parameter, hint) for parameter, hint in named_parameters(function) if hint is not Context]
    model = matching_model(function, module, [parameter.name for parameter, _ in parameters])
    if model is not None and parameters:
        schema = closed(model.model_json_schema())
        schema.setdefault("type", "object")
        return {"$schema": SCHEMA_DIALECT, **schema}
    properties, required, defs = {}, [], {}
    for parameter, hint in parameters:
        schema = type_schema(hint, defs)
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


def as_json(value):
    return json.dumps(value, ensure_ascii=False, default=str)


# What a tool may return (alone or in a list with strings) to get content blocks other than text.
RICH = (Image, Audio, Resource, bytes, bytearray)


def run_tool(name, function, arguments):
    try:
        return tool_result(name, function(**arguments))
    except Exception as error:
        # Also when the value cannot be turned into a result: the caller gets an answer.
        traceback.print_exc(file=sys.stderr)
        return text_result(f"{type(error).__name__}: {error}", is_error=True)


def tool_result(name, value):
    """A tool's return value as an MCP tool result."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        success, content = value
        return text_result(content if isinstance(content, str) else as_json(content), is_error=not success)
    if isinstance(value, str):
        return text_result(value)
    if isinstance(value, RICH):
        value = [value]
    # A list of plain values (strings included) stays JSON, as it always was.
    if isinstance(value, list) and any(isinstance(item, RICH) for item in value):
        return {"content": [content_block(name, item) for item in value], "isError": False}
    return text_result(as_json(value))


def content_block(name, item):
    """One item of a rich result as an MCP content block (anything unknown as JSON text)."""
    if isinstance(item, (bytes, bytearray)):
        item = sniffed(name, bytes(item))
    if isinstance(item, (Image, Audio)):
        kind = "image" if isinstance(item, Image) else "audio"
        return {"type": kind, "data": base64_text(item.data), "mimeType": item.mime_type}
    if isinstance(item, Resource):
        contents = {"uri": item.uri}
        if item.text is not None:
            contents.update(mimeType=item.mime_type or "text/plain", text=item.text)
        else:
            contents.update(mimeType=item.mime_type or "application/octet-stream", blob=base64_text(item.blob))
        return {"type": "resource", "resource": contents}
    return {"type": "text", "text": item if isinstance(item, str) else as_json(item)}


def base64_text(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def sniffed(name, data):
    """Raw bytes as what their signature says they are: an image, a WAV clip, or else an
    opaque blob under a URI naming the tool."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Image(data, "image/png")
    if data.startswith(b"\xff\xd8\xff"):
        return Image(data, "image/jpeg")
    if data.startswith((b"GIF87a", b"GIF89a")):
        return Image(data, "image/gif")
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return Image(data, "image/webp")
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return Audio(data, "audio/wav")
    return Resource(f"luna://{name}/result", blob=data, mime_type="application/octet-stream")


def system_prompts(tools):
    """The modules' `SYSTEM_PROMPT`s (what a model is told about their tools), one per module."""
    modules = {module.__name__: module for _, module in tools.values()}
    prompts = [getattr(module, "SYSTEM_PROMPT", None) for _, module in sorted(modules.items())]
    return "\n".join(prompt.strip() for prompt in prompts if isinstance(prompt, str) and prompt.strip())


def progress_token(params):
    """The token a call's caller wants its progress reported under, if any."""
    meta = params.get("_meta")
    return meta.get("progressToken") if isinstance(meta, dict) else None


def error_response(request_id, code, message):
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def serve(tools, extension_name):
    instructions = system_prompts(tools)
    listing = [describe(name, function, module) for name, (function, module) in tools.items()]
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="tool")
    client = Client()
    # The calls in flight, by request id, for cancellations to find. The stdin loop adds a call
    # before queueing it (so no cancellation misses it); the call's thread takes it out.
    calls = {}

    def call_response(params, context):
        name = params.get("name")
        arguments = params.get("arguments") or {}
        if name not in tools:
            return {"error": {"code": -32602, "message": f"unknown tool: {name}"}}
        if not isinstance(arguments, dict):
            return {"error": {"code": -32602, "message": "arguments must be an object"}}
        function = tools[name][0]
        context_name = context_parameter(function)
        if context_name is not None:
            arguments = {**arguments, context_name: context}
        return {"result": run_tool(name, function, arguments)}

    def answer_call(request_id, params, context):
        try:
            response = call_response(params, context)
        finally:
            calls.pop(request_id, None)
        # A Python thread cannot be stopped, but a call Luna cancelled (its caller went away)
        # gets no answer (MCP: a cancelled request gets none).
        if not context.cancelled:
            send({"jsonrpc": "2.0", "id": request_id, **response})

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            send(error_response(None, -32700, "parse error"))
            continue
        if not isinstance(message, dict):
            send(error_response(None, -32600, "invalid request: not a JSON object"))
            continue
        method, request_id = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if method is None:
            # A response: the client answers a request of a tool's Context.
            if request_id is not None:
                client.answered(message)
            continue
        if request_id is None:
            # Notifications need no answer.
            if method == "notifications/cancelled" and "requestId" in params:
                call = calls.get(params["requestId"])
                if call is not None:
                    client.cancel(call)
                print(f"call {params['requestId']} cancelled: {params.get('reason', 'no reason given')}", file=sys.stderr, flush=True)
            continue
        if method == "initialize":
            requested = params.get("protocolVersion")
            version = requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
            result = {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": False}, "logging": {}},
                "serverInfo": {"name": f"luna-tool-host:{extension_name}", "version": "1"},
            }
            if instructions:
                result["instructions"] = instructions
        elif method == "ping":
            result = {}
        elif method == "logging/setLevel":
            if params.get("level") not in LOG_LEVELS:
                send(error_response(request_id, -32602, f"unknown log level: {params.get('level')}"))
                continue
            client.log_level = params["level"]
            result = {}
        elif method == "tools/list":
            result = {"tools": listing}
        elif method == "tools/call":
            calls[request_id] = Context(client, progress_token(params))
            pool.submit(answer_call, request_id, params, calls[request_id])
            continue
        else:
            send(error_response(request_id, -32601, f"method not found: {method}"))
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
    # Tools write `from luna_tools import Context, Image, ...`: this very module (as
    # `__main__`), so their classes are the ones the host checks for.
    sys.modules["luna_tools"] = sys.modules[__name__]
    sys.path.insert(0, str(extension_dir / "tools"))
    sys.path.insert(0, str(extension_dir))
    serve(load_tools(extension_dir), extension_dir.name)


if __name__ == "__main__":
    main()
