#!/usr/bin/env python3
"""Minimal MCP client used by Luna's integration tests (official `mcp` Python SDK 2.3.x only).

    client.py --url URL [--bearer TOKEN] [--protocol 2025-11-25|2026-07-28] [--timeout S] COMMAND ...

Commands (each prints ONE JSON object as the last stdout line):
    list                 {"protocol_version", "server_name", "tools": [{"name", "description", "inputSchema"}]}
                         (+ "discover_error" when a 2026-07-28 server/discover failed; server_name is then null)
    call NAME ARGS_JSON  {"isError", "content": [...], "structuredContent"}  or  {"jsonrpc_error": {"code", "message"}}
                         (--progress: asks for progress too, adding "progress": [{"progress", "total", "message"}];
                          --cancel-on-progress: cancels the call at its first report, printing {"cancelled": bool};
                          --log-level L: sends logging/setLevel first, adding "logs": [{"level", "data"}];
                          --sample TEXT: declares sampling and answers every request with TEXT;
                          --elicit JSON: declares elicitation and accepts with JSON as its content;
                          both add "requests": [{"method", "params"}], what the server asked)
    resources            {"resources": [{"uri", "name", "mimeType"}], "templates": [{"uriTemplate", "name"}]}
    read URI             {"contents": [...]}  or  {"jsonrpc_error": ...}
    prompts              {"prompts": [{"name", "description", "arguments"}]}
    prompt NAME ARGS     {"messages": [...]}  or  {"jsonrpc_error": ...}
    complete PROMPT ARG VALUE  {"values": [...]}
    subscribe URI TOOL ARGS_JSON  (2025-11-25 only) subscribes, calls TOOL, waits up to 10 s for
                         notifications/resources/updated: {"updated": [uri, ...], "result": {...}}
    watch                (2025-11-25 only) {"ready": true, "tools": [...]} then {"changed": true, "tools": [...]}
                         or {"changed": false} (exit 3) after 30 s without notifications/tools/list_changed
                         (--list prompts|resources: that list instead, its names or URIs under its own key)
Exit codes: 0 = MCP exchange happened (tool errors and JSON-RPC errors included);
            1 = HTTP/connection failure, printed as {"http_status": int|null, "error": str}; 2 = usage; 3 = watch timeout.

Protocol selection (mcp.Client `mode=`):
    2025-11-25 -> mode="legacy": initialize + notifications/initialized, Mcp-Session-Id, GET SSE stream.
    2026-07-28 -> mode="2026-07-28": no handshake at all; every POST carries `_meta` (protocolVersion,
                  clientInfo, clientCapabilities) plus MCP-Protocol-Version / Mcp-Method / Mcp-Name headers.
                  We then send one optional `server/discover` only to learn the server name.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
import httpx2  # the SDK's HTTP client (a fork of httpx), installed as a dependency of `mcp`
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, INVALID_REQUEST, PARSE_ERROR, REQUEST_TIMEOUT

if sys.version_info < (3, 11):  # builtin from 3.11; anyio pulls in the backport on 3.10
    from exceptiongroup import BaseExceptionGroup

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
AUTH_STATUSES = (401, 403)


class HttpFailure(Exception):
    def __init__(self, status: int | None, message: str):
        super().__init__(message)
        self.status = status


class HttpRecorder:
    """httpx2 response hook remembering the last HTTP error status.

    The SDK never exposes HTTP statuses: a non-2xx answer to a POST becomes a synthetic JSON-RPC
    error (code -32603 "Server returned an error response", or -32601 "Not Found" for a 404 before a
    session exists), unless the body itself is a JSON-RPC error, which is passed through unchanged
    (2026-07-28 servers answer e.g. METHOD_NOT_FOUND with HTTP 404 + JSON-RPC body). So we look
    at every response ourselves to tell "HTTP failure" from "the server answered with a JSON-RPC error".
    """

    def __init__(self) -> None:
        self.status: int | None = None  # last status >= 400 seen on a POST
        self.jsonrpc_body = False  # ... and whether its body was a JSON-RPC error object
        self.get_status: int | None = None  # status of the last GET (the 2025-11-25 SSE stream)
        self.get_answered = anyio.Event()

    async def __call__(self, response: httpx2.Response) -> None:
        if response.request.method == "GET":
            self.get_status = response.status_code
            self.get_answered.set()
        if response.request.method != "POST":
            return
        # Our commands send one request at a time, so "the last POST" is the one an error belongs to.
        self.status, self.jsonrpc_body = (response.status_code if response.status_code >= 400 else None), False
        if self.status is None:
            return
        if response.headers.get("content-type", "").lower().startswith("application/json"):
            await response.aread()  # cached on the response; the SDK's own aread() gets the same bytes
            try:
                body = json.loads(response.content)
                self.jsonrpc_body = isinstance(body, dict) and isinstance(body.get("error"), dict)
            except ValueError:
                pass

    def classify(self, exc: MCPError) -> dict[str, Any]:
        """JSON-RPC error result, or raise HttpFailure if it really was an HTTP-level rejection."""
        status = self.status
        if status is not None and (status in AUTH_STATUSES or not self.jsonrpc_body):
            raise HttpFailure(status, f"HTTP {status}: {exc.message}")
        if status is None and is_sdk_synthesized(exc):
            raise HttpFailure(None, f"{exc.message} (code {exc.code})")
        out: dict[str, Any] = {"jsonrpc_error": {"code": exc.code, "message": exc.message}}
        if status is not None:
            out["http_status"] = status  # informational: JSON-RPC error delivered with a non-2xx status
        return out


# Errors the streamable-HTTP transport/dispatcher makes up itself when no real answer arrived. They
# reuse codes a server may send too (-32000 etc.), so they are recognised by the SDK's exact wording.
SDK_SYNTHESIZED = (
    (REQUEST_TIMEOUT, "Request "),  # "Request 'tools/call' timed out" (our --timeout)
    (CONNECTION_CLOSED, "Connection closed"),
    (CONNECTION_CLOSED, "SSE stream "),  # "... ended without a response", "... failed: ..."
    (INVALID_REQUEST, "server answered a request with 202"),
    (INVALID_REQUEST, "Unexpected content type"),
    (INVALID_REQUEST, "Redirect to "),
    (PARSE_ERROR, "Failed to parse "),
)


def is_sdk_synthesized(exc: MCPError) -> bool:
    return any(exc.code == code and exc.message.startswith(prefix) for code, prefix in SDK_SYNTHESIZED)


def tool_json(tool: types.Tool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema}


async def all_tools(client: Client) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


def dumped(items: Any) -> list[Any]:
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in items]


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


async def run(args: argparse.Namespace, rec: HttpRecorder) -> int:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {args.bearer}"} if args.bearer else None,
        timeout=httpx2.Timeout(30.0, read=300.0),  # the SDK's defaults (create_mcp_http_client)
        event_hooks={"response": [rec]},
    )
    list_changed = anyio.Event()
    args.updated, args.logs, args.requests = [], [], []
    args.got_update = anyio.Event()

    async def on_message(msg: Any) -> None:
        # Receives server notifications (and transport exceptions) that are not responses.
        method = getattr(msg, "method", None)
        if method == f"notifications/{getattr(args, 'list', 'tools')}/list_changed":
            list_changed.set()
        if method == "notifications/resources/updated":
            args.updated.append(msg.params.uri)
            args.got_update.set()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        args.logs.append({"level": params.level, "data": params.data})

    async def on_sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        args.requests.append({"method": "sampling/createMessage", "params": params.model_dump(mode="json", by_alias=True, exclude_none=True)})
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=args.sample), model="test-model", stop_reason="endTurn")

    async def on_elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        args.requests.append({"method": "elicitation/create", "params": params.model_dump(mode="json", by_alias=True, exclude_none=True)})
        return types.ElicitResult(action="accept", content=json.loads(args.elicit))

    client = Client(
        # A URL string would make Client build its own httpx2 client; we pass the transport to add headers/hooks.
        streamable_http_client(args.url, http_client=http),
        mode="legacy" if args.protocol == LEGACY else args.protocol,
        read_timeout_seconds=args.timeout,
        message_handler=on_message,
        logging_callback=on_log,
        log_level=getattr(args, "log_level", None) if args.protocol == MODERN else None,
        # A callback declares the capability: only the ones asked for.
        sampling_callback=on_sampling if getattr(args, "sample", None) is not None else None,
        elicitation_callback=on_elicitation if getattr(args, "elicit", None) is not None else None,
        cache=None,  # the default response cache could answer a re-list locally; always hit the server
        client_info=types.Implementation(name="luna-test-client", version="1.0"),
    )
    async with http:
        # legacy: initialize + notifications/initialized happen on entry (an error there reaches
        # main() wrapped in an ExceptionGroup); 2026-07-28: entering sends nothing.
        async with client:
            try:
                return await command(args, client, rec, list_changed)
            except MCPError as e:
                emit(rec.classify(e))  # raises HttpFailure for HTTP rejections
                return 0
        # (leaving `async with client` DELETEs the 2025-11-25 session)


async def server_name(client: Client, rec: HttpRecorder) -> tuple[str | None, str | None]:
    """(server name or None, why server/discover failed or None)."""
    if client.protocol_version != MODERN:
        info = client.server_info  # from InitializeResult.serverInfo
        return (info.name if info else None), None
    # mode="2026-07-28" adopted a synthesized DiscoverResult without asking the server, so
    # server_info is None. Ask once; a server without server/discover is fine (name = null).
    try:
        raw = await client.session.send_discover(MODERN)
        result = types.DiscoverResult.model_validate(raw)
    except MCPError as e:
        if rec.status in AUTH_STATUSES:
            rec.classify(e)  # raises HttpFailure: a 401/403 is fatal, any other discover failure is not
        return None, f"{e.code}: {e.message}" + (f" (HTTP {rec.status})" if rec.status else "")
    except ValueError as e:  # pydantic ValidationError: not a valid 2026-07-28 DiscoverResult
        return None, f"invalid DiscoverResult: {e}"
    if MODERN in result.supported_versions:
        client.session.adopt(result)  # installs the real capabilities + `_meta` serverInfo stamp
    info = client.server_info
    return (info.name if info else None), None


async def command(args: argparse.Namespace, client: Client, rec: HttpRecorder, list_changed: anyio.Event) -> int:
    if args.command == "list":
        name, discover_error = await server_name(client, rec)
        tools = await all_tools(client)
        out = {"protocol_version": client.protocol_version, "server_name": name, "tools": [tool_json(t) for t in tools]}
        if discover_error:
            out["discover_error"] = discover_error  # diagnostic only (2026-07-28 without a usable server/discover)
        emit(out)
        return 0

    if args.command == "call":
        reports: list[dict[str, Any]] = []

        first_report = anyio.Event()

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            reports.append({"progress": progress, "total": total, "message": message})
            first_report.set()

        callback = on_progress if args.progress or args.cancel_on_progress else None
        if args.log_level and client.protocol_version == LEGACY:
            await client.set_logging_level(args.log_level)  # 2026-07-28: `log_level` in every request's _meta
        if args.cancel_on_progress:
            # Cancelling the call's scope makes the SDK send notifications/cancelled.
            async with anyio.create_task_group() as calls:
                calls.start_soon(client.call_tool, args.name, args.arguments, None, callback)
                with anyio.move_on_after(30):
                    await first_report.wait()
                calls.cancel_scope.cancel()
            emit({"cancelled": first_report.is_set()})
            return 0
        result = await client.call_tool(args.name, args.arguments, progress_callback=callback)
        out: dict[str, Any] = {
            "isError": bool(result.is_error),
            "content": dumped(result.content),
            "structuredContent": result.structured_content,
        }
        if args.progress:
            out["progress"] = reports
        if args.log_level:
            out["logs"] = args.logs
        if args.sample is not None or args.elicit is not None:
            out["requests"] = args.requests
        emit(out)
        return 0

    if args.command == "resources":
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        emit({"resources": dumped(resources), "templates": dumped(templates)})
        return 0

    if args.command == "read":
        emit({"contents": dumped((await client.read_resource(args.uri)).contents)})
        return 0

    if args.command == "prompts":
        emit({"prompts": dumped((await client.list_prompts()).prompts)})
        return 0

    if args.command == "prompt":
        emit({"messages": dumped((await client.get_prompt(args.name, args.arguments)).messages)})
        return 0

    if args.command == "complete":
        reference = types.PromptReference(type="ref/prompt", name=args.prompt)
        completion = await client.complete(reference, {"name": args.argument, "value": args.value})
        emit({"values": completion.completion.values})
        return 0

    if args.command == "subscribe":
        await client.subscribe_resource(args.uri)
        result = await client.call_tool(args.name, args.arguments)
        with anyio.move_on_after(10):
            await args.got_update.wait()
        emit({"updated": args.updated, "result": {"isError": bool(result.is_error), "content": dumped(result.content)}})
        return 0

    # watch: the transport opens the GET SSE stream in the background right after
    # notifications/initialized; wait (bounded) for its response headers so that a change made
    # right after "ready" cannot be missed because the stream was not registered yet.
    async def names() -> list[str]:
        if args.list == "prompts":
            return [prompt.name for prompt in (await client.list_prompts()).prompts]
        if args.list == "resources":
            return [resource.uri for resource in (await client.list_resources()).resources]
        return [t.name for t in await all_tools(client)]

    listed = await names()
    with anyio.move_on_after(5):
        await rec.get_answered.wait()
    emit({"ready": True, args.list: listed})
    with anyio.move_on_after(args.wait):
        await list_changed.wait()
    if not list_changed.is_set():
        out: dict[str, Any] = {"changed": False}
        if rec.get_status is not None and rec.get_status >= 400:
            out["get_stream_status"] = rec.get_status  # e.g. 405: server offers no GET stream
        emit(out)
        return 3
    emit({"changed": True, args.list: await names()})
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--bearer")
    p.add_argument("--protocol", choices=[LEGACY, MODERN], default=LEGACY)
    p.add_argument("--timeout", type=float, default=30.0, help="per-request read timeout (s)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    c = sub.add_parser("call")
    c.add_argument("name")
    c.add_argument("args_json", nargs="?", default="{}")
    c.add_argument("--progress", action="store_true", help="ask for progress notifications")
    c.add_argument("--log-level", help="logging/setLevel before the call; record log messages")
    c.add_argument("--cancel-on-progress", action="store_true", help="cancel the call at its first progress report")
    c.add_argument("--sample", help="answer sampling requests with this text")
    c.add_argument("--elicit", help="accept elicitation requests with this JSON content")
    sub.add_parser("resources")
    r = sub.add_parser("read")
    r.add_argument("uri")
    sub.add_parser("prompts")
    g = sub.add_parser("prompt")
    g.add_argument("name")
    g.add_argument("args_json", nargs="?", default="{}")
    m = sub.add_parser("complete")
    m.add_argument("prompt")
    m.add_argument("argument")
    m.add_argument("value")
    s = sub.add_parser("subscribe")
    s.add_argument("uri")
    s.add_argument("name")
    s.add_argument("args_json", nargs="?", default="{}")
    w = sub.add_parser("watch")
    w.add_argument("--wait", type=float, default=30.0, help="max seconds to wait for list_changed")
    w.add_argument("--list", choices=["tools", "prompts", "resources"], default="tools", help="the list to watch")
    args = p.parse_args()
    if args.command == "watch" and args.protocol != LEGACY:
        emit({"http_status": None, "error": "watch needs --protocol 2025-11-25 (GET SSE stream)"})
        return 2
    if args.command in ("call", "prompt", "subscribe"):
        try:
            args.arguments = json.loads(args.args_json)
        except ValueError:
            args.arguments = None
        if not isinstance(args.arguments, dict):
            emit({"http_status": None, "error": f"ARGS_JSON must be a JSON object, got {args.args_json!r}"})
            return 2

    rec = HttpRecorder()
    try:
        return anyio.run(run, args, rec)
    except Exception as e:  # anyio task groups may wrap errors in (nested) ExceptionGroups
        leaves = [e]
        while any(isinstance(x, BaseExceptionGroup) for x in leaves):
            leaves = [y for x in leaves for y in (x.exceptions if isinstance(x, BaseExceptionGroup) else [x])]
        for x in leaves:
            if isinstance(x, HttpFailure):
                emit({"http_status": x.status, "error": str(x)})
                return 1
            if isinstance(x, MCPError):  # e.g. initialize rejected; surfaces wrapped in an ExceptionGroup
                try:
                    emit(rec.classify(x))
                    return 0
                except HttpFailure as h:
                    emit({"http_status": h.status, "error": str(h)})
                    return 1
        # connection refused, timeouts, results the SDK rejects (e.g. structuredContent vs outputSchema), ...
        emit({"http_status": rec.status, "error": "; ".join(f"{type(x).__name__}: {x}" for x in leaves)})
    return 1


if __name__ == "__main__":
    sys.exit(main())
