#!/usr/bin/env python3
"""What Luna adds to an MCP server it passes through, release build: `resources/read` and
`prompts/get` p50/p99 against the same stdio server talked to directly, and the latency of a
server's notifications (server emit -> client receive), direct and through Luna.

    scripts/bench/mcp_passthrough.py [--requests 300] [--logs 200] [--quick]

The server is tests/fixtures/tools/everything_mcp_server.py (the official MCP Python SDK); the
client is the official SDK's `Client` (the pin in tests/mcp_clients/requirements.txt, from the
venv scripts/test-clients.sh makes), run in a process of its own, once per column:

- direct: the client spawns the server itself and talks to it over stdio (initialize handshake);
- through Luna: the same server is extension `everything` (`mcp_server.command` in its
  config.json, only `timestamped_logs` switched on for MCP), Luna in local mode runs it, and the
  client talks to `/api/mcp` over streamable HTTP, a 2025-11-25 session (`mode="legacy"`): client
  -> gateway (TCP, keep-alive) -> core API (Unix socket) -> Luna's pass-through -> server
  (stdio) and back.

Per request kind (`resources/read test://static-text`, `resources/read test://template/42/data`,
`prompts/get test_prompt_with_arguments` with arg1 and arg2): `--requests` sequential requests
after 20 warm-ups, each timed by the client from the call to its result. "Luna adds" is the
through-Luna percentile minus the direct one: Luna's overhead including the HTTP hop (the SDK's
HTTP transport and SSE parsing against its stdio transport). The measuring client is Python and
the same in both columns, so its own per-request cost (JSON-RPC framing, pydantic validation;
far more than Luna's share) is in both columns, and only cancels out in the difference.

Notification latency: after `logging/setLevel debug`, one `timestamped_logs(count=--logs)`
call (after a warm-up call of 20); the server sends that many `notifications/message` back to
back, each carrying `{"seq", "sent_ns": time.time_ns()}` read as it goes out, and the client
records, per message, `time.time_ns()` in its logging callback minus `sent_ns` (one machine,
one clock). The messages go out as a burst, so a later one also waits behind the ones before
it (in the server's writer, in Luna, in the client's parsing): the p99 is mostly that queue.

Luna is running (idle) during the direct run too; both runs share the machine the same way.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from common import ROOT, Luna, build_release, percentile

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "tools", "everything_mcp_server.py")
PYTHON = os.environ.get("LUNA_TEST_MCP_PYTHON") or os.path.join(ROOT, "target", "test-tools", "mcp-venv", "bin", "python")
WARMUP = 20
WARMUP_LOGS = 20
ARGUMENTS = {"arg1": "first", "arg2": "second"}
# label, what the client calls, a check of the answer (once, before the warm-up).
KINDS = [
    ("resources/read test://static-text", "read_resource", ("test://static-text",),
     lambda result: "static text resource" in result.contents[0].text),
    ("resources/read test://template/42/data", "read_resource", ("test://template/42/data",),
     lambda result: json.loads(result.contents[0].text)["id"] == "42"),
    ("prompts/get test_prompt_with_arguments", "get_prompt", ("test_prompt_with_arguments", ARGUMENTS),
     lambda result: result.messages[0].content.text == "Prompt with arguments: arg1='first', arg2='second'"),
]

parser = argparse.ArgumentParser()
parser.add_argument("--requests", type=int, default=300, help="timed requests per kind")
parser.add_argument("--logs", type=int, default=200, help="log messages in the timed burst")
parser.add_argument("--quick", action="store_true", help="50 requests per kind: a smoke check")
parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: run the measuring client against stdio|URL
args = parser.parse_args()
requests = 50 if args.quick else args.requests


# --- the measuring client (runs in the SDK's venv, one process per column) -----------------
def client(target):
    """Measure against `target` ("stdio": spawn the fixture; else a URL); print one JSON line:
    {kind label: [ms, ...], "notifications": [ms, ...]}."""
    import warnings

    # This folder's mcp.py (the other MCP benchmark) would shadow the SDK's package.
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [path for path in sys.path if os.path.realpath(path or ".") != here]
    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters
    from mcp.shared.exceptions import MCPDeprecationWarning
    from mcp_types import Implementation

    # logging/setLevel is deprecated as of 2026-07-28; a 2025-11-25 session is what is measured.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

    class Burst:
        expected = 0
        received = []  # (time_ns at receipt, data)
        complete = None

    async def on_log(params):
        Burst.received.append((time.time_ns(), params.data))
        if len(Burst.received) >= Burst.expected:
            Burst.complete.set()

    async def burst(session, count):
        Burst.expected, Burst.received, Burst.complete = count, [], anyio.Event()
        result = await session.call_tool("timestamped_logs", {"count": count})
        if result.is_error or result.content[0].text != "sent":
            raise SystemExit(f"timestamped_logs answered {result}")
        with anyio.move_on_after(10):  # they normally arrive before the result
            await Burst.complete.wait()
        seqs = [data["seq"] for _, data in Burst.received]
        if sorted(seqs) != list(range(count)):
            raise SystemExit(f"{count} log messages sent, {len(seqs)} received: {seqs[:20]}...")
        return [(received - data["sent_ns"]) / 1e6 for received, data in Burst.received]

    server = StdioServerParameters(command=sys.executable, args=[FIXTURE]) if target == "stdio" else target

    async def run():
        results = {}
        async with Client(server, mode="legacy", cache=None, read_timeout_seconds=30, logging_callback=on_log,
                          client_info=Implementation(name="luna-bench", version="1")) as session:
            for label, method, call_args, check in KINDS:
                request = getattr(session, method)
                answer = await request(*call_args)
                if not check(answer):
                    raise SystemExit(f"{label}: unexpected answer {answer}")
                durations = []
                for index in range(WARMUP + requests):
                    started = time.perf_counter()
                    await request(*call_args)
                    if index >= WARMUP:
                        durations.append((time.perf_counter() - started) * 1000)
                results[label] = durations
            await session.set_logging_level("debug")
            await burst(session, WARMUP_LOGS)
            results["notifications"] = await burst(session, args.logs)
        return results

    print(json.dumps(anyio.run(run)), flush=True)


if args.client:
    client(args.client)
    sys.exit(0)


def measure(target, luna):
    """The client's figures against `target`, from a process of its own."""
    try:
        run = subprocess.run([PYTHON, os.path.abspath(__file__), "--client", target, "--requests", str(requests),
                              "--logs", str(args.logs)], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the client
        raise SystemExit(f"the {target} client did not finish within 600 s; see {luna.home}/luna.log")
    if run.returncode != 0:
        raise SystemExit(f"the {target} client failed ({run.returncode}):\n{run.stdout[-2000:]}{run.stderr[-3000:]}"
                         f"\nsee {luna.home}/luna.log and {luna.home}/.luna/logs/everything_tools.log")
    return json.loads(run.stdout.strip().splitlines()[-1])


if not os.path.exists(PYTHON):
    raise SystemExit(f"{PYTHON} is missing: scripts/test-clients.sh installs the MCP SDK there")
build_release()

# --- Luna with the fixture as extension `everything` --------------------------------------
luna = Luna()
extension = os.path.join(luna.home, "extensions", "everything")
os.makedirs(os.path.join(extension, "tools"))
with open(FIXTURE) as source, open(os.path.join(extension, "server.py"), "w") as file:
    file.write(source.read())
with open(os.path.join(extension, "config.json"), "w") as file:
    json.dump({"name": "everything", "version": "1", "mcp_server": {"command": [PYTHON, "server.py"]}}, file)
with open(os.path.join(extension, "tools", "tool_config.json"), "w") as file:
    json.dump({"timestamped_logs": {"enabled_in_mcp": True}}, file)

version = subprocess.run([luna.binary, "--version"], capture_output=True, text=True).stdout.strip()
commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty", "--abbrev=12"],
                        capture_output=True, text=True).stdout.strip()
