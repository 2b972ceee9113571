#!/usr/bin/env python3
"""MCP through the gateway, release build: latency of a trivial tool call (p50/p99), both
protocols, and `tools/list` with 500 tools.

    scripts/bench/mcp.py [--calls 2000] [--lists 200]

One extension serves 500 Luna-style Python tools through Luna's Python tool host; requests
go client -> gateway (TCP, keep-alive) -> core API (Unix socket) -> rmcp -> tool registry
-> tool host (stdio) and back. The client is Python's http.client on one connection, so
the figures include its own per-request cost (~0.1 ms).
"""

import argparse
import http.client
import json
import os
import time

from common import Luna, build_release, percentile

parser = argparse.ArgumentParser()
parser.add_argument("--calls", type=int, default=2000)
parser.add_argument("--lists", type=int, default=200)
parser.add_argument("--tools", type=int, default=500)
args = parser.parse_args()
build_release()

# --- an extension with `--tools` tools ----------------------------------------------------
luna = Luna()
tools_dir = os.path.join(luna.home, "extensions", "bench", "tools")
os.makedirs(tools_dir)
with open(os.path.join(luna.home, "extensions", "bench", "config.json"), "w") as file:
    json.dump({"name": "bench", "version": "1"}, file)
names = ["BENCH_GET_ping"] + [f"BENCH_GET_tool{i:03}" for i in range(1, args.tools)]
with open(os.path.join(tools_dir, "bench_tools.py"), "w") as file:
    file.write("def BENCH_GET_ping():\n    \"\"\"Answer pong.\"\"\"\n    return (True, 'pong')\n\n")
    for name in names[1:]:
        file.write(f"def {name}(city: str, days: int = 3):\n    \"\"\"Forecast for a city.\"\"\"\n    return (True, city)\n\n")
    file.write(f"TOOLS = [{', '.join(names)}]\n")
with open(os.path.join(tools_dir, "tool_config.json"), "w") as file:
    json.dump({name: {"enabled_in_mcp": True, "passthrough": False} for name in names}, file)

luna.start()
deadline = time.time() + 60
while luna.get("/api/supervisor/services")["services"].get("bench_tools", {}).get("status") != "running":
    assert time.time() < deadline, "the tool host did not start"
    time.sleep(0.05)

connection = http.client.HTTPConnection("127.0.0.1", luna.port, timeout=30)
host = f"127.0.0.1:{luna.port}"
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def post(message, headers):
    body = json.dumps(message).encode()
    connection.request("POST", "/api/mcp", body, {
        "Host": host, "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers,
    })
    response = connection.getresponse()
    data = response.read()
    assert response.status == 200, (response.status, data[:300])
    text = data.decode()
    if text.startswith("{"):
        return json.loads(text), response
    # An SSE answer: the JSON-RPC response is the last `data:` line.
    events = [line[5:].strip() for line in text.splitlines() if line.startswith("data:") and line[5:].strip()]
    return json.loads(events[-1]), response


def stateless(method, params):
    params = dict(params, _meta=META)
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
    if "name" in params:
        headers["Mcp-Name"] = params["name"]
    return post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, headers)[0]


def timed(count, request):
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        request()
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def report(label, durations):
    print(f"{label:<44} n={len(durations):<5} p50 {percentile(durations, 0.5):7.2f} ms   "
          f"p99 {percentile(durations, 0.99):7.2f} ms   max {max(durations):7.2f} ms")


# --- 2026-07-28 (stateless) ---------------------------------------------------------------
call = {"name": "BENCH_GET_ping", "arguments": {}}
assert stateless("tools/call", call)["result"]["content"][0]["text"] == "pong"
for _ in range(100):  # warm-up
    stateless("tools/call", call)
report("tools/call, 2026-07-28 (stateless)", timed(args.calls, lambda: stateless("tools/call", call)))
listed = stateless("tools/list", {})["result"]["tools"]
assert len(listed) == args.tools, len(listed)
list_bytes = len(json.dumps(listed))
report(f"tools/list, {args.tools} tools, 2026-07-28", timed(args.lists, lambda: stateless("tools/list", {})))

# --- 2025-11-25 (session) -----------------------------------------------------------------
init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}
_, response = post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}, {})
session = {"Mcp-Session-Id": response.getheader("Mcp-Session-Id"), "MCP-Protocol-Version": "2025-11-25"}
connection.request("POST", "/api/mcp", json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(), {
    "Host": host, "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **session})
connection.getresponse().read()
ids = iter(range(1, 10**9))
session_call = lambda: post({"jsonrpc": "2.0", "id": next(ids), "method": "tools/call", "params": call}, session)
session_list = lambda: post({"jsonrpc": "2.0", "id": next(ids), "method": "tools/list", "params": {}}, session)
for _ in range(100):
    session_call()
report("tools/call, 2025-11-25 (session)", timed(args.calls, session_call))
report(f"tools/list, {args.tools} tools, 2025-11-25", timed(args.lists, session_list))
print(f"tools/list answer: {list_bytes / 1024:.0f} KiB of tool definitions; luna RSS {luna.rss_kib() / 1024:.1f} MiB")
luna.stop()