try:
    luna.start_or_exit()
    deadline = time.time() + 60
    while luna.get("/api/supervisor/services")["services"].get("everything_tools", {}).get("status") != "running":
        if time.time() > deadline or luna.process.poll() is not None:
            raise SystemExit(f"the everything MCP server did not start; see {luna.home}/luna.log")
        time.sleep(0.05)
    direct = measure("stdio", luna)
    through = measure(f"http://127.0.0.1:{luna.port}/api/mcp", luna)
    rss = luna.rss_kib() / 1024
finally:
    if luna.process:
        luna.stop()

print(f"MCP pass-through, official Python SDK client, {requests} sequential requests per kind after {WARMUP} "
      f"warm-ups.\ndirect = stdio to the server; Luna = streamable HTTP to /api/mcp (2025-11-25 session), Luna "
      f"to the same server over stdio.\n\"Luna adds\" = Luna minus direct: Luna's overhead including the HTTP "
      f"hop (the Python client's own cost is in both columns).\n")
print("| request | direct p50 ms | direct p99 ms | Luna p50 ms | Luna p99 ms | Luna adds p50 ms | Luna adds p99 ms |")
print("|---|---:|---:|---:|---:|---:|---:|")
rows = [label for label, *_ in KINDS] + ["notifications"]
for label in rows:
    d50, d99 = percentile(direct[label], 0.5), percentile(direct[label], 0.99)
    l50, l99 = percentile(through[label], 0.5), percentile(through[label], 0.99)
    name = f"notification, server emit -> client receive ({args.logs} in a burst)" if label == "notifications" else label
    print(f"| {name} | {d50:.2f} | {d99:.2f} | {l50:.2f} | {l99:.2f} | {l50 - d50:+.2f} | {l99 - d99:+.2f} |")
# The tree's commit says what build_release built; another binary is its own.
built = "" if os.environ.get("LUNA_BENCH_BINARY") else f", built from {commit or '?'}"
print(f"\n{version or 'luna (no --version)'}{built}; luna RSS after the run: {rss:.1f} MiB")
binary = f"LUNA_BENCH_BINARY={os.environ['LUNA_BENCH_BINARY']} " if os.environ.get("LUNA_BENCH_BINARY") else ""
print(f"command: {binary}scripts/bench/mcp_passthrough.py {' '.join(sys.argv[1:])}".rstrip())
